using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using XGrowth.DevStandIns;
using XGrowth.DevStandIns.Clerk;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.LocalStandIns;

/// <summary>
/// The local stand-ins for Clerk and X that the AppHost runs in Development: the API trusts them only through its
/// ordinary settings, and they behave as the real services do where the application depends on it.
/// </summary>
public class StandInsTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_webhook_sent_by_the_clerk_stand_in_is_verified_and_applied_by_the_api()
    {
        await using var clerk = await StandInsServer.StartAsync(
            options =>
            {
                options.Clerk.WebhookUrl = "http://localhost/api/webhooks/clerk";
                options.Clerk.WebhookSecret = ApiFactory.WebhookSecret;
            },
            services => services.AddHttpClient(StandInsApp.OutgoingHttpClient).ConfigurePrimaryHttpMessageHandler(() => api.Server.CreateHandler()));
        using var http = new HttpClient { BaseAddress = new Uri(clerk.BaseUrl) };
        var userId = ApiFactory.NewUserId();

        using var created = await http.PostAsJsonAsync("/clerk/webhooks", new { type = "user.created", userId, email = "stand-in@example.com" }, Ct);
        var answer = await created.Content.ReadFromJsonAsync<JsonObject>(Ct);

        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        Assert.Equal(200, (int?)answer!["webhookStatus"]);
        Assert.Equal("stand-in@example.com", await api.ScalarAsync<string>("SELECT email FROM users WHERE id = $1", userId));
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM clerk_webhook_deliveries WHERE svix_id = $1", (string)answer["svixId"]!));

        using var deleted = await http.PostAsJsonAsync("/clerk/webhooks", new { type = "user.deleted", userId }, Ct);
        Assert.Equal(200, (int?)(await deleted.Content.ReadFromJsonAsync<JsonObject>(Ct))!["webhookStatus"]);
        Assert.NotNull(await api.ScalarAsync<DateTime?>("SELECT deleted_at FROM users WHERE id = $1", userId));
    }

    [Fact]
    public async Task A_webhook_signed_with_another_secret_is_refused_by_the_api_and_writes_nothing()
    {
        await using var clerk = await StandInsServer.StartAsync(
            options =>
            {
                options.Clerk.WebhookUrl = "http://localhost/api/webhooks/clerk";
                options.Clerk.WebhookSecret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
            },
            services => services.AddHttpClient(StandInsApp.OutgoingHttpClient).ConfigurePrimaryHttpMessageHandler(() => api.Server.CreateHandler()));
        using var http = new HttpClient { BaseAddress = new Uri(clerk.BaseUrl) };
        var userId = ApiFactory.NewUserId();

        using var sent = await http.PostAsJsonAsync("/clerk/webhooks", new { type = "user.created", userId }, Ct);

        Assert.Equal(400, (int?)(await sent.Content.ReadFromJsonAsync<JsonObject>(Ct))!["webhookStatus"]);
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM users WHERE id = $1", userId));
    }

    [Fact]
    public async Task A_token_from_the_stand_in_token_endpoint_signs_in_and_bad_requests_get_problems()
    {
        using var http = new HttpClient { BaseAddress = new Uri(api.StandIns.BaseUrl) };
        var userId = ApiFactory.NewUserId();

        using var issued = await http.PostAsJsonAsync("/clerk/tokens", new { userId, expiresInMinutes = 5 }, Ct);
        var token = (string)(await issued.Content.ReadFromJsonAsync<JsonObject>(Ct))!["token"]!;
        using var client = api.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var me = await client.GetAsync("/api/me", Ct);

        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(userId, (string?)(await me.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]);
        foreach (var bad in new object[] { new { userId = "" }, new { userId = "has space" }, new { userId, expiresInMinutes = 0 }, new { userId, expiresInMinutes = 100_000 } })
        {
            using var refused = await http.PostAsJsonAsync("/clerk/tokens", bad, Ct);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task The_x_stand_in_keeps_tokens_and_posts_across_a_restart_in_an_owner_only_file()
    {
        var directory = Path.Combine(Path.GetTempPath(), "xgrowth-standins-" + Guid.NewGuid().ToString("N")[..12]);
        void Configure(StandInsOptions options)
        {
            options.DataDirectory = directory;
            options.X.ClientId = ApiFactory.XClientId;
            options.X.ClientSecret = ApiFactory.XClientSecret;
            options.X.RedirectUri = ApiFactory.XRedirectUri;
        }

        try
        {
            string accessToken, postId;
            await using (var first = await StandInsServer.StartAsync(Configure))
            {
                accessToken = await ConnectAsync(first, "persisted");
                using var created = await PostAsync(first, accessToken, "kept across restarts");
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
                postId = (string)(await created.Content.ReadFromJsonAsync<JsonObject>(Ct))!["data"]!["id"]!;
            }

            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory, "x-state.json")));
            }

            await using var second = await StandInsServer.StartAsync(Configure);
            using var http = new HttpClient();
            using var meRequest = new HttpRequestMessage(HttpMethod.Get, second.X.BaseUrl + "/2/users/me");
            meRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
            using var me = await http.SendAsync(meRequest, Ct);
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
            Assert.Equal("kept across restarts", second.X.FindPost(postId)?.Text);
            // X's duplicate-content rule holds across the restart too.
            using var again = await PostAsync(second, accessToken, "kept across restarts");
            Assert.Equal(HttpStatusCode.Forbidden, again.StatusCode);
            Assert.Contains("duplicate content", await again.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
            var page = await http.GetStringAsync(second.X.BaseUrl + "/i/web/status/" + postId, Ct);
            Assert.Contains("kept across restarts", page, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task The_x_stand_in_chains_replies_and_refuses_what_x_refuses()
    {
        var accessToken = await ConnectAsync(api.StandIns, "threads_" + Guid.NewGuid().ToString("N")[..6]);
        using var first = await PostAsync(api.StandIns, accessToken, "first " + Guid.NewGuid());
        var firstId = (string)(await first.Content.ReadFromJsonAsync<JsonObject>(Ct))!["data"]!["id"]!;

        using var reply = await PostAsync(api.StandIns, accessToken, "second " + Guid.NewGuid(), new JsonObject { ["in_reply_to_tweet_id"] = firstId });
        using var toNowhere = await PostAsync(api.StandIns, accessToken, "orphan " + Guid.NewGuid(), new JsonObject { ["in_reply_to_tweet_id"] = "1" });
        using var unknownField = await SendAsync(api.StandIns, accessToken, new JsonObject { ["text"] = "x " + Guid.NewGuid(), ["mystery"] = true });
        using var noToken = await SendAsync(api.StandIns, "xat_not_issued", new JsonObject { ["text"] = "y " + Guid.NewGuid() });

        Assert.Equal(HttpStatusCode.Created, reply.StatusCode);
        Assert.Equal(firstId, api.X.FindPost((string)(await reply.Content.ReadFromJsonAsync<JsonObject>(Ct))!["data"]!["id"]!)?.InReplyTo);
        Assert.Equal(HttpStatusCode.Forbidden, toNowhere.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, unknownField.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
    }

    [Fact]
    public async Task The_authorize_page_refuses_a_request_x_would_refuse_and_offers_the_button_otherwise()
    {
        using var http = new HttpClient();
        var good = QueryHelpers.AddQueryString(api.X.AuthorizeUrl, new Dictionary<string, string?>
        {
            ["response_type"] = "code", ["client_id"] = ApiFactory.XClientId, ["redirect_uri"] = ApiFactory.XRedirectUri,
            ["scope"] = "tweet.read tweet.write users.read offline.access", ["state"] = "s", ["code_challenge"] = new string('c', 43),
            ["code_challenge_method"] = "S256",
        });

        using var page = await http.GetAsync(good, Ct);
        using var otherRedirect = await http.GetAsync(good.Replace(Uri.EscapeDataString(ApiFactory.XRedirectUri), Uri.EscapeDataString("https://evil.example/cb"), StringComparison.Ordinal), Ct);
        using var plainChallenge = await http.GetAsync(good.Replace("code_challenge_method=S256", "code_challenge_method=plain", StringComparison.Ordinal), Ct);

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("Authorize app", await page.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, otherRedirect.StatusCode);
        Assert.Contains("redirect_uri", await otherRedirect.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, plainChallenge.StatusCode);
    }

    [Fact]
    public async Task The_api_offers_no_way_to_obtain_a_token_even_in_development()
    {
        // What a raw TCP relay to the API's port (ngrok tcp, ssh -R) with Host: localhost would see: no route that
        // mints tokens or signs webhooks, and nothing anonymous beyond the webhook receiver, X's redirect, health and
        // the API description.
        await using var development = api.WithWebHostBuilder(builder => builder.UseEnvironment("Development"));
        using var client = development.CreateClient();
        var attacker = ApiFactory.NewUserId();
        foreach (var path in new[] { "/dev/tokens", "/dev/clerk/user-created", "/dev/sandbox/x-accounts", "/clerk/tokens" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(new { userId = "user_victim" }) };
            request.Headers.Host = "localhost";
            // Even signed in (so that authentication-by-default does not hide the answer), there is no such route.
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", api.Clerk.Mint(attacker));
            using var response = await client.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        var anonymous = development.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IAllowAnonymous>() is not null)
            .Select(e => e.RoutePattern.RawText!.TrimEnd('/'))
            .Distinct().Order().ToArray();
        Assert.NotEmpty(anonymous);
        Assert.All(anonymous, pattern => Assert.True(
            pattern is "/api/webhooks/clerk" or "/health" or "/alive" or "/openapi/{documentName}.json"
                || pattern.StartsWith("/scalar", StringComparison.Ordinal)
                || pattern is "", // the root, which redirects to the reference
            $"{pattern} answers without authentication"));
    }

    [Fact]
    public async Task The_stand_ins_refuse_to_run_outside_development()
    {
        var (exitCode, output) = await RunStandInsProcessAsync("Production", "http://127.0.0.1:0");

        Assert.Equal(1, exitCode);
        Assert.Contains("Development only", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_stand_ins_stop_when_asked_to_listen_beyond_loopback()
    {
        var (exitCode, output) = await RunStandInsProcessAsync("Development", "http://0.0.0.0:0");

        Assert.Equal(1, exitCode);
        Assert.Contains("loopback addresses only", output, StringComparison.Ordinal);
    }

    /// <summary>Runs the stand-ins' real program, as the AppHost does, and waits (30 s at most) for it to end by itself.</summary>
    private static async Task<(int ExitCode, string Output)> RunStandInsProcessAsync(string environment, string urls)
    {
        var startInfo = new ProcessStartInfo("dotnet", [typeof(StandInsProgram).Assembly.Location])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        startInfo.Environment["ASPNETCORE_ENVIRONMENT"] = environment;
        startInfo.Environment["ASPNETCORE_URLS"] = urls;
        using var process = Process.Start(startInfo)!;
        var output = process.StandardOutput.ReadToEndAsync(Ct);
        var error = process.StandardError.ReadToEndAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The stand-ins kept running ({environment}, {urls}).");
        }

        return (process.ExitCode, await output + await error);
    }

    /// <summary>The OAuth flow against a stand-in, as the API runs it: authorize, approve, exchange the code with PKCE.</summary>
    private static async Task<string> ConnectAsync(StandInsServer standIns, string username)
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var query = new Dictionary<string, string>
        {
            ["response_type"] = "code", ["client_id"] = ApiFactory.XClientId, ["redirect_uri"] = ApiFactory.XRedirectUri,
            ["scope"] = "tweet.read tweet.write users.read offline.access", ["state"] = "state-" + Guid.NewGuid().ToString("N"),
            ["code_challenge"] = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))), ["code_challenge_method"] = "S256",
        };
        var back = new Uri(standIns.X.Approve(query, username));
        var code = QueryHelpers.ParseQuery(back.Query)["code"].ToString();
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, standIns.X.BaseUrl + "/2/oauth2/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = ApiFactory.XRedirectUri, ["code_verifier"] = verifier,
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{ApiFactory.XClientId}:{ApiFactory.XClientSecret}")));
        using var response = await http.SendAsync(request, Ct);
        response.EnsureSuccessStatusCode();
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["access_token"]!;
    }

    private static Task<HttpResponseMessage> PostAsync(StandInsServer standIns, string accessToken, string text, JsonObject? reply = null) =>
        SendAsync(standIns, accessToken, reply is null ? new JsonObject { ["text"] = text } : new JsonObject { ["text"] = text, ["reply"] = reply });

    private static async Task<HttpResponseMessage> SendAsync(StandInsServer standIns, string accessToken, JsonObject body)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, standIns.X.BaseUrl + "/2/tweets") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return await http.SendAsync(request, Ct);
    }

    private static string Base64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}
