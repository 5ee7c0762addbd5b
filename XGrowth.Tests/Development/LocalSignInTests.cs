using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using XGrowth.Api.Development;
using XGrowth.Api.Webhooks;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Development;

/// <summary>The local Clerk stand-in: tokens from the API's own issuer, and test webhooks signed with a local secret.</summary>
public class LocalSignInTests(DevelopmentApiFactory api) : IClassFixture<DevelopmentApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<HttpResponseMessage> PostJsonAsync(HttpClient client, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        return await client.PostAsync(path, content, Ct);
    }

    [Fact]
    public async Task A_local_token_signs_in_and_creates_the_user_on_first_call()
    {
        var userId = ApiFactory.NewUserId();
        using var client = api.CreateClient();
        using var issued = await PostJsonAsync(client, "/dev/tokens", $$"""{ "userId": "{{userId}}" }""");
        Assert.Equal(HttpStatusCode.OK, issued.StatusCode);
        var body = (await issued.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        var expiresAt = DateTimeOffset.Parse((string)body["expiresAt"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expiresAt - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(61));

        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)body["token"]!);
        using var me = await client.GetAsync("/api/me", Ct);

        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(userId, (string?)(await me.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]);
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM users WHERE id = $1", userId));
    }

    [Fact]
    public async Task Local_tokens_are_shaped_like_clerks_and_still_checked_like_them()
    {
        var userId = ApiFactory.NewUserId();
        using var client = api.CreateClient();
        using var issued = await PostJsonAsync(client, "/dev/tokens", $$"""{ "userId": "{{userId}}", "expiresInMinutes": 5 }""");
        var token = (string)(await issued.Content.ReadFromJsonAsync<JsonObject>(Ct))!["token"]!;
        var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(token);
        Assert.Equal("RS256", jwt.Alg);
        Assert.StartsWith("local_", jwt.Kid, StringComparison.Ordinal);
        Assert.Equal(LocalClerk.Issuer, jwt.Issuer);
        Assert.Equal(userId, jwt.Subject);
        Assert.StartsWith("sess_local_", jwt.GetClaim("sid").Value, StringComparison.Ordinal);
        Assert.Equal("http://localhost:3000", jwt.GetClaim("azp").Value);
        Assert.InRange(jwt.ValidTo - DateTime.UtcNow, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(6));

        // The same checks apply: a token whose payload was changed after signing is refused.
        var parts = token.Split('.');
        var forgedPayload = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(
            Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(parts[1]).Replace(userId, ApiFactory.NewUserId(), StringComparison.Ordinal));
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", $"{parts[0]}.{forgedPayload}.{parts[2]}");
        using var forged = await client.GetAsync("/api/me", Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);

        // And a token from the test Clerk (another issuer, another key) is not a local one.
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", api.Clerk.Mint(userId));
        using var foreign = await client.GetAsync("/api/me", Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, foreign.StatusCode);
    }

    [Fact]
    public async Task The_signing_key_is_made_once_kept_private_and_used_again_after_a_restart()
    {
        using (await api.LocalClientForAsync(ApiFactory.NewUserId()))
        {
        }

        var keyFile = Path.Combine(api.LocalDataDirectory, "session-signing-key.pem");
        Assert.True(File.Exists(keyFile));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        }

        var key = await File.ReadAllTextAsync(keyFile, Ct);

        var userId = ApiFactory.NewUserId();
        using var client = await api.LocalClientForAsync(userId);
        // A second API process on the same directory (a restart) accepts the first one's token.
        await using var restarted = api.WithWebHostBuilder(_ => { });
        using var second = restarted.CreateClient();
        second.DefaultRequestHeaders.Authorization = client.DefaultRequestHeaders.Authorization;
        using var me = await second.GetAsync("/api/me", Ct);

        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(key, await File.ReadAllTextAsync(keyFile, Ct));
    }

    [Theory]
    [InlineData("{}", "userId")]
    [InlineData("""{ "userId": "" }""", "userId")]
    [InlineData("""{ "userId": "user with spaces" }""", "userId")]
    [InlineData("""{ "userId": "user_1", "expiresInMinutes": 0 }""", "expiresInMinutes")]
    [InlineData("""{ "userId": "user_1", "expiresInMinutes": 1441 }""", "expiresInMinutes")]
    [InlineData("""{ "userId": "user_1", "expiresInMinutes": "soon" }""", "")]
    [InlineData("""{ "userId": "user_1", "admin": true }""", "")]
    [InlineData("""{ "userId": """, "")]
    public async Task Bad_token_requests_are_400_problems(string json, string field)
    {
        using var client = api.CreateClient();
        using var response = await PostJsonAsync(client, "/dev/tokens", json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        if (field.Length > 0)
        {
            Assert.NotNull(problem["errors"]?[field]);
        }
    }

    [Fact]
    public async Task Oversized_development_requests_are_413_and_write_nothing()
    {
        using var client = api.CreateClient();
        var userId = ApiFactory.NewUserId();
        var padding = new string('x', 70 * 1024);
        using var token = await PostJsonAsync(client, "/dev/tokens", $$"""{ "userId": "{{userId}}{{padding}}" }""");
        using var webhook = await PostJsonAsync(client, "/dev/clerk/user-created", $$"""{ "userId": "{{userId}}", "firstName": "{{padding}}" }""");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, token.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, webhook.StatusCode);
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM users WHERE id = $1", userId));
    }

    [Fact]
    public async Task Test_user_created_is_signed_verified_and_written()
    {
        var userId = ApiFactory.NewUserId();
        using var client = api.CreateClient();
        using var response = await PostJsonAsync(client, "/dev/clerk/user-created",
            $$"""{ "userId": "{{userId}}", "email": "dev@example.com", "firstName": "Grace" }""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.Equal(200, (int)sent["webhookStatus"]!);
        Assert.Equal("applied", (string?)sent["outcome"]);
        Assert.Equal("dev@example.com", await api.ScalarAsync<string>("SELECT email FROM users WHERE id = $1", userId));
        Assert.Equal("Grace", await api.ScalarAsync<string>("SELECT first_name FROM users WHERE id = $1", userId));
        // It went through the webhook endpoint: its delivery is recorded under the svix-id it was signed with.
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM clerk_webhook_deliveries WHERE svix_id = $1", (string)sent["svixId"]!));
    }

    [Fact]
    public async Task Bad_test_webhook_requests_are_400_and_write_nothing()
    {
        using var client = api.CreateClient();
        var before = await api.CountAsync("SELECT count(*) FROM users");
        using var noUser = await PostJsonAsync(client, "/dev/clerk/user-created", """{ "email": "x@example.com" }""");
        using var badEmail = await PostJsonAsync(client, "/dev/clerk/user-created", $$"""{ "userId": "user_1", "email": "{{new string('a', 201)}}" }""");
        Assert.Equal(HttpStatusCode.BadRequest, noUser.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badEmail.StatusCode);
        Assert.Equal(before, await api.CountAsync("SELECT count(*) FROM users"));
    }

    [Fact]
    public async Task The_local_webhook_secret_is_kept_in_the_data_directory_and_verifies_curl_signed_webhooks()
    {
        // A webhook made once through the dev endpoint makes the secret; then it can be read as the README says.
        using var client = api.CreateClient();
        using (await PostJsonAsync(client, "/dev/clerk/user-created", $$"""{ "userId": "{{ApiFactory.NewUserId()}}" }"""))
        {
        }

        var secretFile = Path.Combine(api.LocalDataDirectory, "webhook-secret");
        var secret = (await File.ReadAllTextAsync(secretFile, Ct)).Trim();
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secretFile));
        }


        var userId = ApiFactory.NewUserId();
        var body = ClerkSampleEvents.UserEvent("user.created", userId, "curl@example.com", DateTimeOffset.UtcNow);
        using var signed = await api.PostWebhookAsync(body, ClerkSampleEvents.SignedHeaders(secret, ApiFactory.NewSvixId(), body, DateTimeOffset.UtcNow));
        using var wrong = await api.PostWebhookAsync(body, ClerkSampleEvents.SignedHeaders(ApiFactory.WebhookSecret, ApiFactory.NewSvixId(), body, DateTimeOffset.UtcNow));

        Assert.Equal(HttpStatusCode.OK, signed.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        Assert.Equal("curl@example.com", await api.ScalarAsync<string>("SELECT email FROM users WHERE id = $1", userId));
    }

    [Fact]
    public async Task Requests_relayed_by_a_tunnel_or_for_another_host_do_not_reach_the_dev_endpoints()
    {
        using var client = api.CreateClient();
        using var tunnelled = new HttpRequestMessage(HttpMethod.Post, "/dev/tokens") { Content = JsonContent.Create(new { userId = "user_1" }) };
        tunnelled.Headers.Add("X-Forwarded-For", "203.0.113.7");
        using var otherHost = new HttpRequestMessage(HttpMethod.Post, "/dev/tokens") { Content = JsonContent.Create(new { userId = "user_1" }) };
        otherHost.Headers.Host = "example.ngrok-free.app";

        using var first = await client.SendAsync(tunnelled, Ct);
        using var second = await client.SendAsync(otherHost, Ct);

        Assert.Equal(HttpStatusCode.NotFound, first.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, second.StatusCode);
        Assert.DoesNotContain("token", await first.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_clerk_issuer_configured_the_local_issuer_is_off()
    {
        await using var withClerk = api.WithWebHostBuilder(builder => builder
            .UseSetting("Clerk:Issuer", ClerkStandIn.Issuer).UseSetting("Clerk:JwksUrl", api.Clerk.JwksUrl));
        using var client = withClerk.CreateClient();
        using var localToken = await api.LocalClientForAsync(ApiFactory.NewUserId());

        using var issue = await PostJsonAsync(client, "/dev/tokens", """{ "userId": "user_1" }""");
        client.DefaultRequestHeaders.Authorization = localToken.DefaultRequestHeaders.Authorization;
        using var me = await client.GetAsync("/api/me", Ct);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", api.Clerk.Mint(ApiFactory.NewUserId()));
        using var clerkMe = await client.GetAsync("/api/me", Ct);

        Assert.Equal(HttpStatusCode.NotFound, issue.StatusCode);
        Assert.Contains("Clerk:Issuer is set", await issue.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        Assert.Equal(HttpStatusCode.OK, clerkMe.StatusCode);
    }

    [Fact]
    public async Task With_clerk_local_off_development_has_no_local_issuer_and_no_local_webhook_secret()
    {
        await using var noLocal = api.WithWebHostBuilder(builder => builder.UseSetting("Clerk:Local", "false"));
        using var client = noLocal.CreateClient();

        using var issue = await PostJsonAsync(client, "/dev/tokens", """{ "userId": "user_1" }""");
        using var webhook = await PostJsonAsync(client, "/dev/clerk/user-created", """{ "userId": "user_1" }""");
        using var localClient = await api.LocalClientForAsync(ApiFactory.NewUserId());
        client.DefaultRequestHeaders.Authorization = localClient.DefaultRequestHeaders.Authorization;
        using var me = await client.GetAsync("/api/me", Ct);

        Assert.Equal(HttpStatusCode.NotFound, issue.StatusCode);
        Assert.Contains("Clerk:Local is not set", await issue.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, webhook.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
    }

    [Theory]
    [InlineData("Production")]
    [InlineData("Staging")]
    [InlineData("Testing")]
    public void The_api_refuses_to_start_with_the_local_issuer_on_outside_development(string environment)
    {
        using var misconfigured = api.WithWebHostBuilder(builder => builder.UseEnvironment(environment).UseSetting("Clerk:Issuer", "https://clerk.example.com"));
        var error = Assert.ThrowsAny<Exception>(() => misconfigured.CreateClient());
        Assert.Contains($"Clerk:Local is on, but the environment is {environment}", error.ToString(), StringComparison.Ordinal);
    }
}

/// <summary>The API outside Development (the tests' usual "Testing"): none of the development endpoints exist.</summary>
public class DevelopmentEndpointsOutsideDevelopmentTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Theory]
    [InlineData("POST", "/dev/tokens")]
    [InlineData("POST", "/dev/clerk/user-created")]
    [InlineData("POST", "/dev/sandbox/x-accounts")]
    [InlineData("POST", "/dev/x-sandbox/2/tweets")]
    [InlineData("GET", "/dev/x-sandbox/posts")]
    public async Task Development_endpoints_do_not_exist(string method, string path)
    {
        using var client = api.ClientFor(ApiFactory.NewUserId());
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = JsonContent.Create(new { userId = "user_1" }) };
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task The_openapi_document_does_not_describe_them()
    {
        using var client = api.CreateClient();
        var document = await client.GetStringAsync("/openapi/v1.json", TestContext.Current.CancellationToken);
        Assert.DoesNotContain("/dev/", document, StringComparison.Ordinal);
        Assert.Contains("/api/posts", document, StringComparison.Ordinal);
    }
}
