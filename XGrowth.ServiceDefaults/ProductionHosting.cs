using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What a service needs behind a container platform: the client's address and scheme from the platform's proxy (and
/// from no one else), and a stop that finishes within the platform's grace period.
/// </summary>
public static class ProductionHosting
{
    public const string ForwardedHeadersSection = "ForwardedHeaders";

    /// <summary>Below the 30 s that Kubernetes and Azure Container Apps wait after SIGTERM before they kill a process.</summary>
    public static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(25);

    public static TBuilder AddProductionHosting<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // HostOptions:ShutdownTimeout: how long hosted services (the worker's publishing, requests in flight) may take
        // to stop once SIGTERM arrives.
        builder.Services.AddOptions<HostOptions>()
            .Configure(options => options.ShutdownTimeout = DefaultShutdownTimeout)
            .BindConfiguration("HostOptions")
            .Validate(options => options.ShutdownTimeout > TimeSpan.Zero && options.ShutdownTimeout <= TimeSpan.FromMinutes(10),
                "HostOptions:ShutdownTimeout must be more than 0 and at most 00:10:00.")
            .ValidateOnStart();

        builder.Services.AddOptions<TrustedProxies>().BindConfiguration(ForwardedHeadersSection)
            .Validate(proxies => proxies.Problem() is null, $"{ForwardedHeadersSection}:KnownNetworks must list IP addresses or CIDR networks (10.0.0.0/8, fd00::/8), comma- or space-separated.")
            .ValidateOnStart();
        // Also when ASPNETCORE_FORWARDEDHEADERS_ENABLED (which Aspire sets on every project) has made ASP.NET Core
        // believe any sender: PostConfigure runs after its setup and puts the trust back to the configured proxies.
        builder.Services.AddOptions<ForwardedHeadersOptions>().PostConfigure<IOptions<TrustedProxies>>((forwarded, proxies) =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            // A chain of trusted proxies is followed back to the first address none of them vouches for; a client's own
            // X-Forwarded-For entries are never reached through an untrusted hop.
            forwarded.ForwardLimit = null;
            forwarded.KnownIPNetworks.Clear();
            forwarded.KnownProxies.Clear();
            foreach (var network in proxies.Value.Networks())
            {
                forwarded.KnownIPNetworks.Add(network);
            }
        });
        builder.Services.AddTransient<IStartupFilter, ForwardedHeadersFirst>();
        return builder;
    }

    /// <summary>The <c>ForwardedHeaders</c> settings: which proxies' <c>X-Forwarded-*</c> headers are believed.</summary>
    public sealed class TrustedProxies
    {
        /// <summary>Addresses or CIDR networks, comma- or space-separated. Empty: loopback only (a proxy on the same host).</summary>
        public string? KnownNetworks { get; set; }

        private static readonly System.Net.IPNetwork[] Loopback = [System.Net.IPNetwork.Parse("127.0.0.0/8"), System.Net.IPNetwork.Parse("::1/128")];

        public IReadOnlyList<System.Net.IPNetwork> Networks()
        {
            var entries = Entries();
            return entries.Length == 0 ? Loopback : [.. entries.Select(ParseEntry)];
        }

        /// <summary>The first entry that is neither an address nor a network, or null.</summary>
        public string? Problem() => Entries().FirstOrDefault(entry => !TryParseEntry(entry, out _));

        private string[] Entries() =>
            (KnownNetworks ?? "").Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        private static System.Net.IPNetwork ParseEntry(string entry) =>
            TryParseEntry(entry, out var network) ? network : throw new FormatException($"'{entry}' is not an address or a network.");

        private static bool TryParseEntry(string entry, out System.Net.IPNetwork network)
        {
            if (System.Net.IPNetwork.TryParse(entry, out network))
            {
                return true;
            }

            if (IPAddress.TryParse(entry, out var address))
            {
                network = new System.Net.IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
                return true;
            }

            return false;
        }
    }

    /// <summary>
    /// Reads <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> before anything else looks at the request (logging,
    /// rate limits, authentication), unless ASP.NET Core already does so itself (ASPNETCORE_FORWARDEDHEADERS_ENABLED).
    /// </summary>
    private sealed class ForwardedHeadersFirst(IConfiguration configuration) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            if (!string.Equals(configuration["ForwardedHeaders_Enabled"], "true", StringComparison.OrdinalIgnoreCase))
            {
                app.UseForwardedHeaders();
            }

            next(app);
        };
    }
}
