using System.Globalization;
using Microsoft.AspNetCore.Hosting;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Analytics;

/// <summary>Accounts, published posts and collectors for the analytics tests, each test with its own.</summary>
internal static class AnalyticsTestData
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A worker that collects analytics (and publishes), polling every 200 ms.</summary>
    public static WorkerFactory Collector(ApiFactory api, params (string Key, string Value)[] settings) =>
        new WorkerFactory(api, configure: builder =>
        {
            builder.UseSetting("Analytics:Enabled", "true");
            builder.UseSetting("Analytics:RetryDelay", "00:01:00");
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        }).Start();

    public sealed record Account(Guid Id, string XUserId, string UserId);

    /// <summary>An account connected through X's OAuth flow on the stand-in.</summary>
    public static async Task<Account> ConnectAsync(ApiFactory api)
    {
        var userId = ApiFactory.NewUserId();
        var xUserId = Random.Shared.NextInt64(1_000_000_000_000_000_000, long.MaxValue).ToString(CultureInfo.InvariantCulture);
        return new Account(await api.ConnectXAccountAsync(userId, xUserId), xUserId, userId);
    }

    /// <summary>
    /// A post published <paramref name="age"/> ago: on X (the stand-in, created then), and in the database as the
    /// publisher leaves it (its first reading due an hour after publishing). Answers its id and X's id.
    /// </summary>
    public static async Task<(Guid Id, string XPostId)> PublishedPostAsync(ApiFactory api, Account account, TimeSpan age)
    {
        var publishedAt = DateTimeOffset.UtcNow - age;
        var xPostId = api.X.AddPost(account.XUserId, "x_" + account.XUserId[..6], $"analytics {Guid.NewGuid():N}", publishedAt);
        var id = Guid.CreateVersion7();
        await using var command = api.Database.CreateCommand("""
            WITH post AS (
                INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, x_post_id, published_at, metrics_due_at, attempts, created_at, updated_at)
                VALUES ($1, $2, $3, 'published', $4, $3, $3 + interval '1 hour', 1, $3, $3) RETURNING id, x_post_id, published_at)
            INSERT INTO post_parts (post_id, position, text, x_post_id, published_at) SELECT id, 0, 'analytics test post', x_post_id, published_at FROM post
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = account.Id });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = publishedAt });
        command.Parameters.Add(new NpgsqlParameter { Value = xPostId });
        await command.ExecuteNonQueryAsync(Ct);
        return (id, xPostId);
    }

    /// <summary>Polls <paramref name="condition"/> every 100 ms until it holds; fails after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(100, Ct);
        }
    }

    public static Task<long> SnapshotsAsync(ApiFactory api, Guid accountId) =>
        api.CountAsync("SELECT count(*) FROM follower_snapshots WHERE x_account_id = $1", accountId);

    public static Task<long> ReadingsAsync(ApiFactory api, Guid postId) =>
        api.CountAsync("SELECT count(*) FROM post_metric_readings WHERE scheduled_post_id = $1", postId);

    /// <summary>
    /// Evidence that the collector went on working after the moment a test looks at: a new account connected now,
    /// whose first snapshot it takes.
    /// </summary>
    public static async Task SentinelSnapshotAsync(ApiFactory api)
    {
        var sentinel = await ConnectAsync(api);
        await WaitUntilAsync(async () => await SnapshotsAsync(api, sentinel.Id) == 1, TimeSpan.FromSeconds(30), "the sentinel account has its snapshot");
    }
}
