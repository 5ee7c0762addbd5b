extern alias worker;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;

namespace XGrowth.Tests.Infrastructure;

/// <summary>A real worker, in process, on the API factory's database and X stand-in: one per "replica".</summary>
/// <param name="configure">Applied last: a test's own environment, settings or services.</param>
public sealed class WorkerFactory(ApiFactory api, string? xApiBaseUrl = null, int? leaseSeconds = null, Action<IWebHostBuilder>? configure = null)
    : WebApplicationFactory<worker::Program>
{
    public CapturingLoggerProvider Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.ConfigureLogging(logging => logging.AddProvider(Logs));
        builder.UseSetting("ConnectionStrings:xgrowth", api.ConnectionString);
        builder.UseSetting("X:ClientId", ApiFactory.XClientId);
        builder.UseSetting("X:ClientSecret", ApiFactory.XClientSecret);
        builder.UseSetting("X:RedirectUri", ApiFactory.XRedirectUri);
        builder.UseSetting("X:ApiBaseUrl", xApiBaseUrl ?? api.X.BaseUrl);
        builder.UseSetting("PostPublishing:PollInterval", "00:00:00.200");
        builder.UseSetting("PostPublishing:FirstRetryDelay", "00:00:30");
        builder.UseSetting("PostPublishing:RequestTimeout", "00:00:01");
        // Analytics collection reads X for every connected account; the tests of other features would count its
        // requests and refreshes as theirs. Analytics tests turn it on.
        builder.UseSetting("Analytics:Enabled", "false");
        builder.UseSetting("Analytics:PollInterval", "00:00:00.200");
        if (leaseSeconds is { } lease)
        {
            builder.UseSetting("PostPublishing:Lease", TimeSpan.FromSeconds(lease).ToString("c", System.Globalization.CultureInfo.InvariantCulture));
        }

        configure?.Invoke(builder);
    }

    /// <summary>Starts the worker (the host starts on first use).</summary>
    public WorkerFactory Start()
    {
        _ = Server;
        return this;
    }
}
