using System.Buffers.Text;
using System.Globalization;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Api.Auth;
using XGrowth.Api.Http;
using XGrowth.Api.OpenApi;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Api.Analytics;

/// <summary>
/// Growth analytics of the signed-in user's X accounts: follower history per local day, published posts with their
/// metrics, and an account's summary over a period with its best times to post. The worker collects the numbers
/// (XGrowth.Worker/Analytics); these endpoints only read them.
/// </summary>
public static class AnalyticsApi
{
    public const int MaxFollowerDays = 731;
    public const int DefaultFollowerDays = 30;
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;

    /// <summary>A time slot's engagement rate is shown only with at least this many posts in it.</summary>
    public const int MinPostsPerBestTime = 3;

    public static readonly IReadOnlyDictionary<string, int> Periods = new Dictionary<string, int> { ["7d"] = 7, ["30d"] = 30, ["90d"] = 90 };

    public static readonly string[] SortOrders = ["impressions", "likes", "engagementRate"];

    private static readonly string[] Weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

    public sealed record FollowersQuery(
        [FromQuery(Name = "from")] DateOnly? From, [FromQuery(Name = "to")] DateOnly? To, [FromQuery(Name = "tz")] string? Tz);

    public sealed record PostsQuery(
        [FromQuery(Name = "xAccountId")] Guid? XAccountId,
        [FromQuery(Name = "from")] DateTimeOffset? From,
        [FromQuery(Name = "to")] DateTimeOffset? To,
        [FromQuery(Name = "sort")] string? Sort,
        [FromQuery(Name = "limit")] int? Limit,
        [FromQuery(Name = "cursor")] string? Cursor);

    public sealed record SummaryQuery([FromQuery(Name = "period")] string? Period, [FromQuery(Name = "tz")] string? Tz);

    public sealed record Services(NpgsqlDataSource DataSource, XPostLinks Links, TimeProvider Time);

    public static RouteGroupBuilder MapAnalyticsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/analytics").WithTags("Analytics").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        group.MapGet("/x-accounts/{id:guid}/followers", GetFollowersAsync).WithName("getFollowerHistory")
            .WithSummary("Get follower history")
            .WithDescription("An X account's followers on every day from `from` to `to` (`yyyy-MM-dd`, inclusive, at most 731 days; " +
                "default the last 30) in the IANA time zone `tz` (default UTC): the day's last snapshot and the change from the day " +
                "before. A day without a snapshot carries the previous value, with `carried: true`. Snapshots are taken every 6 hours.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/posts", ListPostsAsync).WithName("listPostAnalytics")
            .WithSummary("List posts with their metrics")
            .WithDescription("The user's published posts (of one account with `xAccountId`; published from `from`, inclusive, to `to`, " +
                "exclusive, instants with an offset) with their latest metrics, sorted by `sort`, highest first; posts without a " +
                "reading yet come last. `engagementRate` is (likes + reposts + replies + quotes + bookmarks) / impressions, null " +
                "with no impressions. Paged with `cursor` (the previous page's `nextCursor`, with the same `sort`).")
            .WithQueryValues("sort", SortOrders)
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/x-accounts/{id:guid}/summary", GetSummaryAsync).WithName("getAccountSummary")
            .WithSummary("Get an account's summary")
            .WithDescription("An X account over `period` (that many local days up to now in the IANA time zone `tz`, default UTC): " +
                "followers at the start and the end, posts published, their impressions and engagements, the engagement rate, the " +
                "post with the most engagements, and `bestTimes`: for each local weekday (monday first) and hour (0–23), the mean " +
                "engagement rate of the account's posts published then, null where fewer than 3.")
            .WithQueryValues("period", [.. Periods.Keys])
            .ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    internal static async Task<Results<Ok<FollowerHistory>, ValidationProblem, ProblemHttpResult>> GetFollowersAsync(
        Guid id, [AsParameters] FollowersQuery query, ClaimsPrincipal user, [AsParameters] Services services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (!LocalDays.TryFindZone(query.Tz, out var zone))
        {
            errors["tz"] = [$"'{query.Tz}' is not an IANA time zone such as Europe/Berlin."];
        }

        foreach (var (name, value) in new[] { ("from", query.From), ("to", query.To) })
        {
            if (value is { Year: < 2000 or > 2999 })
            {
                errors[name] = [$"{name} must be a date between 2000-01-01 and 2999-12-31."];
            }
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var to = query.To ?? LocalDays.Today(services.Time, zone);
        var from = query.From ?? to.AddDays(1 - DefaultFollowerDays);
        var days = to.DayNumber - from.DayNumber + 1;
        if (days < 1 || days > MaxFollowerDays)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["to"] = [days < 1 ? "to must not be before from." : $"The range is {days} days; at most {MaxFollowerDays} are allowed."],
            });
        }

        var start = LocalDays.StartOfDay(from, zone);
        var end = LocalDays.StartOfDay(to.AddDays(1), zone);
        await using var batch = services.DataSource.CreateBatch();
        batch.BatchCommands.Add(OwnedAccountCommand(id, user.ClerkUserId()));
        batch.BatchCommands.Add(Command("""
            (SELECT taken_at, followers_count FROM follower_snapshots WHERE x_account_id = $1 AND taken_at < $2 ORDER BY taken_at DESC LIMIT 1)
            UNION ALL
            (SELECT taken_at, followers_count FROM follower_snapshots WHERE x_account_id = $1 AND taken_at >= $2 AND taken_at < $3 ORDER BY taken_at)
            """, Id(id), Time(start), Time(end)));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return ApiProblems.NotFound("X account not found.");
        }

        await reader.NextResultAsync(cancellationToken);
        long? before = null;
        var lastOfDay = new Dictionary<DateOnly, long>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var takenAt = reader.GetFieldValue<DateTimeOffset>(0);
            if (takenAt < start)
            {
                before = reader.GetInt64(1);
            }
            else
            {
                // In time order: the day's last snapshot is the one left.
                lastOfDay[DateOnly.FromDateTime(LocalDays.LocalTime(takenAt, zone))] = reader.GetInt64(1);
            }
        }

        var history = new List<FollowerDay>(days);
        var previous = before;
        for (var day = from; day <= to; day = day.AddDays(1))
        {
            var taken = lastOfDay.TryGetValue(day, out var followers);
            long? value = taken ? followers : previous;
            history.Add(new FollowerDay(day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), value, value - previous, !taken && value is not null));
            previous = value;
        }

        return TypedResults.Ok(new FollowerHistory(zone.Id, history));
    }

    internal static async Task<Results<Ok<PostAnalyticsPage>, ValidationProblem, ProblemHttpResult>> ListPostsAsync(
        [AsParameters] PostsQuery query, ClaimsPrincipal user, [AsParameters] Services services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var sort = query.Sort ?? SortOrders[0];
        if (!SortOrders.Contains(sort, StringComparer.Ordinal))
        {
            errors["sort"] = [$"sort must be one of {string.Join(", ", SortOrders)}."];
        }

        var limit = query.Limit ?? DefaultPageSize;
        if (limit is < 1 or > MaxPageSize)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxPageSize}."];
        }

        (double Value, Guid Id)? after = null;
        if (query.Cursor is not null)
        {
            after = DecodeCursor(query.Cursor, sort);
            if (after is null)
            {
                errors["cursor"] = ["cursor is not one this API returned for this sort."];
            }
        }

        if (query.From > query.To)
        {
            errors["to"] = ["to must not be before from."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var userId = user.ClerkUserId();
        var sortValue = sort switch
        {
            "likes" => "r.likes::float8",
            "engagementRate" => $"CASE WHEN r.impressions > 0 THEN ({Engagements})::float8 / r.impressions END",
            _ => "r.impressions::float8",
        };
        await using var batch = services.DataSource.CreateBatch();
        if (query.XAccountId is { } accountId)
        {
            batch.BatchCommands.Add(OwnedAccountCommand(accountId, userId));
        }

        // Posts without metrics sort as -1: after every post that has them, still in a stable order for the cursor.
        batch.BatchCommands.Add(Command($"""
            SELECT * FROM (
                SELECT {PostColumns}, COALESCE({sortValue}, -1) AS sort_value
                FROM scheduled_posts AS p
                JOIN x_accounts AS a ON a.id = p.x_account_id
                {LatestReadingJoin}
                WHERE a.user_id = $1 AND p.status = 'published' AND p.published_at IS NOT NULL AND p.x_post_id IS NOT NULL
                  AND ($2::uuid IS NULL OR p.x_account_id = $2) AND ($3::timestamptz IS NULL OR p.published_at >= $3)
                  AND ($4::timestamptz IS NULL OR p.published_at < $4)
            ) AS q
            WHERE $5::float8 IS NULL OR (q.sort_value, q.id) < ($5, $6)
            ORDER BY q.sort_value DESC, q.id DESC
            LIMIT $7
            """,
            new NpgsqlParameter { Value = userId },
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = (object?)query.XAccountId ?? DBNull.Value },
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = (object?)query.From?.ToUniversalTime() ?? DBNull.Value },
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = (object?)query.To?.ToUniversalTime() ?? DBNull.Value },
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Double, Value = (object?)after?.Value ?? DBNull.Value },
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = (object?)after?.Id ?? DBNull.Value },
            new NpgsqlParameter { Value = limit + 1 }));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (query.XAccountId is not null)
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return ApiProblems.NotFound("X account not found.");
            }

            await reader.NextResultAsync(cancellationToken);
        }

        var items = new List<PostAnalytics>();
        var sortValues = new List<double>();
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(ReadPost(reader, services.Links));
            sortValues.Add(reader.GetDouble(PostColumnCount));
        }

        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(limit);
            next = EncodeCursor(sort, sortValues[limit - 1], items[^1].Id);
        }

        return TypedResults.Ok(new PostAnalyticsPage(items, next));
    }

    internal static async Task<Results<Ok<AccountSummary>, ValidationProblem, ProblemHttpResult>> GetSummaryAsync(
        Guid id, [AsParameters] SummaryQuery query, ClaimsPrincipal user, [AsParameters] Services services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var period = query.Period ?? "30d";
        if (!Periods.TryGetValue(period, out var periodDays))
        {
            errors["period"] = ["period must be 7d, 30d or 90d."];
        }

        if (!LocalDays.TryFindZone(query.Tz, out var zone))
        {
            errors["tz"] = [$"'{query.Tz}' is not an IANA time zone such as Europe/Berlin."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var now = services.Time.GetUtcNow();
        var today = LocalDays.Today(services.Time, zone);
        var from = today.AddDays(1 - periodDays);
        var start = LocalDays.StartOfDay(from, zone);
        var offsets = ZoneOffsets.Between(zone, start, now);
        // One round trip: the account check, the followers at both ends, and the period's posts summed up in PostgreSQL
        // (a 90-day period can hold thousands of posts; only the totals, the best post and the slots' sums come back).
        await using var batch = services.DataSource.CreateBatch();
        batch.BatchCommands.Add(OwnedAccountCommand(id, user.ClerkUserId()));
        batch.BatchCommands.Add(Command("""
            SELECT COALESCE(
                (SELECT followers_count FROM follower_snapshots WHERE x_account_id = $1 AND taken_at <= $2 ORDER BY taken_at DESC LIMIT 1),
                (SELECT followers_count FROM follower_snapshots WHERE x_account_id = $1 AND taken_at > $2 AND taken_at <= $3 ORDER BY taken_at LIMIT 1)),
                (SELECT followers_count FROM follower_snapshots WHERE x_account_id = $1 AND taken_at <= $3 ORDER BY taken_at DESC LIMIT 1)
            """, Id(id), Time(start), Time(now)));
        // A post's local weekday (monday 0) and hour come from the zone's UTC offset at the time it was published, looked
        // up in the offsets .NET's time zone data gives ($4 from when, $5 seconds): the same local time as everywhere
        // else in the API (LocalDays), whatever time zone data PostgreSQL has.
        batch.BatchCommands.Add(Command($"""
            WITH posts AS MATERIALIZED (
                SELECT p.id, p.published_at, r.impressions, r.engagements
                FROM scheduled_posts AS p
                LEFT JOIN LATERAL (
                    SELECT r.impressions, {Engagements} AS engagements
                    FROM post_metric_readings AS r WHERE r.scheduled_post_id = p.id ORDER BY r.read_at DESC LIMIT 1
                ) AS r ON true
                WHERE p.x_account_id = $1 AND p.status = 'published' AND p.x_post_id IS NOT NULL
                  AND p.published_at >= $2 AND p.published_at <= $3
            ),
            slots AS (
                SELECT (extract(isodow FROM local_time)::int - 1) * 24 + extract(hour FROM local_time)::int AS slot,
                    sum(engagements::float8 / impressions) AS rate_sum, count(*)::int AS posts
                FROM posts
                CROSS JOIN LATERAL (
                    SELECT (published_at AT TIME ZONE 'UTC') + make_interval(secs => ($5::int[])[width_bucket(published_at, $4::timestamptz[])]) AS local_time
                ) AS l
                WHERE impressions > 0
                GROUP BY slot
            )
            SELECT {PostColumns}, totals.*, by_slot.*
            FROM (SELECT count(*)::int AS posts, COALESCE(sum(impressions), 0)::bigint AS impressions,
                    COALESCE(sum(engagements), 0)::bigint AS engagements FROM posts) AS totals
            CROSS JOIN (SELECT array_agg(slot) AS slots, array_agg(rate_sum) AS rate_sums, array_agg(posts) AS slot_posts FROM slots) AS by_slot
            -- The post with the most engagements; ties go to more impressions, then to the later post (then the id: one answer).
            LEFT JOIN (SELECT id FROM posts WHERE impressions IS NOT NULL ORDER BY engagements DESC, impressions DESC, published_at DESC, id DESC LIMIT 1) AS best ON true
            LEFT JOIN scheduled_posts AS p ON p.id = best.id
            {LatestReadingJoin}
            """, Id(id), Time(start), Time(now),
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz, Value = offsets.Starts },
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer, Value = offsets.Seconds }));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return ApiProblems.NotFound("X account not found.");
        }

        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        long? startFollowers = reader.IsDBNull(0) ? null : reader.GetInt64(0);
        long? endFollowers = reader.IsDBNull(1) ? null : reader.GetInt64(1);
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var best = reader.IsDBNull(0) ? null : ReadPost(reader, services.Links);
        var postsPublished = reader.GetInt32(PostColumnCount);
        var impressions = reader.GetInt64(PostColumnCount + 1);
        var engagements = reader.GetInt64(PostColumnCount + 2);
        var slots = reader.IsDBNull(PostColumnCount + 3) ? [] : reader.GetFieldValue<int[]>(PostColumnCount + 3);
        var rateSums = reader.IsDBNull(PostColumnCount + 4) ? [] : reader.GetFieldValue<double[]>(PostColumnCount + 4);
        var slotPosts = reader.IsDBNull(PostColumnCount + 5) ? [] : reader.GetFieldValue<int[]>(PostColumnCount + 5);
        return TypedResults.Ok(new AccountSummary(id, period, zone.Id, from.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), new FollowerChange(startFollowers, endFollowers, endFollowers - startFollowers),
            postsPublished, impressions, engagements, Rate(engagements, impressions), best, BestTimes(slots, rateSums, slotPosts)));
    }

    /// <summary>
    /// The mean engagement rate of the posts published in each local weekday and hour (posts with impressions only),
    /// from the sums per slot (weekday × 24 + hour); null where fewer than <see cref="MinPostsPerBestTime"/>, too few
    /// to say anything.
    /// </summary>
    private static List<BestTimesDay> BestTimes(int[] slots, double[] rateSums, int[] slotPosts)
    {
        var means = new double?[7 * 24];
        for (var i = 0; i < slots.Length; i++)
        {
            if (slotPosts[i] >= MinPostsPerBestTime)
            {
                means[slots[i]] = rateSums[i] / slotPosts[i];
            }
        }

        return [.. Enumerable.Range(0, 7).Select(day => new BestTimesDay(Weekdays[day], means[(day * 24)..((day + 1) * 24)]))];
    }

    private const string Engagements = "r.likes + r.reposts + r.replies + r.quotes + r.bookmarks";

    private const string PostColumns = """
        p.id, p.x_account_id, (SELECT pp.text FROM post_parts AS pp WHERE pp.post_id = p.id AND pp.position = 0), p.x_post_id, p.published_at, p.deleted_on_x_at,
        r.kind, r.read_at, r.impressions, r.likes, r.reposts, r.replies, r.quotes, r.bookmarks, r.url_clicks, r.profile_clicks
        """;

    private const int PostColumnCount = 16;

    /// <summary>
    /// A post's latest reading, from the index ix_post_metric_readings_latest alone (its key and included columns are
    /// all this reads: keep them in step).
    /// </summary>
    private const string LatestReadingJoin = """
        LEFT JOIN LATERAL (
            SELECT m.kind, m.read_at, m.impressions, m.likes, m.reposts, m.replies, m.quotes, m.bookmarks, m.url_clicks, m.profile_clicks
            FROM post_metric_readings AS m WHERE m.scheduled_post_id = p.id ORDER BY m.read_at DESC LIMIT 1
        ) AS r ON true
        """;

    private static PostAnalytics ReadPost(NpgsqlDataReader row, XPostLinks links)
    {
        var xPostId = row.GetString(3);
        PostMetricsResponse? metrics = null;
        if (!row.IsDBNull(6))
        {
            SnakeCaseEnumConverter<PostMetricKind>.TryParse(row.GetString(6), out var kind);
            long Count(int ordinal) => row.GetInt64(ordinal);
            metrics = new PostMetricsResponse(Count(8), Count(9), Count(10), Count(11), Count(12), Count(13),
                Count(9) + Count(10) + Count(11) + Count(12) + Count(13),
                row.IsDBNull(14) ? null : Count(14), row.IsDBNull(15) ? null : Count(15), kind, row.GetFieldValue<DateTimeOffset>(7));
        }

        return new PostAnalytics(row.GetGuid(0), row.GetGuid(1), row.GetString(2), xPostId, links.UrlOf(xPostId),
            row.GetFieldValue<DateTimeOffset>(4), !row.IsDBNull(5), metrics, metrics is null ? null : Rate(metrics.Engagements, metrics.Impressions));
    }

    private static double? Rate(long engagements, long impressions) => impressions > 0 ? (double)engagements / impressions : null;

    /// <summary>One row when the account is the user's (and not disconnected): another user's account is not found, like a missing one.</summary>
    private static NpgsqlBatchCommand OwnedAccountCommand(Guid accountId, string userId) => Command(
        "SELECT 1 FROM x_accounts WHERE id = $1 AND user_id = $2 AND status <> 'disconnected'", Id(accountId), new NpgsqlParameter { Value = userId });

    private static NpgsqlBatchCommand Command(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters);
        return command;
    }

    private static NpgsqlParameter Id(Guid value) => new() { NpgsqlDbType = NpgsqlDbType.Uuid, Value = value };

    private static NpgsqlParameter Time(DateTimeOffset value) => new() { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = value };

    private static string EncodeCursor(string sort, double value, Guid id) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{sort}:{value.ToString("R", CultureInfo.InvariantCulture)}:{id:N}"));

    private static (double, Guid)? DecodeCursor(string cursor, string sort)
    {
        try
        {
            var parts = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor)).Split(':');
            return parts.Length == 3 && parts[0] == sort
                && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
                && Guid.TryParseExact(parts[2], "N", out var id)
                ? (value, id)
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
