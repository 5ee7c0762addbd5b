extern alias worker;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Tests.Infrastructure;
using DuePostClaimer = worker::XGrowth.Worker.Publishing.DuePostClaimer;

namespace XGrowth.Tests.Worker;

/// <summary>
/// Claims held while X is slow, lost to another worker, or cut short by a stop; transient failures of X's token
/// endpoint after a 401. Every test uses its own account, posts and texts.
/// </summary>
public class LeaseTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(HttpClient Client, Guid AccountId, string Tag)> NewAccount()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.ConnectXAccountAsync(userId);
        return (api.ClientFor(userId), accountId, Guid.NewGuid().ToString("N")[..8]);
    }

    private sealed record Row(Guid Id, string Status, bool LeaseLive, Guid? AttemptId, bool Sent, int Attempts, string? XPostId, string? Error,
        DateTimeOffset? NotBefore);

    private async Task<List<Row>> Rows(params Guid[] ids)
    {
        await using var command = api.Database.CreateCommand("""
            SELECT id, status, lease_until > now(), attempt_id, request_sent_at IS NOT NULL, attempts, x_post_id, error, not_before
            FROM scheduled_posts WHERE id = ANY($1)
            """);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid, Value = ids });
        var rows = new List<Row>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(new Row(reader.GetGuid(0), reader.GetString(1), !reader.IsDBNull(2) && reader.GetBoolean(2),
                reader.IsDBNull(3) ? null : reader.GetGuid(3), reader.GetBoolean(4), reader.GetInt32(5),
                reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8)));
        }

        Assert.Equal(ids.Length, rows.Count);
        return rows;
    }

    private async Task<Row> Row1(Guid id) => (await Rows(id))[0];

    /// <summary>Polls (every 100 ms, at most <paramref name="timeout"/>) until the post's row satisfies <paramref name="condition"/>.</summary>
    private async Task<Row> Until(Guid id, Func<Row, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var row = await Row1(id);
            if (condition(row))
            {
                return row;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{what}: not within {timeout} (the post is {row})");
            await Task.Delay(100, Ct);
        }
    }

    private int CreatedOnX(string text) => api.X.CreatedPosts.Count(p => p.Text == text);

    /// <summary>
    /// Every request takes longer than the lease, and there are twice as many posts as the worker may publish at once:
    /// the worker claims only what it can start, and keeps its claims alive while they wait and while X works, so
    /// nothing is recovered under it (no <c>claim_lost</c>, no <c>unconfirmed</c> for a post X has).
    /// </summary>
    [Fact]
    public async Task A_slow_X_and_a_backlog_larger_than_the_concurrency_publish_everything_under_live_leases()
    {
        var (client, accountId, tag) = await NewAccount();
        api.X.CreatePostDelays[tag] = TimeSpan.FromSeconds(6);
        var texts = Enumerable.Range(0, 4).Select(i => $"backlog {i} {tag}").ToArray();
        var ids = new List<Guid>();
        foreach (var text in texts)
        {
            ids.Add(await TestPosts.ScheduleAsync(client, accountId, text, TimeSpan.FromSeconds(1)));
        }

        await using var worker = new WorkerFactory(api, leaseSeconds: 5, configure: builder =>
        {
            builder.UseSetting("PostPublishing:MaxConcurrency", "2");
            builder.UseSetting("PostPublishing:RequestTimeout", "00:00:15");
        }).Start();

        // Watch every claim while the work goes on: held means publishing, and a held claim's lease never runs out.
        var mostHeld = 0;
        var lapsed = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        List<Row> rows;
        while (true)
        {
            rows = await Rows([.. ids]);
            var held = rows.Where(r => r.Status == "publishing").ToList();
            mostHeld = Math.Max(mostHeld, held.Count);
            lapsed.AddRange(held.Where(r => !r.LeaseLive).Select(r => $"{r.Id} (sent: {r.Sent})"));
            if (rows.All(r => r.Status is not ("scheduled" or "publishing")))
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "posts still scheduled or publishing after 60 s: " + string.Join(", ", rows));
            await Task.Delay(100, Ct);
        }

        Assert.Empty(lapsed);
        Assert.InRange(mostHeld, 1, 2);
        Assert.All(rows, row =>
        {
            Assert.Equal("published", row.Status);
            Assert.False(string.IsNullOrEmpty(row.XPostId));
            Assert.Equal(1, row.Attempts);
        });
        Assert.All(texts, text => Assert.Equal(1, CreatedOnX(text)));
        Assert.DoesNotContain(worker.Logs.Lines, line => line.Contains("claim_lost", StringComparison.Ordinal));
    }

    /// <summary>
    /// X answers 401, and the refresh that should follow fails in a way that says nothing about the account (the
    /// resilience pipeline's timeout, a 503): nothing was posted, so the post goes back to <c>scheduled</c> with a
    /// back-off, the failure is logged, and the account stays connected.
    /// </summary>
    [Theory]
    [InlineData("timeout")]
    [InlineData("503")]
    public async Task A_refresh_failing_after_a_401_reschedules_the_post_with_a_back_off_and_is_logged(string failure)
    {
        var (client, accountId, tag) = await NewAccount();
        using (var scope = api.Services.CreateScope())
        {
            var token = await scope.ServiceProvider.GetRequiredService<XGrowth.X.XAccessTokens>().GetAsync(accountId, Ct);
            api.X.RevokeAccessToken(token!);
        }

        var text = $"refresh fails {tag}";
        var post = await TestPosts.ScheduleAsync(client, accountId, text, TimeSpan.FromSeconds(1));
        var refreshDelay = api.X.RefreshDelay;
        if (failure == "timeout")
        {
            api.X.RefreshDelay = TimeSpan.FromSeconds(3);
        }
        else
        {
            api.X.TokenEndpointFailure = 503;
        }

        try
        {
            await using var worker = new WorkerFactory(api, configure: builder => builder.ConfigureServices(services =>
                // The token client's pipeline (XRegistration) gives up on an attempt after 10 s; here after 1 s.
                services.PostConfigure<HttpStandardResilienceOptions>("XOAuthClient-standard", resilience =>
                {
                    resilience.AttemptTimeout.Timeout = TimeSpan.FromSeconds(1);
                    resilience.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(2);
                }))).Start();

            var row = await Until(post, r => r.Error is not null || r.Status is not ("scheduled" or "publishing"), TimeSpan.FromSeconds(15),
                "the post's outcome is recorded");

            Assert.Equal("scheduled", row.Status);
            Assert.False(row.Sent);
            Assert.Null(row.AttemptId);
            Assert.Equal(1, row.Attempts);
            Assert.True(row.NotBefore > DateTimeOffset.UtcNow.AddSeconds(10), $"not before {row.NotBefore}");
            Assert.Contains("refresh", row.Error, StringComparison.Ordinal);
            Assert.Equal(0, CreatedOnX(text));
            Assert.Equal("connected", await api.ScalarAsync<string>("SELECT status FROM x_accounts WHERE id = $1", accountId));
            var exception = failure == "timeout" ? "TimeoutRejectedException" : "HttpRequestException";
            Assert.Contains(worker.Logs.Lines, line => line.StartsWith("Warning", StringComparison.Ordinal)
                && line.Contains(post.ToString(), StringComparison.Ordinal) && line.Contains(exception, StringComparison.Ordinal));
        }
        finally
        {
            api.X.RefreshDelay = refreshDelay;
            api.X.TokenEndpointFailure = null;
        }
    }

    /// <summary>
    /// A worker that lost a claim waiting for its time (another worker recovered it) and claimed the same post again
    /// holds two attempts of one post. The lost one ends with <c>claim_lost</c>; the other, in flight when the worker
    /// stops, is still waited for and recorded.
    /// </summary>
    [Fact]
    public async Task A_post_claimed_again_by_the_same_worker_is_still_finished_when_the_worker_stops()
    {
        var (client, accountId, tag) = await NewAccount();
        api.X.CreatePostDelays[tag] = TimeSpan.FromSeconds(3);
        var text = $"claimed twice {tag}";
        var post = await TestPosts.ScheduleAsync(client, accountId, text, TimeSpan.FromSeconds(8));
        var worker = new WorkerFactory(api, configure: builder =>
        {
            builder.UseSetting("PostPublishing:Lookahead", "00:00:15");
            builder.UseSetting("PostPublishing:RequestTimeout", "00:00:10");
        }).Start();
        try
        {
            var first = (await Until(post, r => r.AttemptId is not null, TimeSpan.FromSeconds(10), "claimed ahead of its time")).AttemptId;

            // What another worker's recovery does to a claim whose lease ran out before its request left.
            await using (var recover = api.Database.CreateCommand("""
                UPDATE scheduled_posts SET status = 'scheduled', attempt_id = NULL, claimed_by = NULL, lease_until = NULL
                WHERE id = $1 AND attempt_id = $2 AND request_sent_at IS NULL
                """))
            {
                recover.Parameters.Add(new NpgsqlParameter { Value = post });
                recover.Parameters.Add(new NpgsqlParameter { Value = first! });
                Assert.Equal(1, await recover.ExecuteNonQueryAsync(Ct));
            }

            var second = (await Until(post, r => r.AttemptId is { } id && id != first, TimeSpan.FromSeconds(5), "claimed again")).AttemptId;
            await Until(post, r => r.Sent && r.AttemptId == second, TimeSpan.FromSeconds(15), "the second attempt's request left");
        }
        finally
        {
            // Stops while the request is in flight: X answers within the shutdown grace.
            await worker.DisposeAsync();
        }

        var row = await Row1(post);
        Assert.Equal("published", row.Status);
        Assert.False(string.IsNullOrEmpty(row.XPostId));
        Assert.Equal(1, CreatedOnX(text));
        Assert.Contains(worker.Logs.Lines, line => line.Contains($"Post {post}: claim_lost", StringComparison.Ordinal));
    }

    /// <summary>
    /// A worker claimed the post and died before its request left; the lease gives it back and another worker
    /// publishes it. <c>attempts</c> counts requests that may have reached X: one.
    /// </summary>
    [Fact]
    public async Task A_claim_recovered_before_its_request_left_does_not_count_as_an_attempt()
    {
        var (client, accountId, tag) = await NewAccount();
        var text = $"recovered {tag}";
        var post = await TestPosts.ScheduleAsync(client, accountId, text, TimeSpan.FromSeconds(1));
        // The production claim, by a worker that then dies: its lease runs out as soon as it is taken.
        var dead = new DuePostClaimer(api.Database, TimeProvider.System);
        var claimed = await dead.ClaimAsync(DateTimeOffset.UtcNow.AddSeconds(5), 1000, "dead-worker", TimeSpan.Zero, Ct);
        Assert.Contains(claimed, c => c.Id == post);

        await using var worker = new WorkerFactory(api).Start();
        var row = await Until(post, r => r.Status is not ("scheduled" or "publishing"), TimeSpan.FromSeconds(30), "published");

        Assert.Equal("published", row.Status);
        Assert.Equal(1, row.Attempts);
        Assert.Equal(1, CreatedOnX(text));
    }
}
