using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using Npgsql;
using XGrowth.DevStandIns;
using XGrowth.DevStandIns.Clerk;
using XGrowth.DevStandIns.X;

namespace XGrowth.Tests.Infrastructure;

/// <summary>The real API, in process, on its own fresh database of the test PostgreSQL.</summary>
public class ApiFactory(TestPostgres postgres) : WebApplicationFactory<Program>, IAsyncLifetime
{
    /// <summary>A webhook secret of this test run (published example secrets are refused outside Development).</summary>
    public static readonly string WebhookSecret = "whsec_" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));

    public string ConnectionString { get; private set; } = "";

    private NpgsqlDataSource? _dataSource;

    /// <summary>Direct access to the API's database, to check what was written.</summary>
    public NpgsqlDataSource Database => _dataSource ?? throw new InvalidOperationException("Not initialized.");

    /// <summary>The <c>Clerk:WebhookSecret</c> the API gets; null for none.</summary>
    protected virtual string? ConfiguredWebhookSecret => WebhookSecret;

    /// <summary>The frontend origin the API allows (CORS, <c>azp</c>).</summary>
    public const string Frontend = "http://localhost:3000";

    // The X app the API is configured with; the X stand-in knows the same.
    public const string XClientId = "test-client-id";
    public const string XClientSecret = "test-client-secret";
    /// <summary>The frontend's page X sends the browser back to.</summary>
    public const string XRedirectUri = "http://localhost:3000/x/callback";

    private StandInsServer? _standIns;

    /// <summary>The local Clerk and X this API talks to: the same stand-ins the AppHost runs in Development.</summary>
    public StandInsServer StandIns => _standIns ?? throw new InvalidOperationException("Not initialized.");

    /// <summary>The Clerk this API trusts: mints the session tokens the tests send.</summary>
    public ClerkStandIn Clerk => StandIns.Clerk;

    /// <summary>The per-user write limit the API gets.</summary>
    protected virtual int WritesPerMinute => 1_000_000;

    /// <summary>Whether the API verifies tokens with Clerk's PEM key instead of the JWKS endpoint.</summary>
    protected virtual bool UsePemKey => false;

    /// <summary>The X this API talks to.</summary>
    public XStandIn X => StandIns.X;

    /// <summary>Whether the API gets the X app's settings.</summary>
    protected virtual bool ConfigureX => true;

    public async ValueTask InitializeAsync()
    {
        _standIns = await StandInsServer.StartAsync(options =>
        {
            options.Clerk.AuthorizedParty = Frontend;
            options.X.ClientId = XClientId;
            options.X.ClientSecret = XClientSecret;
            options.X.RedirectUri = XRedirectUri;
        });
        // Slow refreshes widen the window in which concurrent refreshes would collide; posts take as long as X's do.
        X.RefreshDelay = TimeSpan.FromMilliseconds(200);
        X.CreatePostDelay = TimeSpan.FromMilliseconds(20);
        ConnectionString = await postgres.CreateDatabaseAsync("api");
        _dataSource = NpgsqlDataSource.Create(ConnectionString);
        // Starts the host, which applies the migrations.
        _ = Server;
    }

    /// <summary>Everything the API logged.</summary>
    public CapturingLoggerProvider Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.ConfigureLogging(logging => logging.AddProvider(Logs).SetMinimumLevel(LogLevel.Debug));
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:xgrowth", ConnectionString);
        builder.UseSetting("Clerk:WebhookSecret", ConfiguredWebhookSecret ?? "");
        builder.UseSetting("Clerk:Issuer", Clerk.Issuer);
        builder.UseSetting("Clerk:AuthorizedParties", Frontend);
        // Tests make many changes quickly as one user; the limit itself is tested with a small one (LimitsTests).
        builder.UseSetting("RateLimits:WritesPerMinute", WritesPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (ConfigureX)
        {
            builder.UseSetting("X:ClientId", XClientId);
            builder.UseSetting("X:ClientSecret", XClientSecret);
            builder.UseSetting("X:RedirectUri", XRedirectUri);
            builder.UseSetting("X:AuthorizeUrl", X.AuthorizeUrl);
            builder.UseSetting("X:ApiBaseUrl", X.BaseUrl);
            builder.UseSetting("X:WebUrl", X.BaseUrl);
        }

        if (UsePemKey)
        {
            builder.UseSetting("Clerk:JwtKey", Clerk.CurrentPublicKeyPem);
        }
    }

    /// <summary>Posts <paramref name="body"/> to the Clerk webhook endpoint with these headers.</summary>
    public async Task<HttpResponseMessage> PostWebhookAsync(byte[] body, IReadOnlyDictionary<string, string> headers)
    {
        using var client = CreateClient();
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/webhooks/clerk") { Content = content };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    /// <summary>Signs <paramref name="body"/> with the configured secret as Svix would now, and posts it.</summary>
    public Task<HttpResponseMessage> PostSignedWebhookAsync(byte[] body, string? svixId = null) =>
        PostWebhookAsync(body, ClerkSampleEvents.SignedHeaders(WebhookSecret, svixId ?? NewSvixId(), body, DateTimeOffset.UtcNow));

    /// <summary>A client that sends a fresh session token of <paramref name="userId"/> with every request.</summary>
    public HttpClient ClientFor(string userId)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Clerk.Mint(userId));
        return client;
    }

    /// <summary>Inserts an X account for <paramref name="userId"/> (connecting accounts through X comes later) and returns its id.</summary>
    public async Task<Guid> AddXAccountAsync(string userId, string status = "connected")
    {
        var id = Guid.NewGuid();
        await using var command = Database.CreateCommand("""
            INSERT INTO users (id, created_at, updated_at) VALUES ($1, now(), now()) ON CONFLICT (id) DO NOTHING
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        await using var insert = Database.CreateCommand("""
            INSERT INTO x_accounts (id, user_id, x_user_id, username, status, connected_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, now(), now())
            """);
        insert.Parameters.Add(new NpgsqlParameter { Value = id });
        insert.Parameters.Add(new NpgsqlParameter { Value = userId });
        insert.Parameters.Add(new NpgsqlParameter { Value = Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        insert.Parameters.Add(new NpgsqlParameter { Value = "acct_" + id.ToString("N")[..8] });
        insert.Parameters.Add(new NpgsqlParameter { Value = status });
        await insert.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        return id;
    }

    /// <summary>Connects an X account for <paramref name="userId"/> through the real OAuth flow against the X stand-in.</summary>
    /// <param name="grantedScopes">What the user lets X grant, when less than the API asks for (an app approved before it asked for more).</param>
    public async Task<Guid> ConnectXAccountAsync(string userId, string? xUserId = null, string? grantedScopes = null)
    {
        xUserId ??= Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var client = ClientFor(userId);
        using var connect = await client.PostAsync("/api/x-accounts/connect", null, TestContext.Current.CancellationToken);
        var authorizeUrl = (string)(await connect.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>(TestContext.Current.CancellationToken))!["authorizeUrl"]!;
        if (grantedScopes is not null)
        {
            var asked = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(new Uri(authorizeUrl).Query).ToDictionary(q => q.Key, q => (string?)q.Value.ToString());
            asked["scope"] = grantedScopes;
            authorizeUrl = Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(authorizeUrl.Split('?')[0], asked);
        }

        var callback = X.Approve(authorizeUrl, username: "x_" + xUserId[..Math.Min(6, xUserId.Length)], xUserId: xUserId);
        // The frontend's callback page hands X's code and state to the API with the user's session.
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(new Uri(callback).Query);
        using var completed = await client.PostAsJsonAsync("/api/x-accounts/callback",
            new { code = query["code"].ToString(), state = query["state"].ToString() }, TestContext.Current.CancellationToken);
        completed.EnsureSuccessStatusCode();
        return Guid.Parse((string)(await completed.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>(TestContext.Current.CancellationToken))!["id"]!);
    }

    public static string NewSvixId() => "msg_" + Guid.NewGuid().ToString("N");

    public static string NewUserId() => "user_" + Guid.NewGuid().ToString("N");

    public async Task<T?> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = Database.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        var value = await command.ExecuteScalarAsync(TestContext.Current.CancellationToken);
        return value is null or DBNull ? default : (T)value;
    }

    public async Task<long> CountAsync(string sql, params object[] parameters) => await ScalarAsync<long>(sql, parameters);

    /// <summary>Runs a statement that changes rows (an UPDATE or DELETE a test needs), and answers how many it changed.</summary>
    public async Task<int> ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = Database.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }

        await base.DisposeAsync();
        if (_standIns is not null)
        {
            await _standIns.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }
}
