using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using XGrowth.DevStandIns.Clerk;
using XGrowth.DevStandIns.X;

namespace XGrowth.DevStandIns;

/// <summary>The stand-ins' services and endpoints: the same whether the AppHost runs them or a test starts them in process.</summary>
public static class StandInsApp
{
    /// <summary>The client the stand-ins call the API with (webhooks, the frontend's part of connecting).</summary>
    public const string OutgoingHttpClient = "api";

    public static WebApplicationBuilder AddDevStandIns(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<StandInsOptions>().BindConfiguration(StandInsOptions.Section);
        builder.Services.AddSingleton<ClerkStandIn>();
        builder.Services.AddSingleton<XStandIn>();
        builder.Services.AddHttpClient(StandInsApp.OutgoingHttpClient);
        return builder;
    }

    public static WebApplication MapDevStandIns(this WebApplication app)
    {
        app.MapClerkStandIn();
        app.MapXStandIn();
        app.MapGet("/", (ClerkStandIn clerk, XStandIn x) => Results.Json(new
        {
            description = "XGrowth's local stand-ins for Clerk and X (Development only). See README, 'Five minutes, no Clerk, no X'.",
            clerk = new { issuer = clerk.Issuer, jwks = clerk.JwksUrl, tokens = $"POST {clerk.Issuer}/tokens", webhooks = $"POST {clerk.Issuer}/webhooks" },
            x = new { api = x.BaseUrl, authorize = x.AuthorizeUrl, posts = x.BaseUrl + "/" },
        }));
        return app;
    }

    /// <summary>Whether every address the server listens on is a loopback one: nothing off this machine can reach it.</summary>
    public static bool ListensOnLoopbackOnly(IServer server)
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        return addresses.All(address =>
        {
            var host = new Uri(address.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal)).Host;
            return host == "localhost" || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
        });
    }
}

/// <summary>The stand-ins started in this process on a free loopback port, for tests and benchmarks.</summary>
public sealed class StandInsServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private StandInsServer(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public ClerkStandIn Clerk => _app.Services.GetRequiredService<ClerkStandIn>();

    public XStandIn X => _app.Services.GetRequiredService<XStandIn>();

    /// <param name="configure">The stand-ins' settings.</param>
    /// <param name="services">Changes to their services (a test can hand the webhook client an in-memory API's handler).</param>
    public static async Task<StandInsServer> StartAsync(Action<StandInsOptions>? configure = null, Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.AddDevStandIns();
        if (configure is not null)
        {
            builder.Services.Configure(configure);
        }

        services?.Invoke(builder.Services);

        var app = builder.Build();
        app.MapDevStandIns();
        await app.StartAsync();
        var baseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        // The port is known only now; the stand-ins read their base URL when they need it.
        app.Services.GetRequiredService<IOptions<StandInsOptions>>().Value.BaseUrl = baseUrl;
        return new StandInsServer(app, baseUrl);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
