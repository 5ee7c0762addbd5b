using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Api.Http;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Analytics;

/// <summary>
/// The summary (summed up in PostgreSQL) against the same numbers worked out here post by post with .NET's time zone
/// data: across clock changes, in zones with whole, half and three-quarter hour offsets.
/// </summary>
public class SummaryTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] Zones =
    [
        "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "America/St_Johns", "Pacific/Chatham",
    ];

    private static readonly string[] Kinds = ["one_hour", "one_day", "three_days", "seven_days"];

    /// <summary>A published post and its readings (oldest first); the latest one is the post's metrics.</summary>
    private sealed record SeededPost(Guid Id, DateTimeOffset PublishedAt, (long Impressions, long Engagements)[] Readings);

    [Fact]
    public async Task Best_times_and_totals_match_a_post_by_post_count_in_local_time_across_clock_changes()
    {
        // Two 90-day periods in the past (fixed, so the data do not expire), each with the spring or the autumn clock
        // changes of Berlin, New York, Lord Howe (30 minutes), St. John's and Chatham in it.
        DateTimeOffset[] clocks = [new(2025, 4, 20, 12, 0, 0, TimeSpan.Zero), new(2025, 11, 20, 12, 0, 0, TimeSpan.Zero)];
        // The changes themselves: posts on either side of them, a microsecond apart.
        var changes = new (string Zone, DateTimeOffset At)[]
        {
            ("America/New_York", new(2025, 3, 9, 7, 0, 0, TimeSpan.Zero)), ("Europe/Berlin", new(2025, 3, 30, 1, 0, 0, TimeSpan.Zero)),
            ("Australia/Lord_Howe", new(2025, 4, 5, 15, 0, 0, TimeSpan.Zero)), ("Australia/Lord_Howe", new(2025, 10, 4, 15, 30, 0, TimeSpan.Zero)),
            ("Europe/Berlin", new(2025, 10, 26, 1, 0, 0, TimeSpan.Zero)), ("America/New_York", new(2025, 11, 2, 6, 0, 0, TimeSpan.Zero)),
        };
        foreach (var (zone, at) in changes)
        {
            var info = TimeZoneInfo.FindSystemTimeZoneById(zone);
            Assert.NotEqual(info.GetUtcOffset(at.AddTicks(-10)), info.GetUtcOffset(at));
        }

        var instants = new List<DateTimeOffset>();
        foreach (var clock in clocks)
        {
            // Every 37 minutes (so over the days every minute of the hour), 17 seconds off the changes' instants.
            for (var at = clock.AddDays(-91).AddSeconds(17); at <= clock; at = at.AddMinutes(37))
            {
                instants.Add(at);
            }
        }

        foreach (var (_, at) in changes)
        {
            instants.AddRange([at.AddTicks(-10), at, at.AddTicks(10)]);
        }

        var posts = instants.Select((at, i) => new SeededPost(Guid.CreateVersion7(), at, Readings(i))).ToList();
        var (userId, accountId) = await SeedAsync(posts);

        foreach (var clock in clocks)
        {
            await using var clocked = api.WithWebHostBuilder(builder =>
                builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(new FakeTimeProvider(clock))));
            using var client = clocked.CreateClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", api.Clerk.Mint(userId));
            foreach (var zoneId in Zones)
            {
                var zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
                foreach (var period in new[] { "7d", "90d" })
                {
                    using var response = await client.GetAsync($"/api/analytics/x-accounts/{accountId}/summary?period={period}&tz={zoneId}", Ct);
                    var body = await response.Content.ReadAsStringAsync(Ct);
                    Assert.True(response.IsSuccessStatusCode, body);
                    var summary = JsonNode.Parse(body)!.AsObject();
                    var start = LocalDays.StartOfDay(DateOnly.Parse((string)summary["from"]!, System.Globalization.CultureInfo.InvariantCulture), zone);
                    AssertSummary(posts.Where(p => p.PublishedAt >= start && p.PublishedAt <= clock).ToList(), zone, summary, $"{zoneId} {period} at {clock:O}");
                }
            }
        }
    }

    [Fact]
    public async Task The_best_post_has_the_most_engagements_then_the_most_impressions_then_is_the_latest()
    {
        var now = DateTimeOffset.UtcNow;
        var fewer = new SeededPost(Guid.CreateVersion7(), now.AddDays(-1), [(100_000, 99)]);
        var earlier = new SeededPost(Guid.CreateVersion7(), now.AddDays(-4), [(1_000, 100)]);
        var later = new SeededPost(Guid.CreateVersion7(), now.AddDays(-3), [(1_000, 100)]);
        var (userId, accountId) = await SeedAsync([fewer, earlier, later]);
        using var client = api.ClientFor(userId);
        Assert.Equal(later.Id, await BestPostAsync(client, accountId));

        // More impressions win over being later; no impressions at all still counts as measured.
        var moreImpressions = new SeededPost(Guid.CreateVersion7(), now.AddDays(-5), [(2_000, 100)]);
        var noImpressions = new SeededPost(Guid.CreateVersion7(), now.AddDays(-6), [(0, 50)]);
        await SeedAsync([moreImpressions, noImpressions], userId, accountId);
        Assert.Equal(moreImpressions.Id, await BestPostAsync(client, accountId));

        // The latest reading counts, not the best one: a post whose later reading is lower is judged by that.
        var dropped = new SeededPost(Guid.CreateVersion7(), now.AddDays(-2), [(9_000, 900), (9_000, 10)]);
        await SeedAsync([dropped], userId, accountId);
        Assert.Equal(moreImpressions.Id, await BestPostAsync(client, accountId));
    }

    private static async Task<Guid> BestPostAsync(HttpClient client, Guid accountId)
    {
        var summary = JsonNode.Parse(await client.GetStringAsync($"/api/analytics/x-accounts/{accountId}/summary?period=7d", Ct))!;
        return Guid.Parse((string)summary["bestPost"]!["id"]!);
    }

    /// <summary>Post <paramref name="i"/>'s readings: none for some, no impressions for some, numbers varying with i.</summary>
    private static (long, long)[] Readings(int i)
    {
        if (i % 11 == 0)
        {
            return [];
        }

        var impressions = i % 13 == 0 ? 0 : 200 + (i * 7919L % 10_007);
        var engagements = i * 31L % 97;
        return [.. Enumerable.Range(0, 1 + (i % 4)).Select(k => (impressions * (k + 1), engagements + (k * (i % 5))))];
    }

    /// <summary>What the summary was worked out as before PostgreSQL summed it up: each post's local time from .NET.</summary>
    private static void AssertSummary(List<SeededPost> inPeriod, TimeZoneInfo zone, JsonObject summary, string what)
    {
        var measured = inPeriod.Where(p => p.Readings.Length > 0).Select(p => (Post: p, Latest: p.Readings[^1])).ToList();
        Assert.True(measured.Count > 0, what);
        Assert.Equal(inPeriod.Count, (int)summary["postsPublished"]!);
        var impressions = measured.Sum(m => m.Latest.Impressions);
        var engagements = measured.Sum(m => m.Latest.Engagements);
        Assert.Equal(impressions, (long)summary["impressions"]!);
        Assert.Equal(engagements, (long)summary["engagements"]!);
        Assert.Equal((double)engagements / impressions, (double)summary["engagementRate"]!);
        var best = measured.OrderByDescending(m => m.Latest.Engagements).ThenByDescending(m => m.Latest.Impressions)
            .ThenByDescending(m => m.Post.PublishedAt).First();
        Assert.Equal(best.Post.Id, Guid.Parse((string)summary["bestPost"]!["id"]!));

        var rates = new List<double>[7, 24];
        foreach (var (post, latest) in measured.Where(m => m.Latest.Impressions > 0))
        {
            var local = TimeZoneInfo.ConvertTime(post.PublishedAt, zone);
            (rates[((int)local.DayOfWeek + 6) % 7, local.Hour] ??= []).Add((double)latest.Engagements / latest.Impressions);
        }

        var bestTimes = summary["bestTimes"]!.AsArray();
        for (var day = 0; day < 7; day++)
        {
            for (var hour = 0; hour < 24; hour++)
            {
                var actual = (double?)bestTimes[day]!["hours"]![hour];
                if (rates[day, hour] is { Count: >= 3 } slot)
                {
                    // The sum's order differs (the rates are added up in PostgreSQL): equal to the last digits.
                    Assert.True(actual is { } mean && Math.Abs(mean - slot.Average()) < 1e-12,
                        $"{what}: day {day} hour {hour} has {slot.Count} posts with the mean {slot.Average()} but is {actual}");
                }
                else
                {
                    Assert.True(actual is null, $"{what}: day {day} hour {hour} has {rates[day, hour]?.Count ?? 0} posts but is {actual}");
                }
            }
        }
    }

    /// <summary>Writes the posts (with their first parts and readings) for a new user's account, or the given one's.</summary>
    private async Task<(string UserId, Guid AccountId)> SeedAsync(IReadOnlyList<SeededPost> posts, string? userId = null, Guid? accountId = null)
    {
        userId ??= ApiFactory.NewUserId();
        accountId ??= await api.AddXAccountAsync(userId);
        await using var batch = api.Database.CreateBatch();
        var postsCommand = new NpgsqlBatchCommand("""
            WITH post AS (
                INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, x_post_id, published_at, attempts, created_at, updated_at)
                SELECT id, $2, published_at, 'published', x_post_id, published_at, 1, published_at, published_at
                FROM unnest($1::uuid[], $3::timestamptz[], $4::text[]) AS p(id, published_at, x_post_id)
                RETURNING id, x_post_id, published_at)
            INSERT INTO post_parts (post_id, position, text, x_post_id, published_at) SELECT id, 0, 'post text', x_post_id, published_at FROM post
            """);
        postsCommand.Parameters.Add(new NpgsqlParameter { Value = posts.Select(p => p.Id).ToArray() });
        postsCommand.Parameters.Add(new NpgsqlParameter { Value = accountId.Value });
        postsCommand.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz, Value = posts.Select(p => p.PublishedAt.ToUniversalTime()).ToArray() });
        postsCommand.Parameters.Add(new NpgsqlParameter { Value = posts.Select(p => Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray() });
        batch.BatchCommands.Add(postsCommand);

        // Readings a day apart, in order; the engagements all as likes.
        var readings = posts.SelectMany(p => p.Readings.Select((r, k) => (p.Id, Kind: Kinds[k], ReadAt: p.PublishedAt.ToUniversalTime().AddHours(1 + (24 * k)), r.Impressions, r.Engagements))).ToList();
        var readingsCommand = new NpgsqlBatchCommand("""
            INSERT INTO post_metric_readings (scheduled_post_id, kind, due_at, read_at, impressions, likes, reposts, replies, quotes, bookmarks)
            SELECT id, kind, read_at, read_at, impressions, likes, 0, 0, 0, 0
            FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[]) AS r(id, kind, read_at, impressions, likes)
            """);
        readingsCommand.Parameters.Add(new NpgsqlParameter { Value = readings.Select(r => r.Id).ToArray() });
        readingsCommand.Parameters.Add(new NpgsqlParameter { Value = readings.Select(r => r.Kind).ToArray() });
        readingsCommand.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz, Value = readings.Select(r => r.ReadAt).ToArray() });
        readingsCommand.Parameters.Add(new NpgsqlParameter { Value = readings.Select(r => r.Impressions).ToArray() });
        readingsCommand.Parameters.Add(new NpgsqlParameter { Value = readings.Select(r => r.Engagements).ToArray() });
        batch.BatchCommands.Add(readingsCommand);
        await batch.ExecuteNonQueryAsync(Ct);
        return (userId, accountId.Value);
    }
}
