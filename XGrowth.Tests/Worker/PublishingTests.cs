using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Worker;

/// <summary>Schedules posts through the API, as the frontend does.</summary>
internal static class TestPosts
{
    public static async Task<Guid> ScheduleAsync(HttpClient client, Guid accountId, string text, TimeSpan fromNow)
    {
        using var response = await client.PostAsJsonAsync("/api/posts", new
        {
            xAccountId = accountId, text, scheduledAt = DateTimeOffset.UtcNow.Add(fromNow).ToString("O", CultureInfo.InvariantCulture),
        }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken))!["id"]!);
    }

    /// <summary>
    /// Schedules a post due <paramref name="fromNow"/> and waits (at most 20 s) until the worker has published it:
    /// evidence that the worker went on claiming and publishing past the posts a test watches, where a fixed sleep
    /// would only hope so.
    /// </summary>
    public static async Task PublishSentinelAsync(ApiFactory api, HttpClient client, Guid accountId, TimeSpan fromNow)
    {
        var id = await ScheduleAsync(client, accountId, $"sentinel {Guid.NewGuid():N}", fromNow);
        var deadline = DateTime.UtcNow + fromNow + TimeSpan.FromSeconds(20);
        string? status;
        while ((status = await api.ScalarAsync<string>("SELECT status FROM scheduled_posts WHERE id = $1", id)) != "published")
        {
            Assert.True(status is "scheduled" or "publishing", $"the sentinel post is {status}");
            Assert.True(DateTime.UtcNow < deadline, "the worker did not publish the sentinel post in time");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }
}

/// <summary>The worker against the fake X: every test uses its own account, posts and texts.</summary>
public class PublishingTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(HttpClient Client, Guid AccountId, string Tag)> NewAccount()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.ConnectXAccountAsync(userId);
        return (api.ClientFor(userId), accountId, Guid.NewGuid().ToString("N")[..8]);
    }

    private static Task<Guid> Schedule(HttpClient client, Guid accountId, string text, TimeSpan fromNow) =>
        TestPosts.ScheduleAsync(client, accountId, text, fromNow);

    private async Task<string?> Status(Guid postId) => await api.ScalarAsync<string>("SELECT status FROM scheduled_posts WHERE id = $1", postId);

    /// <summary>Waits (bounded) until every post has left <paramref name="from"/>.</summary>
    private async Task WaitUntilNotIn(IEnumerable<Guid> postIds, TimeSpan timeout, params string[] from)
    {
        var ids = postIds.ToArray();
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var statuses = await Task.WhenAll(ids.Select(Status));
            if (statuses.All(s => !from.Contains(s)))
            {
                return;
            }

            await Task.Delay(100, Ct);
        }

        Assert.Fail($"posts still in {string.Join('/', from)} after {timeout}");
    }

    private int CreatedOnX(string text) => api.X.CreatedPosts.Count(p => p.Text == text);

    [Fact]
    public async Task Due_posts_are_published_exactly_once_with_their_text()
    {
        var (client, accountId, tag) = await NewAccount();
        var texts = Enumerable.Range(0, 20).Select(i => $"post {i} {tag}").ToArray();
        var ids = new List<Guid>();
        foreach (var text in texts)
        {
            ids.Add(await Schedule(client, accountId, text, TimeSpan.FromSeconds(1)));
        }

        await using var worker = new WorkerFactory(api).Start();
        await WaitUntilNotIn(ids, TimeSpan.FromSeconds(30), "scheduled", "publishing");

        Assert.All(texts, text => Assert.Equal(1, CreatedOnX(text)));
        foreach (var id in ids)
        {
            var post = (await client.GetFromJsonAsync<JsonObject>($"/api/posts/{id}", Ct))!;
            Assert.Equal("published", (string?)post["status"]);
            Assert.False(string.IsNullOrEmpty((string?)post["xPostId"]));
            // The link is X:WebUrl's: X's website in production, the X stand-in's page here, which holds the post.
            Assert.Equal(api.X.BaseUrl + "/i/web/status/" + (string?)post["xPostId"], (string?)post["xPostUrl"]);
            Assert.Equal((string?)post["text"], api.X.FindPost((string)post["xPostId"]!)?.Text);
            Assert.NotNull(post["publishedAt"]);
        }
    }

    [Fact]
    public async Task Three_workers_on_the_same_posts_publish_each_once()
    {
        var (client, accountId, tag) = await NewAccount();
        var ids = new List<Guid>();
        for (var i = 0; i < 60; i++)
        {
            ids.Add(await Schedule(client, accountId, $"shared {i} {tag}", TimeSpan.FromSeconds(1)));
        }

        await using var first = new WorkerFactory(api).Start();
        await using var second = new WorkerFactory(api).Start();
        await using var third = new WorkerFactory(api).Start();
        await WaitUntilNotIn(ids, TimeSpan.FromSeconds(30), "scheduled", "publishing");

        for (var i = 0; i < 60; i++)
        {
            Assert.Equal(1, CreatedOnX($"shared {i} {tag}"));
        }
    }

    [Fact]
    public async Task Errors_are_handled_by_class()
    {
        var (client, accountId, tag) = await NewAccount();
        var duplicate = await Schedule(client, accountId, $"[dup] {tag}", TimeSpan.FromSeconds(1));
        var serverError = await Schedule(client, accountId, $"[500] {tag}", TimeSpan.FromSeconds(1));

        await using var worker = new WorkerFactory(api).Start();
        await WaitUntilNotIn([duplicate, serverError], TimeSpan.FromSeconds(30), "scheduled", "publishing");

        Assert.Equal("failed", await Status(duplicate));
        Assert.Contains("duplicate content", await api.ScalarAsync<string>("SELECT error FROM scheduled_posts WHERE id = $1", duplicate), StringComparison.Ordinal);
        Assert.Equal("unconfirmed", await Status(serverError));
        Assert.Equal(0, CreatedOnX($"[dup] {tag}") + CreatedOnX($"[500] {tag}"));
        // Never retried blindly: a later post goes out, and the unconfirmed one stays as it was, its one attempt counted.
        await TestPosts.PublishSentinelAsync(api, client, accountId, TimeSpan.FromSeconds(1));
        Assert.Equal("unconfirmed", await Status(serverError));
        Assert.Equal(1, await api.ScalarAsync<int>("SELECT attempts FROM scheduled_posts WHERE id = $1", serverError));
    }

    [Fact]
    public async Task Rate_limit_waits_for_the_reset_then_publishes_once()
    {
        var (client, accountId, tag) = await NewAccount();
        var post = await Schedule(client, accountId, $"[429] {tag}", TimeSpan.FromSeconds(1));

        await using var worker = new WorkerFactory(api).Start();
        await WaitUntilNotIn([post], TimeSpan.FromSeconds(20), "scheduled", "publishing");

        Assert.Equal("published", await Status(post));
        Assert.Equal(1, CreatedOnX($"[429] {tag}"));
        Assert.NotNull(await api.ScalarAsync<DateTime?>("SELECT rate_limited_until FROM x_accounts WHERE id = $1", accountId));
    }

    [Fact]
    public async Task A_refused_token_is_refreshed_once_and_the_post_published()
    {
        var (client, accountId, tag) = await NewAccount();
        using (var scope = api.Services.CreateScope())
        {
            var token = await scope.ServiceProvider.GetRequiredService<XGrowth.X.XAccessTokens>().GetAsync(accountId, Ct);
            api.X.RevokeAccessToken(token!);
        }

        var refreshesBefore = api.X.RefreshCalls;
        var post = await Schedule(client, accountId, $"after 401 {tag}", TimeSpan.FromSeconds(1));

        await using var worker = new WorkerFactory(api).Start();
        await WaitUntilNotIn([post], TimeSpan.FromSeconds(30), "scheduled", "publishing");

        Assert.Equal("published", await Status(post));
        Assert.Equal(1, api.X.RefreshCalls - refreshesBefore);
        Assert.Equal(1, CreatedOnX($"after 401 {tag}"));
    }

    [Fact]
    public async Task Connection_refused_is_retried_later_not_marked_unknown()
    {
        var (client, accountId, tag) = await NewAccount();
        var post = await Schedule(client, accountId, $"refused {tag}", TimeSpan.FromSeconds(1));
        using var closed = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();

        await using (var worker = new WorkerFactory(api, $"http://127.0.0.1:{port}").Start())
        {
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (await api.ScalarAsync<int>("SELECT attempts FROM scheduled_posts WHERE id = $1", post) == 0 || await Status(post) == "publishing")
            {
                Assert.True(DateTime.UtcNow < deadline, "no attempt was made");
                await Task.Delay(100, Ct);
            }
        }

        Assert.Equal("scheduled", await Status(post));
        Assert.True(await api.ScalarAsync<DateTime?>("SELECT not_before FROM scheduled_posts WHERE id = $1", post) > DateTime.UtcNow.AddSeconds(10));
        Assert.Contains("could not be reached", await api.ScalarAsync<string>("SELECT error FROM scheduled_posts WHERE id = $1", post), StringComparison.Ordinal);
        Assert.Equal(0, CreatedOnX($"refused {tag}"));
    }

    [Fact]
    public async Task Cancelled_or_edited_posts_publish_what_the_user_ended_up_with()
    {
        var (client, accountId, tag) = await NewAccount();
        var cancelled = await Schedule(client, accountId, $"cancel me {tag}", TimeSpan.FromSeconds(3));
        var edited = await Schedule(client, accountId, $"before edit {tag}", TimeSpan.FromSeconds(3));
        using (await client.DeleteAsync($"/api/posts/{cancelled}", Ct))
        {
        }

        using (var patch = await client.PatchAsJsonAsync($"/api/posts/{edited}", new { text = $"after edit {tag}" }, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        await using var worker = new WorkerFactory(api).Start();
        await WaitUntilNotIn([edited], TimeSpan.FromSeconds(30), "scheduled", "publishing");

        Assert.Equal(1, CreatedOnX($"after edit {tag}"));
        Assert.Equal(0, CreatedOnX($"before edit {tag}"));
        Assert.Equal(0, CreatedOnX($"cancel me {tag}"));
        Assert.Equal("cancelled", await Status(cancelled));
    }

    [Fact]
    public async Task Late_posts_are_missed_and_expired_claims_recovered_without_publishing_twice()
    {
        var (_, accountId, tag) = await NewAccount();
        var missed = Guid.NewGuid();
        var neverSent = Guid.NewGuid();
        var maybeSent = Guid.NewGuid();
        await using (var seed = api.Database.CreateCommand("""
            WITH posts AS (
                INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, created_at, updated_at, attempts, attempt_id, claimed_by, lease_until, request_sent_at)
                VALUES ($1, $4, now() - interval '2 hours', 'scheduled', now(), now(), 0, NULL, NULL, NULL, NULL),
                       ($2, $4, now() - interval '1 minute', 'publishing', now(), now(), 1, gen_random_uuid(), 'crashed', now() - interval '1 second', NULL),
                       ($3, $4, now() - interval '1 minute', 'publishing', now(), now(), 1, gen_random_uuid(), 'crashed', now() - interval '1 second', now() - interval '50 seconds')
                RETURNING id)
            INSERT INTO post_parts (post_id, position, text)
            SELECT id, 0, CASE id WHEN $1 THEN 'missed ' WHEN $2 THEN 'never sent ' ELSE 'maybe sent ' END || $5 FROM posts
            """))
        {
            seed.Parameters.Add(new() { Value = missed });
            seed.Parameters.Add(new() { Value = neverSent });
            seed.Parameters.Add(new() { Value = maybeSent });
            seed.Parameters.Add(new() { Value = accountId });
            seed.Parameters.Add(new() { Value = tag });
            await seed.ExecuteNonQueryAsync(Ct);
        }

        await using var worker = new WorkerFactory(api).Start();
        await WaitUntilNotIn([missed, neverSent, maybeSent], TimeSpan.FromSeconds(30), "scheduled", "publishing");

        Assert.Equal("missed", await Status(missed));
        Assert.Equal("published", await Status(neverSent));
        Assert.Equal("unconfirmed", await Status(maybeSent));
        Assert.Equal(0, CreatedOnX($"missed {tag}"));
        Assert.Equal(1, CreatedOnX($"never sent {tag}"));
        Assert.Equal(0, CreatedOnX($"maybe sent {tag}"));
    }
}

public class RetryAndDismissTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<Guid> PostIn(string userId, Guid accountId, string status)
    {
        var id = Guid.NewGuid();
        await using var seed = api.Database.CreateCommand("""
            WITH post AS (
                INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, error, created_at, updated_at, attempts)
                VALUES ($1, $2, now() - interval '10 minutes', $3, 'X answered 503', now(), now(), 1) RETURNING id)
            INSERT INTO post_parts (post_id, position, text) SELECT id, 0, 'needs a decision' FROM post
            """);
        seed.Parameters.Add(new() { Value = id });
        seed.Parameters.Add(new() { Value = accountId });
        seed.Parameters.Add(new() { Value = status });
        await seed.ExecuteNonQueryAsync(Ct);
        return id;
    }

    [Theory]
    [InlineData("unconfirmed")]
    [InlineData("missed")]
    [InlineData("failed")]
    public async Task Retry_schedules_the_post_for_now_and_dismiss_cancels_it(string status)
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        var toRetry = await PostIn(userId, accountId, status);
        var toDismiss = await PostIn(userId, accountId, status);

        using var retried = await client.PostAsync($"/api/posts/{toRetry}/retry", null, Ct);
        using var dismissed = await client.PostAsync($"/api/posts/{toDismiss}/dismiss", null, Ct);

        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal(HttpStatusCode.OK, dismissed.StatusCode);
        var post = (await retried.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.Equal("scheduled", (string?)post["status"]);
        Assert.True(DateTimeOffset.Parse((string)post["scheduledAt"]!, CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Null(post["error"]);
        Assert.Equal("cancelled", (string?)(await dismissed.Content.ReadFromJsonAsync<JsonObject>(Ct))!["status"]);
    }

    [Fact]
    public async Task Only_posts_waiting_for_a_decision_can_be_retried_and_only_by_their_owner()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        using var other = api.ClientFor(ApiFactory.NewUserId());
        var published = await PostIn(userId, accountId, "published");
        var unconfirmed = await PostIn(userId, accountId, "unconfirmed");

        using var notNeeded = await client.PostAsync($"/api/posts/{published}/retry", null, Ct);
        using var notYours = await other.PostAsync($"/api/posts/{unconfirmed}/retry", null, Ct);

        Assert.Equal(HttpStatusCode.Conflict, notNeeded.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, notYours.StatusCode);
        Assert.Equal("unconfirmed", await api.ScalarAsync<string>("SELECT status FROM scheduled_posts WHERE id = $1", unconfirmed));
    }
}

public class PublishingEdgeTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<string?> Status(Guid postId) => await api.ScalarAsync<string>("SELECT status FROM scheduled_posts WHERE id = $1", postId);

    private static Task<Guid> Schedule(HttpClient client, Guid accountId, string text, TimeSpan fromNow) =>
        TestPosts.ScheduleAsync(client, accountId, text, fromNow);

    private async Task WaitForStatus(Guid postId, string status, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (await Status(postId) != status)
        {
            Assert.True(DateTime.UtcNow < deadline, $"post is {await Status(postId)}, not {status}");
            await Task.Delay(100, Ct);
        }
    }

    [Fact]
    public async Task A_timeout_makes_the_post_unconfirmed_never_retried_blindly()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.ConnectXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var post = await Schedule(client, accountId, $"[slow] {tag}", TimeSpan.FromSeconds(1));

        await using var worker = new WorkerFactory(api).Start();
        await WaitForStatus(post, "unconfirmed", TimeSpan.FromSeconds(20));
        // X did create it, after the worker stopped waiting: exactly why it is not retried.
        var deadline = DateTime.UtcNow + XGrowth.DevStandIns.X.XStandIn.SlowAnswerDelay + TimeSpan.FromSeconds(10);
        while (api.X.CreatedPosts.Count(p => p.Text == $"[slow] {tag}") == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "X never created the slow post");
            await Task.Delay(100, Ct);
        }

        await TestPosts.PublishSentinelAsync(api, client, accountId, TimeSpan.FromSeconds(1));

        Assert.Equal("unconfirmed", await Status(post));
        Assert.Contains("did not answer in time", await api.ScalarAsync<string>("SELECT error FROM scheduled_posts WHERE id = $1", post), StringComparison.Ordinal);
        Assert.Equal(1, api.X.CreatedPosts.Count(p => p.Text == $"[slow] {tag}"));
        Assert.Equal(1, await api.ScalarAsync<int>("SELECT attempts FROM scheduled_posts WHERE id = $1", post));
    }

    [Fact]
    public async Task Posts_of_a_disconnected_account_are_not_published()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.ConnectXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var post = await Schedule(client, accountId, $"orphan {tag}", TimeSpan.FromSeconds(2));
        using (var disconnect = await client.DeleteAsync($"/api/x-accounts/{accountId}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, disconnect.StatusCode);
        }

        await using var worker = new WorkerFactory(api).Start();
        // Another account's post, due after the orphan: once it is published, the worker has gone past the orphan's time.
        var otherUser = ApiFactory.NewUserId();
        var otherAccount = await api.ConnectXAccountAsync(otherUser);
        using var otherClient = api.ClientFor(otherUser);
        await TestPosts.PublishSentinelAsync(api, otherClient, otherAccount, TimeSpan.FromSeconds(3));

        Assert.Equal("cancelled", await Status(post));
        Assert.Equal(0, api.X.CreatedPosts.Count(p => p.Text == $"orphan {tag}"));
    }

    [Fact]
    public async Task Publication_is_a_span_linked_to_the_request_that_created_the_post()
    {
        var spans = new System.Collections.Concurrent.ConcurrentQueue<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == "XGrowth.Worker.Publishing",
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        var userId = ApiFactory.NewUserId();
        var accountId = await api.ConnectXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        var post = await Schedule(client, accountId, $"traced {Guid.NewGuid():N}", TimeSpan.FromSeconds(1));
        var creation = await api.ScalarAsync<string>("SELECT creation_trace_parent FROM scheduled_posts WHERE id = $1", post);
        Assert.False(string.IsNullOrEmpty(creation));

        await using var worker = new WorkerFactory(api).Start();
        await WaitForStatus(post, "published", TimeSpan.FromSeconds(20));

        var span = Assert.Single(spans, s => s.OperationName == "publish post" && Equals(s.GetTagItem("xgrowth.post_id"), post));
        Assert.Equal("published", span.GetTagItem("xgrowth.publish.outcome"));
        Assert.NotNull(span.GetTagItem("xgrowth.publish.lateness_ms"));
        Assert.Contains(span.Links, link => link.Context.TraceId.ToString() == creation!.Split('-')[1]);
        Assert.NotEqual(creation!.Split('-')[1], span.TraceId.ToString());
    }
}
