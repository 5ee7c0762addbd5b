using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Bench;

/// <summary>
/// Analytics at scale, on a local PostgreSQL with the services as separate processes:
/// (1) one full collection round for 10,000 accounts and 200,000 published posts, every snapshot and every post's
/// reading due at once, by 2 worker processes against a fake X that answers in 20 ms: its duration, the requests sent,
/// PostgreSQL's writes per second; (2) the summary endpoint of an account with 2 years of snapshots and 5,000 posts,
/// at 8 concurrent clients: throughput and p99.
/// Run: <c>dotnet run -c Release --project bench/AnalyticsBench [-- accounts posts]</c>.
/// </summary>
internal static class AnalyticsBenchmark
{
    private const string Issuer = "https://bench.clerk.accounts.dev";
    private const string SummaryUser = "user_summary_bench";

    private static async Task Main(string[] args)
    {
        var accounts = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
        var posts = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200_000;
        using var signingKey = RSA.Create(2048);
        using var database = await BenchDatabase.StartAsync();
        var fakeX = await FakeMetricsX.StartAsync();
        using var api = await ApiProcess.StartAsync(database.ConnectionString, 8, new Dictionary<string, string>
        {
            ["Clerk__Issuer"] = Issuer,
            ["Clerk__JwtKey"] = signingKey.ExportSubjectPublicKeyInfoPem(),
            ["Clerk__AuthorizedParties"] = "http://localhost:3000",
        });
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);

        await CollectionRoundAsync(dataSource, database.ConnectionString, fakeX, accounts, posts);
        await SummaryAsync(dataSource, api, signingKey);
        await fakeX.DisposeAsync();
    }

    private static async Task CollectionRoundAsync(NpgsqlDataSource dataSource, string connectionString, FakeMetricsX fakeX, int accounts, int posts)
    {
        var seeding = Stopwatch.StartNew();
        var ids = await BenchAccounts.SeedConnectedAsync(dataSource, accounts);
        await SeedPostsAsync(dataSource, ids, posts);
        await ExecuteAsync(dataSource, "VACUUM ANALYZE");
        Console.WriteLine($"Seeded {accounts:N0} accounts and {posts:N0} published posts (ages 2 h to 10 days) in {seeding.Elapsed.TotalSeconds:F0} s");

        var settings = new Dictionary<string, string>
        {
            ["X__ApiBaseUrl"] = fakeX.BaseUrl,
            ["Logging__LogLevel__Default"] = "Warning",
            ["Analytics__PollInterval"] = "00:00:01",
            ["Analytics__MaxConcurrency"] = "64",
            ["Analytics__MaxReadsPerDay"] = "10000000",
        };
        var (writesBefore, commitsBefore) = await WritesAsync(dataSource);
        var started = Stopwatch.StartNew();
        using var worker1 = await ApiProcess.StartAsync("XGrowth.Worker.dll", connectionString, 4, settings);
        using var worker2 = await ApiProcess.StartAsync("XGrowth.Worker.dll", connectionString, 4, settings);
        while (true)
        {
            var snapshots = await ScalarAsync(dataSource, "SELECT count(*) FROM follower_snapshots");
            var due = await ScalarAsync(dataSource, "SELECT count(*) FROM scheduled_posts WHERE metrics_due_at <= now() - interval '5 minutes'");
            if (snapshots >= accounts && due == 0)
            {
                break;
            }

            if (started.Elapsed > TimeSpan.FromMinutes(20))
            {
                Console.WriteLine($"round not finished after 20 min: {snapshots} snapshots, {due} posts still due");
                break;
            }

            await Task.Delay(250);
        }

        var elapsed = started.Elapsed;
        var (writesAfter, commitsAfter) = await WritesAsync(dataSource);
        var readings = await ScalarAsync(dataSource, "SELECT count(*) FROM post_metric_readings");
        Console.WriteLine($"collection round: 2 worker processes, fake X answering in {FakeMetricsX.Latency.TotalMilliseconds} ms, " +
            $"{Environment.ProcessorCount} cores shared by everything");
        Console.WriteLine($"  done in {elapsed.TotalSeconds:F1} s (from starting the workers): {await ScalarAsync(dataSource, "SELECT count(*) FROM follower_snapshots"):N0} snapshots, " +
            $"{readings:N0} post readings");
        Console.WriteLine($"  requests sent: {fakeX.UsersRequests:N0} GET /2/users/me + {fakeX.TweetsRequests:N0} GET /2/tweets " +
            $"({fakeX.PostIds:N0} post ids, {(double)fakeX.PostIds / Math.Max(1, fakeX.TweetsRequests):F1} per request); reads reserved " +
            $"{await ScalarAsync(dataSource, "SELECT COALESCE(sum(reserved), 0) FROM analytics_read_budget"):N0}");
        Console.WriteLine($"  PostgreSQL: {(writesAfter - writesBefore) / elapsed.TotalSeconds:N0} rows written/s " +
            $"(inserted + updated + deleted, pg_stat_database), {(commitsAfter - commitsBefore) / elapsed.TotalSeconds:N0} transactions/s");
    }

    private static async Task SummaryAsync(NpgsqlDataSource dataSource, ApiProcess api, RSA signingKey)
    {
        var account = await SeedSummaryAccountAsync(dataSource, postsInLast90Days: false);
        await ExecuteAsync(dataSource, "VACUUM ANALYZE");
        var token = BenchTokens.Mint(signingKey, Issuer, SummaryUser);
        async Task<bool> Summary(string period, Guid accountId)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/analytics/x-accounts/{accountId}/summary?period={period}&tz=Europe/Berlin");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await api.Client.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            return response.IsSuccessStatusCode;
        }

        Console.WriteLine($"summary: one account with 2 years of snapshots (every 6 h, 2,920) and 5,000 posts with 4 readings each, " +
            "8 clients, Europe/Berlin, after 4,000 warm-up requests");
        await Load.RunAsync(4_000, 8, i => Summary("90d", account));
        foreach (var period in new[] { "7d", "30d", "90d" })
        {
            Load.Print($"  period={period} (posts over 2 years)", await Load.RunAsync(4_000, 8, _ => Summary(period, account)));
        }

        var dense = await SeedSummaryAccountAsync(dataSource, postsInLast90Days: true);
        await ExecuteAsync(dataSource, "VACUUM ANALYZE");
        await Load.RunAsync(1_000, 8, _ => Summary("90d", dense));
        Load.Print("  period=90d (all 5,000 posts in it)", await Load.RunAsync(2_000, 8, _ => Summary("90d", dense)));
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.CommandTimeout = 600;
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<(long Rows, long Commits)> WritesAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT tup_inserted + tup_updated + tup_deleted, xact_commit FROM pg_stat_database WHERE datname = current_database()");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Published posts spread over the accounts, published 2 hours to 10 days ago; none read yet, so every one is due.</summary>
    private static async Task SeedPostsAsync(NpgsqlDataSource dataSource, Guid[] accounts, int count)
    {
        var now = DateTimeOffset.UtcNow;
        await using var connection = await dataSource.OpenConnectionAsync();
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY scheduled_posts (id, x_account_id, scheduled_at, status, x_post_id, published_at, metrics_due_at, created_at, updated_at, attempts) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < count; i++)
            {
                var publishedAt = now.AddHours(-2).AddSeconds(-(i * 8.0 * 86_400 / count)).AddSeconds(-Random.Shared.Next(0, 3600));
                await copy.StartRowAsync();
                await copy.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid);
                await copy.WriteAsync(accounts[i % accounts.Length], NpgsqlDbType.Uuid);
                await copy.WriteAsync(publishedAt, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync("published", NpgsqlDbType.Varchar);
                await copy.WriteAsync((1_000_000 + i).ToString(CultureInfo.InvariantCulture), NpgsqlDbType.Varchar);
                await copy.WriteAsync(publishedAt, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(publishedAt + PostMetricSchedule.First, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(publishedAt, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(publishedAt, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(1, NpgsqlDbType.Integer);
            }

            await copy.CompleteAsync();
        }

        await PartsFromIdsAsync(connection, "bench post");
    }

    /// <summary>Gives every post without parts its one part (the benches write posts with COPY, parts after).</summary>
    private static async Task PartsFromIdsAsync(NpgsqlConnection connection, string text)
    {
        await using var parts = new NpgsqlCommand($"""
            INSERT INTO post_parts (post_id, position, text, x_post_id, published_at)
            SELECT p.id, 0, '{text} ' || p.id, p.x_post_id, p.published_at FROM scheduled_posts AS p
            WHERE NOT EXISTS (SELECT 1 FROM post_parts AS pp WHERE pp.post_id = p.id)
            """, connection);
        await parts.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// The summary's account: a snapshot every 6 hours for 2 years, and 5,000 published posts with their four readings,
    /// spread over the 2 years (or all within the last 90 days).
    /// </summary>
    private static async Task<Guid> SeedSummaryAccountAsync(NpgsqlDataSource dataSource, bool postsInLast90Days)
    {
        var account = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        await using (var command = dataSource.CreateCommand("""
            INSERT INTO users (id, created_at, updated_at) VALUES ($1, now(), now()) ON CONFLICT DO NOTHING;
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = SummaryUser });
            await command.ExecuteNonQueryAsync();
        }

        await using (var command = dataSource.CreateCommand("""
            INSERT INTO x_accounts (id, user_id, x_user_id, username, status, connected_at, updated_at) VALUES ($1, $2, $3, 'summary', 'connected', now(), now())
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = account });
            command.Parameters.Add(new NpgsqlParameter { Value = SummaryUser });
            command.Parameters.Add(new NpgsqlParameter { Value = account.ToString("N")[..12] });
            await command.ExecuteNonQueryAsync();
        }

        await using var connection = await dataSource.OpenConnectionAsync();
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY follower_snapshots (x_account_id, slot_at, taken_at, followers_count, following_count, tweet_count, listed_count) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < 4 * 730; i++)
            {
                var at = now.AddHours(-6 * i);
                await copy.WriteRowAsync(default, account, at, at.AddSeconds(3), 50_000L - (i * 5), 300L, 4_000L, 40L);
            }

            await copy.CompleteAsync();
        }

        var span = postsInLast90Days ? TimeSpan.FromDays(89) : TimeSpan.FromDays(730);
        var postIds = new List<(Guid Id, DateTimeOffset PublishedAt)>();
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY scheduled_posts (id, x_account_id, scheduled_at, status, x_post_id, published_at, created_at, updated_at, attempts) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < 5_000; i++)
            {
                var publishedAt = now.AddHours(-2).Add(-span * (i / 5_000.0));
                var id = Guid.CreateVersion7();
                postIds.Add((id, publishedAt));
                await copy.StartRowAsync();
                await copy.WriteAsync(id, NpgsqlDbType.Uuid);
                await copy.WriteAsync(account, NpgsqlDbType.Uuid);
                await copy.WriteAsync(publishedAt, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync("published", NpgsqlDbType.Varchar);
                await copy.WriteAsync((9_000_000_000L + i).ToString(CultureInfo.InvariantCulture), NpgsqlDbType.Varchar);
                await copy.WriteAsync(publishedAt, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(publishedAt, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(publishedAt, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(1, NpgsqlDbType.Integer);
            }

            await copy.CompleteAsync();
        }

        await PartsFromIdsAsync(connection, "summary post: a post of ordinary length, about as long as the ones people write on X every day.");

        string[] kinds = ["one_hour", "one_day", "three_days", "seven_days"];
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY post_metric_readings (scheduled_post_id, kind, due_at, read_at, impressions, likes, reposts, replies, quotes, bookmarks, url_clicks, profile_clicks) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var (id, publishedAt) in postIds)
            {
                for (var k = 0; k < kinds.Length; k++)
                {
                    var dueAt = PostMetricSchedule.DueAt(publishedAt, (PostMetricKind)k);
                    if (dueAt > now)
                    {
                        break;
                    }

                    var impressions = 100L * (k + 1) + Random.Shared.Next(0, 5_000);
                    await copy.WriteRowAsync(default, id, kinds[k], dueAt, dueAt.AddSeconds(2), impressions, impressions / 50, impressions / 300,
                        impressions / 400, impressions / 1000, impressions / 500, (long?)(impressions / 250), (long?)(impressions / 150));
                }
            }

            await copy.CompleteAsync();
        }

        return account;
    }
}

/// <summary>X's metrics endpoints answering in 20 ms with plausible numbers, counting what they were asked.</summary>
internal sealed class FakeMetricsX : IAsyncDisposable
{
    public static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(20);

    private readonly WebApplication _app;
    private long _users;
    private long _tweets;
    private long _postIds;

    private FakeMetricsX(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public long UsersRequests => Interlocked.Read(ref _users);

    public long TweetsRequests => Interlocked.Read(ref _tweets);

    public long PostIds => Interlocked.Read(ref _postIds);

    public static async Task<FakeMetricsX> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new FakeMetricsX(app);
        var reset = DateTimeOffset.UtcNow.AddMinutes(15).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        app.MapGet("/2/users/me", async (HttpContext context) =>
        {
            Interlocked.Increment(ref server._users);
            await Task.Delay(Latency);
            context.Response.Headers["x-rate-limit-remaining"] = "74";
            context.Response.Headers["x-rate-limit-reset"] = reset;
            return Results.Json(new { data = new { id = "1", username = "bench", public_metrics = new { followers_count = 1234, following_count = 56, tweet_count = 789, listed_count = 3 } } });
        });
        app.MapGet("/2/tweets", async (HttpContext context) =>
        {
            var ids = context.Request.Query["ids"].ToString().Split(',');
            Interlocked.Increment(ref server._tweets);
            Interlocked.Add(ref server._postIds, ids.Length);
            await Task.Delay(Latency);
            context.Response.Headers["x-rate-limit-remaining"] = "899";
            context.Response.Headers["x-rate-limit-reset"] = reset;
            var nonPublic = context.Request.Query["tweet.fields"].ToString().Contains("non_public_metrics", StringComparison.Ordinal);
            return Results.Json(new
            {
                data = ids.Select(id =>
                {
                    var post = new Dictionary<string, object>
                    {
                        ["id"] = id,
                        ["public_metrics"] = new { impression_count = 1000, like_count = 20, retweet_count = 3, reply_count = 2, quote_count = 1, bookmark_count = 4 },
                    };
                    if (nonPublic)
                    {
                        post["non_public_metrics"] = new { impression_count = 1000, url_link_clicks = 5, user_profile_clicks = 7 };
                    }

                    return post;
                }),
            });
        });
        await app.StartAsync();
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
