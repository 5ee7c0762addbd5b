using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Analytics;

/// <summary>The analytics endpoints over rows written as the collector writes them; each test with its own user and accounts.</summary>
public class AnalyticsApiTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(HttpClient Client, Guid AccountId, string UserId)> NewUser()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        return (api.ClientFor(userId), accountId, userId);
    }

    private async Task Snapshot(Guid accountId, string takenAt, long followers) => await Snapshot(accountId, DateTimeOffset.Parse(takenAt, CultureInfo.InvariantCulture), followers);

    private async Task Snapshot(Guid accountId, DateTimeOffset takenAt, long followers)
    {
        await using var command = api.Database.CreateCommand("""
            INSERT INTO follower_snapshots (x_account_id, slot_at, taken_at, followers_count, following_count, tweet_count, listed_count)
            VALUES ($1, $2, $2, $3, 10, 20, 1)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = accountId });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = takenAt.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter { Value = followers });
        await command.ExecuteNonQueryAsync(Ct);
    }

    /// <summary>A published post with readings (impressions, likes, reposts, replies, quotes, bookmarks), oldest reading first.</summary>
    private async Task<Guid> Post(Guid accountId, DateTimeOffset publishedAt, params (long Impressions, long Likes, long Reposts, long Replies, long Quotes, long Bookmarks)[] readings)
    {
        var id = Guid.CreateVersion7();
        await using (var command = api.Database.CreateCommand("""
            WITH post AS (
                INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, x_post_id, published_at, attempts, created_at, updated_at)
                VALUES ($1, $2, $3, 'published', $4, $3, 1, $3, $3) RETURNING id, x_post_id, published_at)
            INSERT INTO post_parts (post_id, position, text, x_post_id, published_at) SELECT id, 0, 'post text', x_post_id, published_at FROM post
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = id });
            command.Parameters.Add(new NpgsqlParameter { Value = accountId });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = publishedAt.ToUniversalTime() });
            command.Parameters.Add(new NpgsqlParameter { Value = Random.Shared.NextInt64(1, long.MaxValue).ToString(CultureInfo.InvariantCulture) });
            await command.ExecuteNonQueryAsync(Ct);
        }

        string[] kinds = ["one_hour", "one_day", "three_days", "seven_days"];
        for (var i = 0; i < readings.Length; i++)
        {
            var r = readings[i];
            await using var command = api.Database.CreateCommand("""
                INSERT INTO post_metric_readings (scheduled_post_id, kind, due_at, read_at, impressions, likes, reposts, replies, quotes, bookmarks)
                VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9)
                """);
            command.Parameters.Add(new NpgsqlParameter { Value = id });
            command.Parameters.Add(new NpgsqlParameter { Value = kinds[i] });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = publishedAt.ToUniversalTime().AddHours(1 + (i * 24)) });
            foreach (var value in new[] { r.Impressions, r.Likes, r.Reposts, r.Replies, r.Quotes, r.Bookmarks })
            {
                command.Parameters.Add(new NpgsqlParameter { Value = value });
            }

            await command.ExecuteNonQueryAsync(Ct);
        }

        return id;
    }

    private static async Task<JsonObject> GetOk(HttpClient client, string url)
    {
        using var response = await client.GetAsync(url, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private static IEnumerable<(string? Date, long? Followers, long? Change, bool Carried)> Days(JsonObject history) =>
        history["days"]!.AsArray().Select(d => ((string?)d!["date"], (long?)d["followers"], (long?)d["change"], (bool)d["carried"]!));

    [Fact]
    public async Task Followers_group_snapshots_by_the_local_day_of_the_time_zone()
    {
        var (client, account, _) = await NewUser();
        await Snapshot(account, "2026-01-09T12:00:00Z", 80);
        await Snapshot(account, "2026-01-11T03:00:00Z", 90);   // New York: Jan 10, 22:00
        await Snapshot(account, "2026-01-11T04:30:00Z", 100);  // New York: Jan 10, 23:30 (the day's last)
        await Snapshot(account, "2026-01-11T05:30:00Z", 110);  // New York: Jan 11, 00:30
        await Snapshot(account, "2026-01-13T12:00:00Z", 130);

        var newYork = await GetOk(client, $"/api/analytics/x-accounts/{account}/followers?from=2026-01-10&to=2026-01-13&tz=America/New_York");
        Assert.Equal("America/New_York", (string?)newYork["timeZone"]);
        Assert.Equal(
            [("2026-01-10", 100, 20, false), ("2026-01-11", 110, 10, false), ("2026-01-12", 110, 0, true), ("2026-01-13", 130, 20, false)],
            Days(newYork).Select(d => (d.Date, d.Followers, d.Change, d.Carried)).Select(d => (d.Date, (long)d.Followers!, (long)d.Change!, d.Carried)));

        // The same snapshots by UTC days: the three of the night of the 11th fall on the 11th.
        var utc = await GetOk(client, $"/api/analytics/x-accounts/{account}/followers?from=2026-01-10&to=2026-01-13");
        Assert.Equal("UTC", (string?)utc["timeZone"]);
        Assert.Equal([("2026-01-10", 80, 0, true), ("2026-01-11", 110, 30, false), ("2026-01-12", 110, 0, true), ("2026-01-13", 130, 20, false)],
            Days(utc).Select(d => (d.Date, (long)d.Followers!, (long)d.Change!, d.Carried)));

        // Before the first snapshot there is nothing to carry.
        var early = await GetOk(client, $"/api/analytics/x-accounts/{account}/followers?from=2026-01-08&to=2026-01-09&tz=Asia/Tokyo");
        Assert.Equal([("2026-01-08", null, null, false), ("2026-01-09", 80L, null, false)],
            Days(early).Select(d => (d.Date, d.Followers, d.Change, d.Carried)));
    }

    [Fact]
    public async Task Posts_come_with_their_latest_metrics_sorted_and_paged()
    {
        var (client, account, _) = await NewUser();
        var at = DateTimeOffset.UtcNow.AddDays(-3);
        var popular = await Post(account, at, (100, 1, 0, 0, 0, 0), (5000, 50, 10, 5, 2, 3));   // latest: 5000 impressions, 70 engagements
        var engaging = await Post(account, at.AddMinutes(1), (1000, 100, 20, 10, 5, 15));     // 150 / 1000
        var unseen = await Post(account, at.AddMinutes(2), (0, 0, 0, 0, 0, 0));               // no impressions: no rate
        var unread = await Post(account, at.AddMinutes(3));                                   // no reading yet

        var byImpressions = await GetOk(client, "/api/analytics/posts?sort=impressions");
        var items = byImpressions["items"]!.AsArray();
        Assert.Equal([popular, engaging, unseen, unread], items.Select(i => Guid.Parse((string)i!["id"]!)));
        Assert.Equal(5000, (long)items[0]!["metrics"]!["impressions"]!);
        Assert.Equal(70, (long)items[0]!["metrics"]!["engagements"]!);
        Assert.Equal("one_day", (string?)items[0]!["metrics"]!["reading"]);
        Assert.Equal(70 / 5000.0, (double)items[0]!["engagementRate"]!, 9);
        Assert.Null(items[2]!["engagementRate"]);
        Assert.Null(items[3]!["metrics"]);
        Assert.Null(byImpressions["nextCursor"]);

        var byRate = await GetOk(client, "/api/analytics/posts?sort=engagementRate");
        Assert.Equal([engaging, popular], byRate["items"]!.AsArray().Take(2).Select(i => Guid.Parse((string)i!["id"]!)));
        var byLikes = await GetOk(client, $"/api/analytics/posts?sort=likes&xAccountId={account}");
        Assert.Equal([engaging, popular], byLikes["items"]!.AsArray().Take(2).Select(i => Guid.Parse((string)i!["id"]!)));

        // Pages of one: the same posts in the same order, each once.
        var paged = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await GetOk(client, "/api/analytics/posts?sort=engagementRate&limit=1" + (cursor is null ? "" : "&cursor=" + cursor));
            paged.AddRange(page["items"]!.AsArray().Select(i => Guid.Parse((string)i!["id"]!)));
            cursor = (string?)page["nextCursor"];
        }
        while (cursor is not null && paged.Count < 10);
        Assert.Equal(byRate["items"]!.AsArray().Select(i => Guid.Parse((string)i!["id"]!)), paged);

        // A published-time window.
        var window = await GetOk(client, $"/api/analytics/posts?from={Uri.EscapeDataString(at.AddSeconds(30).ToString("O", CultureInfo.InvariantCulture))}");
        Assert.Equal(3, window["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task Summary_gives_the_period_s_growth_best_post_and_best_times_by_local_weekday_and_hour()
    {
        var (client, account, _) = await NewUser();
        var now = DateTimeOffset.UtcNow;
        await Snapshot(account, now.AddDays(-10), 1000);
        await Snapshot(account, now.AddDays(-4), 1040);
        await Snapshot(account, now.AddHours(-1), 1100);
        // Three posts in one hour two days ago, two in one hour three days ago, one before the period.
        var slot = new DateTimeOffset(now.AddDays(-2).UtcDateTime.Date.AddHours(now.AddDays(-2).Hour), TimeSpan.Zero).AddMinutes(5);
        if (slot > now.AddDays(-2))
        {
            slot = slot.AddHours(-1);
        }

        var rates = new[] { 0.02, 0.04, 0.06 };
        var best = Guid.Empty;
        for (var i = 0; i < 3; i++)
        {
            var id = await Post(account, slot.AddMinutes(i * 10), (1000 * (i + 1), (long)(rates[i] * 1000 * (i + 1)), 0, 0, 0, 0));
            best = id;
        }

        var other = slot.AddDays(-1).AddHours(3);
        await Post(account, other, (500, 5, 0, 0, 0, 0));
        await Post(account, other.AddMinutes(5), (500, 5, 0, 0, 0, 0));
        await Post(account, now.AddDays(-9), (9999, 999, 0, 0, 0, 0));

        var summary = await GetOk(client, $"/api/analytics/x-accounts/{account}/summary?period=7d&tz=Asia/Tokyo");
        Assert.Equal("7d", (string?)summary["period"]);
        Assert.Equal("Asia/Tokyo", (string?)summary["timeZone"]);
        var tokyo = TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo");
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, tokyo).DateTime);
        Assert.Equal(today.AddDays(-6).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), (string?)summary["from"]);
        Assert.Equal(today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), (string?)summary["to"]);
        Assert.Equal(1000, (long)summary["followers"]!["start"]!);
        Assert.Equal(1100, (long)summary["followers"]!["end"]!);
        Assert.Equal(100, (long)summary["followers"]!["change"]!);
        Assert.Equal(5, (int)summary["postsPublished"]!);
        Assert.Equal(7000, (long)summary["impressions"]!);
        Assert.Equal(20 + 80 + 180 + 10, (long)summary["engagements"]!);
        Assert.Equal(290 / 7000.0, (double)summary["engagementRate"]!, 9);
        Assert.Equal(best, Guid.Parse((string)summary["bestPost"]!["id"]!));

        var bestTimes = summary["bestTimes"]!.AsArray();
        Assert.Equal(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], bestTimes.Select(d => (string?)d!["weekday"]));
        Assert.All(bestTimes, day => Assert.Equal(24, day!["hours"]!.AsArray().Count));
        var local = TimeZoneInfo.ConvertTime(slot, tokyo);
        var cell = bestTimes[((int)local.DayOfWeek + 6) % 7]!["hours"]![local.Hour];
        Assert.Equal(0.04, (double)cell!, 9);
        // Every other cell has fewer than three posts: null, the two-post hour included.
        Assert.Equal(1, bestTimes.Sum(day => day!["hours"]!.AsArray().Count(h => h is not null)));
    }

    [Fact]
    public async Task Another_user_s_account_and_posts_are_not_found()
    {
        var (client, _, _) = await NewUser();
        var (_, otherAccount, _) = await NewUser();
        await Snapshot(otherAccount, DateTimeOffset.UtcNow.AddHours(-1), 5);
        var otherPost = await Post(otherAccount, DateTimeOffset.UtcNow.AddDays(-1), (10, 1, 0, 0, 0, 0));

        foreach (var url in new[]
        {
            $"/api/analytics/x-accounts/{otherAccount}/followers", $"/api/analytics/x-accounts/{otherAccount}/summary",
            $"/api/analytics/posts?xAccountId={otherAccount}", $"/api/analytics/x-accounts/{Guid.NewGuid()}/summary",
        })
        {
            using var response = await client.GetAsync(url, Ct);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        var mine = await GetOk(client, "/api/analytics/posts");
        Assert.DoesNotContain(mine["items"]!.AsArray(), i => Guid.Parse((string)i!["id"]!) == otherPost);
    }

    [Theory]
    [InlineData("/api/analytics/x-accounts/{account}/followers?tz=Mars/Olympus", "tz")]
    [InlineData("/api/analytics/x-accounts/{account}/followers?tz=EST5EDT_", "tz")]
    [InlineData("/api/analytics/x-accounts/{account}/followers?from=2026-02-01&to=2026-01-01", "to")]
    [InlineData("/api/analytics/x-accounts/{account}/followers?from=2020-01-01&to=2026-01-01", "to")]
    [InlineData("/api/analytics/x-accounts/{account}/followers?from=1900-01-01&to=1900-01-02", "from")]
    [InlineData("/api/analytics/x-accounts/{account}/followers?from=yesterday", null)]
    [InlineData("/api/analytics/x-accounts/{account}/summary?period=1y", "period")]
    [InlineData("/api/analytics/x-accounts/{account}/summary?period=7d&tz=Berlin", "tz")]
    [InlineData("/api/analytics/posts?sort=retweets", "sort")]
    [InlineData("/api/analytics/posts?limit=0", "limit")]
    [InlineData("/api/analytics/posts?limit=201", "limit")]
    [InlineData("/api/analytics/posts?limit=ten", null)]
    [InlineData("/api/analytics/posts?cursor=not-a-cursor", "cursor")]
    [InlineData("/api/analytics/posts?xAccountId=nope", null)]
    [InlineData("/api/analytics/posts?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to")]
    [InlineData("/api/analytics/posts?from=soon", null)]
    public async Task Bad_input_is_a_400_problem_and_writes_nothing(string url, string? field)
    {
        var (client, account, _) = await NewUser();
        const string Counts = "SELECT (SELECT count(*) FROM follower_snapshots) + (SELECT count(*) FROM post_metric_readings) + " +
            "(SELECT count(*) FROM analytics_accounts) + (SELECT count(*) FROM analytics_read_budget) + (SELECT count(*) FROM scheduled_posts)";
        var before = await api.CountAsync(Counts);
        using var response = await client.GetAsync(url.Replace("{account}", account.ToString(), StringComparison.Ordinal), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        if (field is not null)
        {
            var problem = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
            Assert.NotNull(problem["errors"]![field]);
        }

        Assert.Equal(before, await api.CountAsync(Counts));
    }

    [Fact]
    public async Task A_cursor_of_one_sort_is_refused_for_another()
    {
        var (client, account, _) = await NewUser();
        await Post(account, DateTimeOffset.UtcNow.AddDays(-1), (10, 1, 0, 0, 0, 0));
        await Post(account, DateTimeOffset.UtcNow.AddDays(-2), (20, 1, 0, 0, 0, 0));
        var page = await GetOk(client, "/api/analytics/posts?sort=likes&limit=1");
        using var response = await client.GetAsync($"/api/analytics/posts?sort=impressions&cursor={(string)page["nextCursor"]!}", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task The_endpoints_are_in_the_OpenAPI_document()
    {
        using var client = api.CreateClient();
        var document = (await client.GetFromJsonAsync<JsonObject>("/openapi/v1.json", Ct))!;
        var paths = document["paths"]!.AsObject();
        Assert.Equal("getFollowerHistory", (string?)paths["/api/analytics/x-accounts/{id}/followers"]!["get"]!["operationId"]);
        Assert.Equal("listPostAnalytics", (string?)paths["/api/analytics/posts"]!["get"]!["operationId"]);
        var summary = paths["/api/analytics/x-accounts/{id}/summary"]!["get"]!.AsObject();
        Assert.Equal("getAccountSummary", (string?)summary["operationId"]);
        Assert.NotNull(summary["responses"]!["200"]);
        Assert.NotNull(summary["responses"]!["400"]);
        Assert.NotNull(summary["responses"]!["404"]);
    }
}
