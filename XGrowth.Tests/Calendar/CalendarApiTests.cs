using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Calendar;

public class CalendarApiTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A day a month ahead, so that every post the tests schedule is in the future.</summary>
    private static readonly DateOnly Day = DateOnly.FromDateTime(DateTime.UtcNow.AddDays(30));

    private static string Date(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static async Task<string> Schedule(HttpClient client, Guid accountId, string text, DateTimeOffset at)
    {
        using var response = await client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, text, scheduledAt = at.ToString("O", CultureInfo.InvariantCulture) }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!;
    }

    [Fact]
    public async Task Posts_are_grouped_by_local_day_in_the_requested_zone_every_day_listed_in_order()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        var midnightUtc = new DateTimeOffset(Day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        // 23:30 UTC is the next day in Berlin (UTC+1 in winter, +2 in summer).
        await Schedule(client, accountId, "late evening UTC", midnightUtc.AddHours(23.5));
        await Schedule(client, accountId, "noon", midnightUtc.AddHours(12));
        var cancelled = await Schedule(client, accountId, "cancelled", midnightUtc.AddHours(13));
        using (await client.DeleteAsync($"/api/posts/{cancelled}", Ct))
        {
        }

        var otherUser = ApiFactory.NewUserId();
        using var other = api.ClientFor(otherUser);
        await Schedule(other, await api.AddXAccountAsync(otherUser), "not mine", midnightUtc.AddHours(12));

        var berlin = (await client.GetFromJsonAsync<JsonObject>($"/api/calendar?from={Date(Day)}&to={Date(Day.AddDays(2))}&tz=Europe/Berlin", Ct))!;
        var utc = (await client.GetFromJsonAsync<JsonObject>($"/api/calendar?from={Date(Day)}&to={Date(Day.AddDays(2))}", Ct))!;

        Assert.Equal("Europe/Berlin", (string?)berlin["timeZone"]);
        Assert.Equal("UTC", (string?)utc["timeZone"]);
        string[] Texts(JsonObject calendar, int index) => calendar["days"]![index]!["posts"]!.AsArray().Select(p => (string)p!["text"]!).ToArray();
        Assert.Equal([Date(Day), Date(Day.AddDays(1)), Date(Day.AddDays(2))], berlin["days"]!.AsArray().Select(d => (string)d!["date"]!));
        Assert.Equal(["noon"], Texts(berlin, 0));
        Assert.Equal(["late evening UTC"], Texts(berlin, 1));
        Assert.Empty(Texts(berlin, 2));
        Assert.Equal(["noon", "late evening UTC"], Texts(utc, 0));
        Assert.Empty(Texts(utc, 1));
    }

    [Fact]
    public async Task Calendar_posts_are_the_same_json_as_the_posts_endpoint_gives()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        var noon = new DateTimeOffset(Day.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero);
        var plain = await Schedule(client, accountId, "plain", noon);
        var escaped = await Schedule(client, accountId, "quotes \" and \\ <b>&amp; 'x' +1\n新年快乐 👩‍👩‍👧 e\u0301", noon.AddMinutes(1));
        var published = await Schedule(client, accountId, "published", noon.AddMinutes(2));
        var failed = await Schedule(client, accountId, "failed", noon.AddMinutes(3));
        var sandbox = await Schedule(client, accountId, "sandbox", noon.AddMinutes(4));
        async Task Set(string id, string status, string? xPostId, string? error)
        {
            await using var update = api.Database.CreateCommand(
                """
                WITH part AS (UPDATE post_parts SET x_post_id = $3, published_at = $4 WHERE post_id = $1::uuid AND position = 0)
                UPDATE scheduled_posts SET status = $2, x_post_id = $3, published_at = $4, error = $5 WHERE id = $1::uuid
                """);
            update.Parameters.Add(new Npgsql.NpgsqlParameter { Value = id });
            update.Parameters.Add(new Npgsql.NpgsqlParameter { Value = status });
            update.Parameters.Add(new Npgsql.NpgsqlParameter { Value = (object?)xPostId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            update.Parameters.Add(new Npgsql.NpgsqlParameter { Value = xPostId is null ? DBNull.Value : noon.AddMinutes(2).AddTicks(1234567), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            update.Parameters.Add(new Npgsql.NpgsqlParameter { Value = (object?)error ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            Assert.Equal(1, await update.ExecuteNonQueryAsync(Ct));
        }

        await Set(published, "published", "1866778899001122334", null);
        await Set(failed, "failed", null, "X refused the post: \"duplicate\" <content>");
        await Set(sandbox, "published", "sandbox-17956849040970001", null);

        var calendar = (await client.GetFromJsonAsync<JsonObject>($"/api/calendar?from={Date(Day)}&to={Date(Day)}&tz=Asia/Tokyo", Ct))!;
        var posts = calendar["days"]!.AsArray().SelectMany(d => d!["posts"]!.AsArray()).ToArray();

        Assert.Equal([plain, escaped, published, failed, sandbox], posts.Select(p => (string)p!["id"]!));
        foreach (var post in posts)
        {
            var single = await client.GetFromJsonAsync<JsonObject>($"/api/posts/{(string)post!["id"]!}", Ct);
            Assert.True(JsonNode.DeepEquals(single, post), $"calendar: {post.ToJsonString()}\nposts:    {single!.ToJsonString()}");
        }
    }

    /// <summary>The first local day after <paramref name="after"/> whose UTC offset differs from the day before's.</summary>
    private static DateOnly NextClockChange(TimeZoneInfo zone, DateOnly after, bool forward)
    {
        TimeSpan OffsetAtNoon(DateOnly day) => zone.GetUtcOffset(day.ToDateTime(new TimeOnly(12, 0)));
        for (var day = after.AddDays(1); day < after.AddYears(2); day = day.AddDays(1))
        {
            var change = OffsetAtNoon(day) - OffsetAtNoon(day.AddDays(-1));
            if (forward ? change > TimeSpan.Zero : change < TimeSpan.Zero)
            {
                return day;
            }
        }

        throw new InvalidOperationException($"{zone.Id} changes its clocks no more.");
    }

    private static DateTimeOffset LocalMidnight(DateOnly day, TimeZoneInfo zone)
    {
        var local = day.ToDateTime(TimeOnly.MinValue);
        return new DateTimeOffset(local, zone.GetUtcOffset(local));
    }

    [Fact]
    public async Task Days_of_a_clock_change_hold_their_own_posts()
    {
        // Berlin's next spring-forward and the fall-back after it, found in the time zone data; the API's clock is set
        // to the day before, so the posts are in the future whatever day the test runs on.
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var spring = NextClockChange(berlin, DateOnly.FromDateTime(DateTime.UtcNow), forward: true);
        var autumn = NextClockChange(berlin, spring, forward: false);
        Assert.Equal(TimeSpan.FromHours(23), LocalMidnight(spring.AddDays(1), berlin) - LocalMidnight(spring, berlin));
        Assert.Equal(TimeSpan.FromHours(25), LocalMidnight(autumn.AddDays(1), berlin) - LocalMidnight(autumn, berlin));
        var clock = new FakeTimeProvider(LocalMidnight(spring.AddDays(-1), berlin).ToUniversalTime());
        await using var clocked = api.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(clock)));
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        using var client = clocked.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", api.Clerk.Mint(userId));

        // The repeated hour's first pass: the earlier of the two instants a local time of it names.
        var repeated = autumn.ToDateTime(TimeOnly.MinValue);
        while (!berlin.IsAmbiguousTime(repeated))
        {
            repeated = repeated.AddMinutes(15);
        }

        var repeatedFirstPass = new DateTimeOffset(repeated, berlin.GetAmbiguousTimeOffsets(repeated).Max());
        foreach (var (text, at) in new[]
        {
            ("spring first", LocalMidnight(spring, berlin).AddMinutes(30)), ("spring last", LocalMidnight(spring.AddDays(1), berlin).AddMinutes(-1)),
            ("spring next day", LocalMidnight(spring.AddDays(1), berlin)),
            ("autumn first", LocalMidnight(autumn, berlin).AddMinutes(30)), ("autumn repeated hour", repeatedFirstPass),
            ("autumn last", LocalMidnight(autumn.AddDays(1), berlin).AddMinutes(-1)), ("autumn next day", LocalMidnight(autumn.AddDays(1), berlin)),
        })
        {
            await Schedule(client, accountId, text, at);
        }

        async Task<string[][]> Days(DateOnly day) =>
            [.. (await client.GetFromJsonAsync<JsonObject>($"/api/calendar?from={Date(day.AddDays(-1))}&to={Date(day.AddDays(1))}&tz=Europe/Berlin", Ct))!["days"]!.AsArray()
                .Select(d => d!["posts"]!.AsArray().Select(p => (string)p!["text"]!).ToArray())];

        Assert.Equal([[], ["spring first", "spring last"], ["spring next day"]], await Days(spring));
        Assert.Equal([[], ["autumn first", "autumn repeated hour", "autumn last"], ["autumn next day"]], await Days(autumn));
    }

    [Fact]
    public async Task Ninety_three_days_are_allowed()
    {
        using var client = api.ClientFor(ApiFactory.NewUserId());
        var calendar = (await client.GetFromJsonAsync<JsonObject>($"/api/calendar?from={Date(Day)}&to={Date(Day.AddDays(92))}&tz=America/New_York", Ct))!;
        Assert.Equal(93, calendar["days"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("from=FROM&to=LONG", "to")]
    [InlineData("from=FROM&to=FROM&tz=Mars/Olympus", "tz")]
    [InlineData("from=FROM&to=FROM&tz=Central%20European%20Standard%20Time%20Nope", "tz")]
    [InlineData("from=TO&to=FROM", "to")]
    [InlineData("to=FROM", "from")]
    [InlineData("from=FROM", "to")]
    [InlineData("from=2026-13-45&to=FROM", null)]
    [InlineData("from=9999-12-31&to=9999-12-31", "from")]
    [InlineData("from=0001-01-01&to=0001-01-02&tz=America/New_York", "from")]
    public async Task Bad_calendar_queries_are_400(string query, string? field)
    {
        using var client = api.ClientFor(ApiFactory.NewUserId());
        query = query.Replace("FROM", Date(Day), StringComparison.Ordinal).Replace("LONG", Date(Day.AddDays(93)), StringComparison.Ordinal)
            .Replace("TO", Date(Day.AddDays(5)), StringComparison.Ordinal);

        using var response = await client.GetAsync("/api/calendar?" + query, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        if (field is not null)
        {
            Assert.NotNull(problem["errors"]?[field]);
        }
    }
}
