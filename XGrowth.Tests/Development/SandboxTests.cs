extern alias worker;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using XGrowth.Tests.Infrastructure;
using XGrowth.Tests.Worker;

namespace XGrowth.Tests.Development;

/// <summary>Sandbox X accounts: made by the development endpoint, published by the real worker to the API's X sandbox.</summary>
public class SandboxTests(DevelopmentApiFactory api) : IClassFixture<DevelopmentApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A real worker in Development whose "network" to the X sandbox is the API's test server.</summary>
    private WorkerFactory SandboxWorker(string? sandboxUrl = "http://localhost/dev/x-sandbox", string environment = "Development") =>
        new(api, configure: builder =>
        {
            builder.UseEnvironment(environment);
            if (sandboxUrl is not null)
            {
                builder.UseSetting("X:SandboxApiBaseUrl", sandboxUrl);
            }

            builder.ConfigureTestServices(services => services.AddHttpClient<worker::XGrowth.Worker.Publishing.XPostClient>()
                .ConfigurePrimaryHttpMessageHandler(() => api.Server.CreateHandler()));
        });

    private static async Task<JsonObject> AddSandboxAccountAsync(HttpClient client, string? username = null)
    {
        using var response = await client.PostAsJsonAsync("/dev/sandbox/x-accounts", new { username }, Ct);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
        return (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
    }

    private async Task<JsonObject> WaitForFinalAsync(HttpClient client, Guid postId, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var post = (await client.GetFromJsonAsync<JsonObject>($"/api/posts/{postId}", Ct))!;
            if ((string?)post["status"] is not ("scheduled" or "publishing") || DateTime.UtcNow > deadline)
            {
                return post;
            }

            await Task.Delay(100, Ct);
        }
    }

    [Fact]
    public async Task Adding_a_sandbox_account_is_idempotent_and_it_is_listed_as_sandbox()
    {
        using var client = await api.LocalClientForAsync(ApiFactory.NewUserId());
        using var first = await client.PostAsJsonAsync("/dev/sandbox/x-accounts", new { username = "sandbox_amy" }, Ct);
        using var again = await client.PostAsJsonAsync("/dev/sandbox/x-accounts", new { username = "sandbox_amy" }, Ct);
        using var empty = await client.PostAsync("/dev/sandbox/x-accounts", null, Ct);
        var accounts = (await client.GetFromJsonAsync<JsonObject>("/api/x-accounts", Ct))!["items"]!.AsArray();

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(HttpStatusCode.Created, empty.StatusCode);
        var firstAccount = (await first.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.Equal((string?)firstAccount["id"], (string?)(await again.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]);
        Assert.Equal(2, accounts.Count);
        Assert.All(accounts, account => Assert.True((bool)account!["sandbox"]!));
        Assert.Contains(accounts, account => (string?)account!["username"] == "sandbox_dev");
        Assert.Equal("connected", (string?)firstAccount["status"]);
        // Its token is stored encrypted like a real one.
        Assert.DoesNotContain("sandbox_", await api.ScalarAsync<string>("SELECT access_token_protected FROM x_accounts WHERE id = $1",
            Guid.Parse((string)firstAccount["id"]!)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "username": "has spaces" }""")]
    [InlineData("""{ "username": "much_too_long_for_x" }""")]
    [InlineData("""{ "username": 42 }""")]
    [InlineData("""{ "username": "ok", "sandbox": false }""")]
    public async Task Bad_sandbox_account_requests_are_400_and_write_nothing(string json)
    {
        var userId = ApiFactory.NewUserId();
        using var client = await api.LocalClientForAsync(userId);
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("/dev/sandbox/x-accounts", content, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM x_accounts WHERE user_id = $1", userId));
    }

    [Fact]
    public async Task Adding_a_sandbox_account_needs_a_signed_in_user()
    {
        using var client = api.CreateClient();
        using var response = await client.PostAsJsonAsync("/dev/sandbox/x-accounts", new { username = "sandbox_x" }, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_sandbox_post_is_published_by_the_worker_to_the_sandbox_and_never_to_x()
    {
        using var client = await api.LocalClientForAsync(ApiFactory.NewUserId());
        var account = await AddSandboxAccountAsync(client);
        var text = "sandbox hello " + Guid.NewGuid().ToString("N")[..8];
        await using var worker = SandboxWorker().Start();

        var postId = await TestPosts.ScheduleAsync(client, Guid.Parse((string)account["id"]!), text, TimeSpan.FromSeconds(2));
        var post = await WaitForFinalAsync(client, postId, TimeSpan.FromSeconds(20));

        Assert.Equal("published", (string?)post["status"]);
        Assert.StartsWith("sandbox-", (string?)post["xPostId"], StringComparison.Ordinal);
        Assert.Null(post["xPostUrl"]);
        Assert.NotNull(post["publishedAt"]);
        var sandboxPosts = (await client.GetFromJsonAsync<JsonObject>("/dev/x-sandbox/posts", Ct))!["items"]!.AsArray();
        Assert.Single(sandboxPosts, p => (string?)p!["text"] == text && (string?)p["id"] == (string?)post["xPostId"]);
        Assert.DoesNotContain(api.X.CreatedPosts, p => p.Text == text);
        // The real state machine ran: one claim, the request marked sent before it left.
        Assert.Equal(1, await api.ScalarAsync<int>("SELECT attempts FROM scheduled_posts WHERE id = $1", postId));
        Assert.NotNull(await api.ScalarAsync<DateTime?>("SELECT request_sent_at FROM scheduled_posts WHERE id = $1", postId));
    }

    [Fact]
    public async Task The_sandbox_refuses_duplicate_content_as_x_does()
    {
        using var client = await api.LocalClientForAsync(ApiFactory.NewUserId());
        var accountId = Guid.Parse((string)(await AddSandboxAccountAsync(client))["id"]!);
        var text = "twice " + Guid.NewGuid().ToString("N")[..8];
        await using var worker = SandboxWorker().Start();

        var first = await TestPosts.ScheduleAsync(client, accountId, text, TimeSpan.FromSeconds(1));
        var second = await TestPosts.ScheduleAsync(client, accountId, text, TimeSpan.FromSeconds(3));
        var firstPost = await WaitForFinalAsync(client, first, TimeSpan.FromSeconds(20));
        var secondPost = await WaitForFinalAsync(client, second, TimeSpan.FromSeconds(20));

        Assert.Equal("published", (string?)firstPost["status"]);
        Assert.Equal("failed", (string?)secondPost["status"]);
        Assert.Contains("duplicate content", (string?)secondPost["error"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_sandbox_url_a_sandbox_post_fails_and_nothing_is_sent_anywhere()
    {
        using var client = await api.LocalClientForAsync(ApiFactory.NewUserId());
        var accountId = Guid.Parse((string)(await AddSandboxAccountAsync(client))["id"]!);
        var text = "nowhere " + Guid.NewGuid().ToString("N")[..8];
        await using var worker = SandboxWorker(sandboxUrl: null, environment: "Testing").Start();

        var postId = await TestPosts.ScheduleAsync(client, accountId, text, TimeSpan.FromSeconds(1));
        var post = await WaitForFinalAsync(client, postId, TimeSpan.FromSeconds(20));

        Assert.Equal("failed", (string?)post["status"]);
        Assert.Contains("sandbox", (string?)post["error"], StringComparison.Ordinal);
        Assert.DoesNotContain(api.X.CreatedPosts, p => p.Text == text);
        Assert.DoesNotContain(api.Services.GetRequiredService<XGrowth.Api.Development.XSandbox>().Posts(), p => p.Text == text);
        Assert.Null(await api.ScalarAsync<DateTime?>("SELECT request_sent_at FROM scheduled_posts WHERE id = $1", postId));
    }

    [Fact]
    public void The_worker_refuses_to_start_with_a_sandbox_url_outside_development()
    {
        using var worker = SandboxWorker(environment: "Production");
        var error = Assert.ThrowsAny<Exception>(() => worker.Start());
        Assert.Contains("X:SandboxApiBaseUrl is set, but the environment is Production", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sandbox_answers_like_x_to_a_bad_token_and_a_missing_text()
    {
        using var client = api.CreateClient();
        using var noToken = await client.PostAsJsonAsync("/dev/x-sandbox/2/tweets", new { text = "hi" }, Ct);
        client.DefaultRequestHeaders.Authorization = new("Bearer", "sandbox_abc");
        using var noText = await client.PostAsJsonAsync("/dev/x-sandbox/2/tweets", new { }, Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, noText.StatusCode);
        Assert.Equal("application/problem+json", noText.Content.Headers.ContentType?.MediaType);
    }
}
