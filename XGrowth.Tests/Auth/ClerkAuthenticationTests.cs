using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;
using XGrowth.Api.Webhooks;
using XGrowth.DevStandIns.Clerk;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Auth;

public class ClerkAuthenticationTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private async Task<HttpResponseMessage> GetMe(string? authorization, string? cookie = null)
    {
        using var client = api.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/me");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        if (cookie is not null)
        {
            request.Headers.Add("Cookie", $"__session={cookie}");
        }

        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    private Task<long> UserRows(string userId) => api.CountAsync("SELECT count(*) FROM users WHERE id = $1", userId);

    [Fact]
    public async Task Valid_token_of_an_unseen_user_creates_the_user_and_answers_its_profile()
    {
        var userId = ApiFactory.NewUserId();
        using var response = await GetMe("Bearer " + api.Clerk.Mint(userId));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Contains($"\"id\":\"{userId}\"", body, StringComparison.Ordinal);
        Assert.Contains("\"email\":null", body, StringComparison.Ordinal);
        Assert.Equal(1, await UserRows(userId));
    }

    [Fact]
    public async Task Webhook_after_first_call_fills_in_the_profile()
    {
        var userId = ApiFactory.NewUserId();
        using (await GetMe("Bearer " + api.Clerk.Mint(userId)))
        {
        }

        using (var webhook = await api.PostSignedWebhookAsync(ClerkSampleEvents.UserEvent("user.created", userId, "late@example.com", DateTimeOffset.UtcNow)))
        {
            Assert.Equal(HttpStatusCode.OK, webhook.StatusCode);
        }

        using var response = await GetMe("Bearer " + api.Clerk.Mint(userId));
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Contains("\"email\":\"late@example.com\"", body, StringComparison.Ordinal);
        Assert.Contains("\"firstName\":\"Ada\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Session_cookie_is_accepted_when_there_is_no_authorization_header()
    {
        using var response = await GetMe(null, cookie: api.Clerk.Mint(ApiFactory.NewUserId()));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("missing azp")]
    [InlineData("missing cat")]
    [InlineData("cat cl_I7d4PD111III")]
    [InlineData("unknown header field")]
    [InlineData("trailing slash in azp")]
    public async Task Tokens_clerk_may_send_are_accepted(string variant)
    {
        var token = api.Clerk.Mint(ApiFactory.NewUserId(),
            claims: c =>
            {
                if (variant == "missing azp") { c.Remove("azp"); }
                if (variant == "trailing slash in azp") { c["azp"] = ApiFactory.Frontend + "/"; }
            },
            header: h =>
            {
                if (variant == "missing cat") { h.Remove("cat"); }
                if (variant == "cat cl_I7d4PD111III") { h["cat"] = "cl_I7d4PD111III"; }
                if (variant == "unknown header field") { h["x-clerk-whatever"] = "1"; }
            });
        using var response = await GetMe("Bearer " + token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public static TheoryData<string> Rejections => new()
    {
        "expired", "not yet valid", "issued in the future", "wrong issuer", "alg none", "HS256 signed with the public key",
        "unknown kid", "signed by another key", "tampered payload", "missing sid", "unlisted azp", "machine cat header",
        "machine cat claim", "no token", "malformed header", "basic scheme", "empty bearer", "garbage token", "missing sub",
        "missing exp",
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public async Task Rejected_tokens_get_401_with_a_bare_challenge_and_create_nothing(string variant)
    {
        var userId = ApiFactory.NewUserId();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var clerk = api.Clerk;
        string Mint(Action<Dictionary<string, object>>? claims = null, Action<Dictionary<string, object>>? header = null) =>
            clerk.Mint(userId, claims: claims, header: header);
        var authorization = variant switch
        {
            "expired" => "Bearer " + Mint(c => { c["iat"] = now - 120; c["nbf"] = now - 120; c["exp"] = now - 10; }),
            "not yet valid" => "Bearer " + Mint(c => { c["nbf"] = now + 60; c["exp"] = now + 120; }),
            "issued in the future" => "Bearer " + Mint(c => c["iat"] = now + 60),
            "wrong issuer" => "Bearer " + Mint(c => c["iss"] = "https://evil.clerk.accounts.dev"),
            "alg none" => "Bearer " + clerk.Forge(userId, "none"),
            "HS256 signed with the public key" => "Bearer " + clerk.Forge(userId, "HS256", Encoding.ASCII.GetBytes(clerk.CurrentPublicKeyPem)),
            "unknown kid" => "Bearer " + clerk.Mint(userId, signWith: RSA.Create(2048), kid: "kid_unknown"),
            "signed by another key" => "Bearer " + clerk.Mint(userId, signWith: RSA.Create(2048)),
            "tampered payload" => "Bearer " + Tamper(Mint()),
            "missing sid" => "Bearer " + Mint(c => c.Remove("sid")),
            "unlisted azp" => "Bearer " + Mint(c => c["azp"] = "https://evil.example"),
            "machine cat header" => "Bearer " + Mint(header: h => h["cat"] = "cl_B7d4PD333AAA"),
            "machine cat claim" => "Bearer " + Mint(c => c["cat"] = "cl_B7d4PD333AAA", h => h.Remove("cat")),
            "no token" => null,
            "malformed header" => "Bearer not.a.jwt",
            "basic scheme" => "Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("user:pass")),
            "empty bearer" => "Bearer ",
            "garbage token" => "Bearer " + new string('x', 5000),
            "missing sub" => "Bearer " + Mint(c => c.Remove("sub")),
            "missing exp" => "Bearer " + Mint(c => c.Remove("exp")),
            _ => throw new ArgumentOutOfRangeException(nameof(variant)),
        };

        using var response = await GetMe(authorization);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).ToString());
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.DoesNotContain("IDX", body, StringComparison.Ordinal);
        Assert.DoesNotContain("signature", body, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, await UserRows(userId));
    }

    private static string Tamper(string token)
    {
        var parts = token.Split('.');
        var payload = Base64UrlEncoder.Decode(parts[1]).Replace("\"v\":2", "\"v\":3", StringComparison.Ordinal);
        return $"{parts[0]}.{Base64UrlEncoder.Encode(payload)}.{parts[2]}";
    }

    [Fact]
    public async Task Deleted_user_is_refused_even_with_a_valid_token()
    {
        var userId = ApiFactory.NewUserId();
        using (var first = await GetMe("Bearer " + api.Clerk.Mint(userId)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using (var deleted = await api.PostSignedWebhookAsync(ClerkSampleEvents.UserDeleted(userId, DateTimeOffset.UtcNow)))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }

        using var response = await GetMe("Bearer " + api.Clerk.Mint(userId));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Another_api_process_refuses_a_deleted_user_once_its_memory_of_the_user_expires()
    {
        var userId = ApiFactory.NewUserId();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        // A second API process on the same database, with a clock the test moves.
        await using var other = api.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(time)));
        using var client = other.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", api.Clerk.Mint(userId));
        using (var first = await client.GetAsync("/api/me", TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        // Deleted through this fixture's API: the other process is not told.
        using (var deleted = await api.PostSignedWebhookAsync(ClerkSampleEvents.UserDeleted(userId, DateTimeOffset.UtcNow)))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }

        // Within the memory window the token still passes there, but the user's data is gone.
        using (var within = await client.GetAsync("/api/me", TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.NotFound, within.StatusCode);
        }

        time.Advance(XGrowth.Api.Auth.ClerkUserProvisioning.ActiveUserCacheTime + TimeSpan.FromSeconds(1));
        using var after = await client.GetAsync("/api/me", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task Why_a_token_failed_is_logged_not_answered()
    {
        using var response = await GetMe("Bearer " + api.Clerk.Mint(ApiFactory.NewUserId(), claims: c => c.Remove("sid")));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(api.Logs.Lines, line => line.Contains("Session token rejected: no sid", StringComparison.Ordinal));
    }
}

/// <summary>A fresh API per class, so that the key cache starts cold.</summary>
public class ClerkKeyRotationTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Keys_are_cached_and_refetched_when_a_new_kid_appears()
    {
        using var client = api.CreateClient();
        async Task<HttpStatusCode> Call()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/me");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", api.Clerk.Mint(ApiFactory.NewUserId()));
            using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await Call());
        Assert.Equal(HttpStatusCode.OK, await Call());
        var fetchesBeforeRotation = api.Clerk.JwksRequests;
        Assert.Equal(1, fetchesBeforeRotation);

        api.Clerk.Rotate(dropOld: true);

        Assert.Equal(HttpStatusCode.OK, await Call());
        Assert.Equal(HttpStatusCode.OK, await Call());
        Assert.Equal(2, api.Clerk.JwksRequests);
    }
}

public sealed class ApiWithPemKey(TestPostgres postgres) : ApiFactory(postgres)
{
    protected override bool UsePemKey => true;
}

public class ClerkPemKeyTests(ApiWithPemKey api) : IClassFixture<ApiWithPemKey>
{
    [Fact]
    public async Task Pem_key_verifies_tokens_without_fetching_keys()
    {
        using var client = api.ClientFor(ApiFactory.NewUserId());
        using var response = await client.GetAsync("/api/me", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, api.Clerk.JwksRequests);

        using var forged = api.CreateClient();
        forged.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", api.Clerk.Mint(ApiFactory.NewUserId(), signWith: RSA.Create(2048)));
        using var refused = await forged.GetAsync("/api/me", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }
}

public class ClerkSettingsTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Without_an_issuer_outside_production_the_api_starts_and_protected_calls_are_401()
    {
        await using var noClerk = api.WithWebHostBuilder(builder => builder.UseSetting("Clerk:Issuer", "").UseSetting("Clerk:JwksUrl", ""));
        using var client = noClerk.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", api.Clerk.Mint(ApiFactory.NewUserId()));

        using var me = await client.GetAsync("/api/me", TestContext.Current.CancellationToken);
        using var health = await client.GetAsync("/health", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Theory]
    [InlineData("Production", "Clerk:Issuer", "", "Clerk:Issuer is required in Production")]
    [InlineData("Testing", "Clerk:Issuer", "not a url", "Clerk:Issuer must be an absolute")]
    [InlineData("Testing", "Clerk:JwksUrl", "ftp://keys", "Clerk:JwksUrl must be an absolute")]
    [InlineData("Testing", "Clerk:JwtKey", "-----BEGIN PUBLIC KEY-----nonsense", "Clerk:JwtKey must be")]
    [InlineData("Testing", "Clerk:AuthorizedParties", "http://localhost:3000/app", "Clerk:AuthorizedParties 'http://localhost:3000/app' is not an origin")]
    [InlineData("Testing", "Clerk:WebhookSecret", "whsec_%%%", "Clerk:WebhookSecret is malformed")]
    [InlineData("Production", "Clerk:WebhookSecret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "Clerk:WebhookSecret is a published example secret")]
    [InlineData("Staging", "Clerk:WebhookSecret", "whsec_dGhpcyBpcyBteSBvd24gc2VjcmV0IQ== whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "Clerk:WebhookSecret is a published example secret")]
    public void Bad_settings_stop_the_api_at_start_naming_the_key(string environment, string key, string value, string message)
    {
        using var misconfigured = api.WithWebHostBuilder(builder => builder.UseEnvironment(environment).UseSetting(key, value));
        var error = Assert.ThrowsAny<Exception>(() => misconfigured.CreateClient());
        Assert.Contains(message, error.ToString(), StringComparison.Ordinal);
    }
}

/// <summary>An API whose Clerk JWKS endpoint cannot be reached.</summary>
public sealed class ApiWithUnreachableClerk(TestPostgres postgres) : ApiFactory(postgres)
{
    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Clerk:JwksUrl", $"http://127.0.0.1:{FreePort()}/.well-known/jwks.json");
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public class ClerkUnreachableTests(ApiWithUnreachableClerk api) : IClassFixture<ApiWithUnreachableClerk>
{
    [Fact]
    public async Task Unreachable_keys_make_token_calls_401_quickly_and_never_delay_anonymous_endpoints()
    {
        using var client = api.CreateClient();
        var started = System.Diagnostics.Stopwatch.StartNew();
        using var webhookCheck = await client.GetAsync("/api/webhooks/clerk", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, webhookCheck.StatusCode);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(2), $"anonymous call took {started.Elapsed}");

        var calls = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            using var authed = api.ClientFor(ApiFactory.NewUserId());
            var sw = System.Diagnostics.Stopwatch.StartNew();
            using var response = await authed.GetAsync("/api/me", TestContext.Current.CancellationToken);
            return (response.StatusCode, sw.Elapsed);
        }));

        Assert.All(calls, call => Assert.Equal(HttpStatusCode.Unauthorized, call.StatusCode));
        Assert.All(calls, call => Assert.True(call.Elapsed < TimeSpan.FromSeconds(10), $"token call took {call.Elapsed}"));
        Assert.Contains(api.Logs.Lines, line => line.Contains("Could not fetch Clerk's signing keys", StringComparison.Ordinal));
    }
}
