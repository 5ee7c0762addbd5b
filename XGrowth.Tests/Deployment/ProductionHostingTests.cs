using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Deployment;

/// <summary>
/// Behind a platform's proxy: <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> are believed from the configured
/// proxies only. The test plays the network: it sets the connection's peer address, and reads back the client
/// address and scheme the API took from the request.
/// </summary>
[Collection(nameof(DeploymentCollection))]
public class ForwardedHeadersTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string PeerHeader = "X-Test-Peer";

    private static async Task<(string Client, string Scheme)> SeenAsync(WebApplicationFactory<Program> factory, string peer, string forwardedFor, string forwardedProto = "https")
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/alive");
        request.Headers.Add(PeerHeader, peer);
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        request.Headers.Add("X-Forwarded-Proto", forwardedProto);
        using var response = await client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response.Headers.GetValues("X-Test-Client").Single(), response.Headers.GetValues("X-Test-Scheme").Single());
    }

    private WebApplicationFactory<Program> Behind(string? knownNetworks, bool aspNetCoreSwitch = false) => api.WithWebHostBuilder(builder =>
    {
        if (knownNetworks is not null)
        {
            builder.UseSetting("ForwardedHeaders:KnownNetworks", knownNetworks);
        }

        if (aspNetCoreSwitch)
        {
            // What ASPNETCORE_FORWARDEDHEADERS_ENABLED=true (set by Aspire on every project) turns on.
            builder.UseSetting("ForwardedHeaders_Enabled", "true");
        }

        // Outermost, before the API's own pipeline: the network's part (who the peer is), and what the API saw.
        builder.ConfigureServices(services => services.Insert(0, ServiceDescriptor.Transient<IStartupFilter, PlaysTheNetwork>()));
    });

    [Fact]
    public async Task Without_configured_proxies_a_remote_peer_cannot_claim_another_address_or_https()
    {
        await using var factory = Behind(knownNetworks: null);

        var (client, scheme) = await SeenAsync(factory, peer: "10.1.2.3", forwardedFor: "203.0.113.7");

        Assert.Equal("10.1.2.3", client);
        Assert.Equal("http", scheme);
    }

    [Fact]
    public async Task A_configured_proxy_is_believed_and_a_client_forged_entry_behind_it_is_not()
    {
        await using var factory = Behind("10.0.0.0/8, fd00::/8");

        var plain = await SeenAsync(factory, peer: "10.1.2.3", forwardedFor: "203.0.113.7");
        // The client sent "X-Forwarded-For: 198.51.100.9" itself; the proxy appended the address it saw.
        var forged = await SeenAsync(factory, peer: "10.1.2.3", forwardedFor: "198.51.100.9, 203.0.113.7");
        // A chain of two trusted proxies is followed back to the client.
        var chain = await SeenAsync(factory, peer: "10.1.2.3", forwardedFor: "203.0.113.7, 10.9.9.9");

        Assert.Equal(("203.0.113.7", "https"), plain);
        Assert.Equal("203.0.113.7", forged.Client);
        Assert.Equal("203.0.113.7", chain.Client);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Once_proxies_are_configured_only_they_are_believed_also_with_aspnetcore_forwarding_switched_on(bool aspNetCoreSwitch)
    {
        await using var factory = Behind("10.0.0.5", aspNetCoreSwitch);
        // Switched on, ASP.NET Core's own middleware reads the headers (the API then adds none of its own), with every
        // sender trusted unless told otherwise: that the proxy is believed shows the headers are read at all.

        var fromProxy = await SeenAsync(factory, peer: "10.0.0.5", forwardedFor: "203.0.113.7");
        var fromNeighbour = await SeenAsync(factory, peer: "10.0.0.6", forwardedFor: "203.0.113.7");
        var fromLoopback = await SeenAsync(factory, peer: "127.0.0.1", forwardedFor: "203.0.113.7");

        Assert.Equal(("203.0.113.7", "https"), fromProxy);
        Assert.Equal(("10.0.0.6", "http"), fromNeighbour);
        Assert.Equal(("127.0.0.1", "http"), fromLoopback);
    }

    [Fact]
    public void A_malformed_proxy_list_stops_the_api_at_start_naming_the_key()
    {
        using var misconfigured = api.WithWebHostBuilder(builder => builder.UseSetting("ForwardedHeaders:KnownNetworks", "10.0.0.0/8 ingress.internal"));

        var error = Assert.ThrowsAny<Exception>(() => misconfigured.CreateClient());

        Assert.Contains("ForwardedHeaders:KnownNetworks must list IP addresses or CIDR networks", error.ToString(), StringComparison.Ordinal);
    }

    private sealed class PlaysTheNetwork : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, inner) =>
            {
                if (context.Request.Headers.TryGetValue(PeerHeader, out var peer))
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse(peer!);
                }

                context.Response.OnStarting(() =>
                {
                    context.Response.Headers["X-Test-Client"] = context.Connection.RemoteIpAddress?.ToString() ?? "";
                    context.Response.Headers["X-Test-Scheme"] = context.Request.Scheme;
                    return Task.CompletedTask;
                });
                await inner(context);
            });
            next(app);
        };
    }
}

/// <summary>The Data Protection key ring (in PostgreSQL, beside the X tokens it protects) encrypted at rest.</summary>
[Collection(nameof(DeploymentCollection))]
public class KeyRingProtectionTests(TestPostgres postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>An API on its own fresh database, given <paramref name="certificate"/> from its first start (which makes the first key).</summary>
    private sealed class FreshApi(TestPostgres postgres, string? certificate = null) : ApiFactory(postgres)
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("DataProtection:Certificate", certificate);
        }
    }

    [Theory]
    [InlineData("", "DataProtection:Certificate is required in Production")]
    [InlineData("bm90IGEgY2VydGlmaWNhdGU=", "DataProtection:Certificate is not a PKCS#12 certificate")]
    public async Task In_production_the_services_refuse_an_unprotected_or_unreadable_key_ring(string certificate, string message)
    {
        await using var api = new FreshApi(postgres);
        await api.InitializeAsync();
        await using var production = api.WithWebHostBuilder(builder => builder.UseEnvironment("Production").UseSetting("DataProtection:Certificate", certificate));

        var error = Assert.ThrowsAny<Exception>(() => production.CreateClient());

        Assert.Contains(message, error.ToString(), StringComparison.Ordinal);
        if (certificate.Length > 0)
        {
            Assert.DoesNotContain(certificate, error.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task With_a_certificate_the_stored_keys_are_encrypted_readable_only_with_it_and_a_replaced_one_stays_readable_while_listed()
    {
        var certificate = KeyRingCertificate.NewBase64Pkcs12("CN=key-ring-now");
        var successor = KeyRingCertificate.NewBase64Pkcs12("CN=key-ring-next");
        await using var api = new FreshApi(postgres, certificate);
        await api.InitializeAsync();
        await using var production = api.WithWebHostBuilder(builder => builder.UseEnvironment("Production"));
        var protectedToken = production.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("test").Protect("an X refresh token");

        var keys = await api.ScalarAsync<string>("SELECT string_agg(xml, '') FROM data_protection_keys");
        Assert.Contains("<encryptedSecret", keys, StringComparison.Ordinal);
        Assert.DoesNotContain("<masterKey", keys, StringComparison.Ordinal);

        string Unprotect(string? current, string? previous = null)
        {
            using var replica = api.WithWebHostBuilder(builder => builder.UseEnvironment("Production")
                .UseSetting("DataProtection:Certificate", current).UseSetting("DataProtection:PreviousCertificates", previous));
            return replica.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("test").Unprotect(protectedToken);
        }

        // Another replica with the same certificate reads it; one without it cannot.
        Assert.Equal("an X refresh token", Unprotect(certificate));
        Assert.ThrowsAny<CryptographicException>(() => Unprotect(successor));
        // Rotating the certificate: the new one makes new keys, the old one (listed as previous) still reads old ones.
        Assert.Equal("an X refresh token", Unprotect(successor, certificate));
    }
}

/// <summary>Stopping within the platform's grace period.</summary>
[Collection(nameof(DeploymentCollection))]
public class ShutdownTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public void A_service_stops_within_25_seconds_unless_configured_otherwise()
    {
        using var configured = api.WithWebHostBuilder(builder => builder.UseSetting("HostOptions:ShutdownTimeout", "00:00:07"));

        Assert.Equal(TimeSpan.FromSeconds(25), api.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
        Assert.Equal(TimeSpan.FromSeconds(7), configured.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
    }

    [Fact]
    public void A_worker_whose_grace_would_outlast_the_shutdown_timeout_refuses_to_start()
    {
        using var worker = new WorkerFactory(api, configure: builder => builder
            .UseSetting("HostOptions:ShutdownTimeout", "00:00:10").UseSetting("PostPublishing:ShutdownGrace", "00:00:10"));

        var error = Assert.ThrowsAny<Exception>(() => worker.Start());

        Assert.Contains("PostPublishing:ShutdownGrace must be shorter than HostOptions:ShutdownTimeout", error.ToString(), StringComparison.Ordinal);
    }
}

/// <summary>Each process's share of PostgreSQL's connections.</summary>
[Collection(nameof(DeploymentCollection))]
public class ConnectionPoolTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public void The_pool_is_capped_by_the_setting_unless_the_connection_string_says_otherwise()
    {
        using var capped = api.WithWebHostBuilder(builder => builder.UseSetting("ConnectionPool:MaxSize", "7"));
        using var explicitlySized = api.WithWebHostBuilder(builder => builder.UseSetting("ConnectionPool:MaxSize", "7")
            .UseSetting("ConnectionStrings:xgrowth", api.ConnectionString + ";Maximum Pool Size=9"));

        Assert.Equal(7, new Npgsql.NpgsqlConnectionStringBuilder(capped.Services.GetRequiredService<Npgsql.NpgsqlDataSource>().ConnectionString).MaxPoolSize);
        Assert.Equal(9, new Npgsql.NpgsqlConnectionStringBuilder(explicitlySized.Services.GetRequiredService<Npgsql.NpgsqlDataSource>().ConnectionString).MaxPoolSize);
        Assert.Equal(100, new Npgsql.NpgsqlConnectionStringBuilder(api.Services.GetRequiredService<Npgsql.NpgsqlDataSource>().ConnectionString).MaxPoolSize);
    }

    [Fact]
    public async Task Sessions_run_without_jit_compilation()
    {
        // Every connection of the pool: opened before the migrations ran, or after.
        var sessions = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => SettingAsync(api.Services, "jit")));

        Assert.All(sessions, jit => Assert.Equal("off", jit));
    }

    private static async Task<string> SettingAsync(IServiceProvider services, string name)
    {
        await using var command = services.GetRequiredService<Npgsql.NpgsqlDataSource>().CreateCommand($"SHOW {name}");
        return (string)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }
}
