using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Worker;

/// <summary>Threads published by the worker to the X stand-in: in order, as a reply chain, each part once.</summary>
public class ThreadPublishingTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(HttpClient Client, Guid AccountId, string Tag)> NewAccount()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.ConnectXAccountAsync(userId);
        return (api.ClientFor(userId), accountId, Guid.NewGuid().ToString("N")[..8]);
    }

    private static async Task<Guid> ScheduleThread(HttpClient client, Guid accountId, string[] texts, TimeSpan fromNow)
    {
        using var response = await client.PostAsJsonAsync("/api/posts", new
        {
            xAccountId = accountId, parts = texts.Select(text => new { text }).ToArray(),
            scheduledAt = DateTimeOffset.UtcNow.Add(fromNow).ToString("O", CultureInfo.InvariantCulture),
        }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!);
    }

    private async Task<string?> Status(Guid postId) => await api.ScalarAsync<string>("SELECT status FROM scheduled_posts WHERE id = $1", postId);

    private async Task<string> WaitForStatus(Guid postId, TimeSpan timeout, params string[] wanted)
    {
        var deadline = DateTime.UtcNow + timeout;
        string? status;
        while (Array.IndexOf(wanted, status = await Status(postId)) < 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the post is still {status} after {timeout}");
            await Task.Delay(100, Ct);
        }

        return status!;
    }

    private int CreatedOnX(string text) => api.X.CreatedPosts.Count(p => p.Text == text);

    /// <summary>Each part is on X once, with the id the API shows, replying to the part before it.</summary>
    private void AssertReplyChain(JsonObject post, string[] texts)
    {
        var parts = post["parts"]!.AsArray();
        Assert.Equal(texts.Length, parts.Count);
        string? previous = null;
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(1, CreatedOnX(texts[i]));
            var xPostId = (string)parts[i]!["xPostId"]!;
            var onX = api.X.FindPost(xPostId);
            Assert.NotNull(onX);
            Assert.Equal(texts[i], onX.Text);
            Assert.Equal(previous, onX.InReplyTo);
            Assert.Equal(api.X.BaseUrl + "/i/web/status/" + xPostId, (string?)parts[i]!["xPostUrl"]);
            previous = xPostId;
        }

        Assert.Equal((string?)parts[0]!["xPostId"], (string?)post["xPostId"]);
        Assert.Equal(texts[0], (string?)post["text"]);
    }

    [Fact]
    public async Task A_five_part_thread_is_published_in_order_each_part_replying_to_the_one_before()
    {
        var (client, accountId, tag) = await NewAccount();
        var texts = Enumerable.Range(1, 5).Select(i => $"thread {tag} part {i}/5").ToArray();
        var id = await ScheduleThread(client, accountId, texts, TimeSpan.FromSeconds(1));

        await using var worker = new WorkerFactory(api).Start();
        Assert.Equal("published", await WaitForStatus(id, TimeSpan.FromSeconds(30), "published", "failed", "unconfirmed"));

        var post = (await client.GetFromJsonAsync<JsonObject>($"/api/posts/{id}", Ct))!;
        AssertReplyChain(post, texts);
        var order = api.X.Posts.Where(p => p.Text.StartsWith($"thread {tag}", StringComparison.Ordinal)).Select(p => p.Text);
        Assert.Equal(texts, order);
        Assert.NotNull(post["publishedAt"]);
        Assert.Equal(1, await api.ScalarAsync<int>("SELECT attempts FROM scheduled_posts WHERE id = $1", id));
    }

    [Fact]
    public async Task An_unknown_outcome_mid_thread_leaves_it_unconfirmed_and_retry_continues_from_that_part()
    {
        var (client, accountId, tag) = await NewAccount();
        // X fails the third part once with a 500: nothing tells the worker whether that part exists.
        var texts = new[] { $"unsure {tag} 1", $"unsure {tag} 2", $"unsure {tag} 3 [500once]", $"unsure {tag} 4" };
        var id = await ScheduleThread(client, accountId, texts, TimeSpan.FromSeconds(1));

        await using var worker = new WorkerFactory(api).Start();
        Assert.Equal("unconfirmed", await WaitForStatus(id, TimeSpan.FromSeconds(30), "published", "failed", "unconfirmed"));

        var unconfirmed = (await client.GetFromJsonAsync<JsonObject>($"/api/posts/{id}", Ct))!;
        var parts = unconfirmed["parts"]!.AsArray();
        Assert.NotNull(parts[0]!["xPostId"]);
        Assert.NotNull(parts[1]!["xPostId"]);
        Assert.Null(parts[2]!["xPostId"]);
        Assert.Null(parts[3]!["xPostId"]);
        Assert.StartsWith("Part 3 of 4 (parts 1 to 2 are on X): ", (string?)unconfirmed["error"], StringComparison.Ordinal);
        Assert.Equal(0, CreatedOnX(texts[3]));

        using var retry = await client.PostAsync($"/api/posts/{id}/retry", null, Ct);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal("published", await WaitForStatus(id, TimeSpan.FromSeconds(30), "published", "failed", "unconfirmed"));

        AssertReplyChain((await client.GetFromJsonAsync<JsonObject>($"/api/posts/{id}", Ct))!, texts);
    }

    [Fact]
    public async Task A_part_x_refuses_fails_the_thread_with_the_reason_and_keeps_the_parts_before()
    {
        var (client, accountId, tag) = await NewAccount();
        var texts = new[] { $"refused {tag} 1", $"refused {tag} 2 [dup]", $"refused {tag} 3" };
        var id = await ScheduleThread(client, accountId, texts, TimeSpan.FromSeconds(1));

        await using var worker = new WorkerFactory(api).Start();
        Assert.Equal("failed", await WaitForStatus(id, TimeSpan.FromSeconds(30), "published", "failed", "unconfirmed"));

        var post = (await client.GetFromJsonAsync<JsonObject>($"/api/posts/{id}", Ct))!;
        Assert.Equal("Part 2 of 3 (part 1 is on X): X refused the post: You are not allowed to create a Tweet with duplicate content.", (string?)post["error"]);
        Assert.NotNull(post["parts"]![0]!["xPostId"]);
        Assert.Null(post["parts"]![1]!["xPostId"]);
        Assert.Equal(0, CreatedOnX(texts[2]));
    }
}

/// <summary>A real worker process killed (SIGKILL) in the middle of a thread.</summary>
public class ThreadCrashTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Process StartWorkerProcess() => WorkerProcess.Start(api, applicationName: "thread-crash-worker");

    [Fact]
    public async Task A_worker_killed_after_part_2_is_resumed_at_part_3_and_no_part_is_sent_twice()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.ConnectXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var texts = Enumerable.Range(1, 5).Select(i => $"crash thread {tag} {i}/5").ToArray();
        using var created = await client.PostAsJsonAsync("/api/posts", new
        {
            xAccountId = accountId, parts = texts.Select(text => new { text }).ToArray(),
            scheduledAt = DateTimeOffset.UtcNow.AddSeconds(1).ToString("O", CultureInfo.InvariantCulture),
        }, Ct);
        var id = Guid.Parse((string)(await created.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!);

        // The worker checks, with a row lock, that part 3 is unsent before sending it: holding that row stops the worker
        // exactly between part 2 (committed) and part 3 (not sent), where it is killed.
        await using var connection = await api.Database.OpenConnectionAsync(Ct);
        await using var hold = await connection.BeginTransactionAsync(Ct);
        await using (var lockPart = new Npgsql.NpgsqlCommand("SELECT 1 FROM post_parts WHERE post_id = $1 AND position = 2 FOR UPDATE", connection, hold))
        {
            lockPart.Parameters.Add(new Npgsql.NpgsqlParameter { Value = id });
            await lockPart.ExecuteNonQueryAsync(Ct);
        }

        var victim = StartWorkerProcess();
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (await api.CountAsync("""
            SELECT count(*) FROM pg_stat_activity
            WHERE application_name = 'thread-crash-worker' AND wait_event_type = 'Lock' AND query LIKE '%post_parts%'
            """) == 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"the worker never reached part 3: the post is {await api.ScalarAsync<string>("SELECT status FROM scheduled_posts WHERE id = $1", id)}, " +
                    $"{await api.CountAsync("SELECT count(*) FROM post_parts WHERE post_id = $1 AND x_post_id IS NOT NULL", id)} parts on X, " +
                    $"worker exited: {victim.HasExited}, sessions: {await api.CountAsync("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'thread-crash-worker'")}");
            }

            await Task.Delay(50, Ct);
        }

        Assert.Equal(2, await api.CountAsync("SELECT count(*) FROM post_parts WHERE post_id = $1 AND x_post_id IS NOT NULL", id));
        victim.Kill();
        await victim.WaitForExitAsync(Ct);
        victim.Dispose();
        // A dead client's backend waiting on a lock only notices when the lock is granted: end it, as a restarted server would.
        await api.CountAsync("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'thread-crash-worker') AS t");
        await hold.RollbackAsync(Ct);
        Assert.Equal(1, texts.Take(2).Max(t => api.X.CreatedPosts.Count(p => p.Text == t)));
        Assert.Equal(0, texts.Skip(2).Sum(t => api.X.CreatedPosts.Count(p => p.Text == t)));

        // Another worker recovers the claim when its lease runs out, and goes on from part 3.
        var survivor = StartWorkerProcess();
        try
        {
            deadline = DateTime.UtcNow.AddSeconds(60);
            string? status;
            while ((status = await api.ScalarAsync<string>("SELECT status FROM scheduled_posts WHERE id = $1", id)) != "published")
            {
                Assert.True(status is "scheduled" or "publishing", $"the thread is {status}");
                Assert.True(DateTime.UtcNow < deadline, "the thread was not finished in time");
                await Task.Delay(100, Ct);
            }
        }
        finally
        {
            survivor.Kill();
            survivor.Dispose();
        }

        var post = (await client.GetFromJsonAsync<JsonObject>($"/api/posts/{id}", Ct))!;
        string? previous = null;
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(1, api.X.CreatedPosts.Count(p => p.Text == texts[i]));
            var onX = api.X.FindPost((string)post["parts"]![i]!["xPostId"]!)!;
            Assert.Equal(texts[i], onX.Text);
            Assert.Equal(previous, onX.InReplyTo);
            previous = onX.Id;
        }
    }
}
