using System.Security.Claims;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NodaTime;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Api.Auth;
using XGrowth.Api.Http;
using XGrowth.Api.OpenApi;
using XGrowth.Api.Posts;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Api.Queue;

/// <summary>An X account's posting schedule and its queue: the weekly slots "add to queue" fills, and their order.</summary>
public static class QueueApi
{
    public const int DefaultQueueCount = 20;
    public const int MaxQueueCount = 100;

    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record SlotJson(string? Day, string? Time);

    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record ScheduleRequest(string? TimeZone, IReadOnlyList<SlotJson?>? Slots, int? JitterMinutes = null);

    /// <summary>A schedule; an account whose user never set one shows the default (Mon–Fri 09:00, 12:00, 17:00, the user's time zone).</summary>
    public sealed record ScheduleResponse(string TimeZone, IReadOnlyList<SlotJson> Slots, int JitterMinutes);

    /// <summary>One slot of the queue: its instant, and the post that holds it (or is at that instant), if any.</summary>
    public sealed record QueueSlot(DateTimeOffset At, PostResponse? Post);

    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record QueueOrderRequest(IReadOnlyList<Guid>? PostIds);

    public sealed record QueueQuery([FromQuery(Name = "count")] int? Count);

    public sealed record QueueServices(XGrowthDbContext Db, NpgsqlDataSource DataSource, TimeProvider Time, XPostLinks Links);

    public static RouteGroupBuilder MapQueueApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/x-accounts/{id:guid}").WithTags("Queue").RequireAuthorization().WithJsonBodyLimit()
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/schedule", GetScheduleAsync).WithName("getPostingSchedule").WithSummary("Get the posting schedule")
            .WithDescription("The account's weekly slots (wall-clock times in `timeZone`) and `jitterMinutes`; an account whose user never set " +
                "one has the default: Monday to Friday at 09:00, 12:00 and 17:00 in the user's time zone.");
        group.MapPut("/schedule", PutScheduleAsync).WithName("setPostingSchedule").WithWriteRateLimit().WithSummary("Set the posting schedule")
            .WithDescription("Replaces the account's schedule: an IANA `timeZone`, 1 to 100 `slots` a week, `jitterMinutes` 0 to 15. " +
                "The queued posts are placed again, in their order, into the new slots; posts with a time of their own and posts " +
                "already publishing do not move.")
            .WithRequestExample(new JsonObject
            {
                ["timeZone"] = "Europe/Berlin",
                ["slots"] = new JsonArray(new JsonObject { ["day"] = "monday", ["time"] = "09:30" }, new JsonObject { ["day"] = "thursday", ["time"] = "17:00" }),
                ["jitterMinutes"] = 5,
            });
        group.MapGet("/queue", GetQueueAsync).WithName("getQueue").WithSummary("Get the queue")
            .WithDescription("The account's next `count` slots (1 to 100, default 20) from a minute ahead, each with the post in it " +
                "(a queued post, or a post with a time of its own at that instant) or null.");
        group.MapPut("/queue/order", ReorderAsync).WithName("reorderQueue").WithWriteRateLimit().WithSummary("Reorder the queue")
            .WithDescription("`postIds` must be exactly the account's queued posts that have not started publishing, in slots at least a " +
                "minute ahead (409 otherwise); they take the same slots in this order, each at its own jitter offset.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        return group;
    }

    internal static async Task<Results<Ok<ScheduleResponse>, ProblemHttpResult>> GetScheduleAsync(
        Guid id, ClaimsPrincipal principal, [AsParameters] QueueServices services, CancellationToken cancellationToken)
    {
        var userId = principal.ClerkUserId();
        var found = await services.Db.XAccounts.AsNoTracking()
            .Where(a => a.Id == id && a.UserId == userId && a.Status != XAccountStatus.Disconnected)
            .Select(a => new { UserTimeZone = a.User!.TimeZone, a.Schedule })
            .SingleOrDefaultAsync(cancellationToken);
        if (found is null)
        {
            return ApiProblems.NotFound("X account not found.");
        }

        return TypedResults.Ok(found.Schedule is { } schedule
            ? ToResponse(schedule.TimeZone, schedule.Slots, schedule.JitterMinutes)
            : ToResponse(found.UserTimeZone, PostingWeek.DefaultSlots, 0));
    }

    internal static async Task<Results<Ok<ScheduleResponse>, ValidationProblem, ProblemHttpResult>> PutScheduleAsync(
        Guid id, ScheduleRequest request, ClaimsPrincipal principal, [AsParameters] QueueServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (PostingWeek.FindZone(request.TimeZone) is null)
        {
            errors["timeZone"] = [request.TimeZone is null ? "timeZone is required (an IANA time zone such as Europe/Berlin)."
                : $"'{request.TimeZone}' is not an IANA time zone such as Europe/Berlin."];
        }

        var slots = ValidateSlots(request.Slots, errors);
        var jitter = request.JitterMinutes ?? 0;
        if (jitter is < 0 or > PostingWeek.MaxJitterMinutes)
        {
            errors["jitterMinutes"] = [$"jitterMinutes must be between 0 and {PostingWeek.MaxJitterMinutes}."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var userId = principal.ClerkUserId();
        var db = services.Db;
        var (saved, notFound) = await db.InTransactionAsync(async ct =>
        {
            if (await AccountQueue.LockAsync(db, id, userId, ct) is null)
            {
                return ((ScheduleResponse?)null, (ProblemHttpResult?)ApiProblems.NotFound("X account not found."));
            }

            var now = services.Time.GetUtcNow();
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO posting_schedules (x_account_id, time_zone, slots, jitter_minutes, updated_at)
                VALUES ({id}, {request.TimeZone}, {slots}, {jitter}, {now})
                ON CONFLICT (x_account_id) DO UPDATE SET time_zone = excluded.time_zone, slots = excluded.slots,
                    jitter_minutes = excluded.jitter_minutes, updated_at = excluded.updated_at
                """, ct);
            await PlaceAgainAsync(db, id, userId, now, ct);
            return (ToResponse(request.TimeZone!, slots, jitter), null);
        }, cancellationToken);
        return saved is not null ? TypedResults.Ok(saved) : notFound!;
    }

    /// <summary>
    /// Places the account's movable queue again, in its order, into the slots of the schedule now stored (the caller's
    /// transaction holds the account's row). Posts with a time of their own, and posts the worker claimed, stay.
    /// </summary>
    public static async Task PlaceAgainAsync(XGrowthDbContext db, Guid accountId, string userId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var queue = await AccountQueue.LockAsync(db, accountId, userId, cancellationToken)
            ?? throw new InvalidOperationException("The account is locked by this transaction.");
        var instant = Instant.FromDateTimeOffset(now);
        var posts = await queue.LockMovableAsync(instant, cancellationToken);
        await queue.PlaceAgainAsync(posts, instant, cancellationToken);
    }

    internal static async Task<Results<Ok<List<QueueSlot>>, ValidationProblem, ProblemHttpResult>> GetQueueAsync(
        Guid id, [AsParameters] QueueQuery query, ClaimsPrincipal principal, [AsParameters] QueueServices services, CancellationToken cancellationToken)
    {
        var count = query.Count ?? DefaultQueueCount;
        if (count is < 1 or > MaxQueueCount)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["count"] = [$"count must be between 1 and {MaxQueueCount}."] });
        }

        var userId = principal.ClerkUserId();
        var db = services.Db;
        var found = await db.XAccounts.AsNoTracking()
            .Where(a => a.Id == id && a.UserId == userId && a.Status != XAccountStatus.Disconnected)
            .Select(a => new { UserTimeZone = a.User!.TimeZone, a.Schedule })
            .SingleOrDefaultAsync(cancellationToken);
        if (found is null)
        {
            return ApiProblems.NotFound("X account not found.");
        }

        var week = found.Schedule is { } schedule
            ? new PostingWeek(PostingWeek.FindZone(schedule.TimeZone) ?? DateTimeZone.Utc, schedule.Slots)
            : new PostingWeek(PostingWeek.FindZone(found.UserTimeZone) ?? DateTimeZone.Utc, PostingWeek.DefaultSlots);
        var start = Instant.FromDateTimeOffset(services.Time.GetUtcNow()) + AccountQueue.Lead;
        var slots = week.SlotsFrom(start).Take(count).Select(s => s.ToDateTimeOffset()).ToList();
        // One indexed range read (x_account_id, scheduled_at): a queued post leaves within the jitter margin of its slot.
        var margin = TimeSpan.FromMinutes(PostingWeek.MaxJitterMinutes);
        await using var command = services.DataSource.CreateCommand($"""
            SELECT {PostRowSql.Columns} FROM scheduled_posts AS p
            WHERE p.x_account_id = $1 AND p.scheduled_at >= $2 AND p.scheduled_at <= $3 AND p.status <> 'cancelled'
            ORDER BY p.scheduled_at, p.id
            """);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = id });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = slots[0] - margin });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = slots[^1] + margin });
        var posts = new List<PostRow>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                posts.Add(PostRowSql.Read(reader));
            }
        }

        // A slot shows the queued post that holds it, else a post with a time of its own at that instant.
        var bySlot = new Dictionary<DateTimeOffset, PostRow>();
        foreach (var post in posts.OrderBy(p => !p.Queued))
        {
            bySlot.TryAdd(post.SlotAt ?? post.ScheduledAt!.Value, post);
        }

        return TypedResults.Ok(slots.ConvertAll(at => new QueueSlot(at, bySlot.TryGetValue(at, out var post) ? PostResponse.From(post, services.Links) : null)));
    }

    internal static async Task<Results<Ok<List<QueueSlot>>, ValidationProblem, ProblemHttpResult>> ReorderAsync(
        Guid id, QueueOrderRequest request, ClaimsPrincipal principal, [AsParameters] QueueServices services, CancellationToken cancellationToken)
    {
        if (request.PostIds is not { } order)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["postIds"] = ["postIds is required."] });
        }

        if (order.Distinct().Count() != order.Count)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["postIds"] = ["postIds must not name a post twice."] });
        }

        var userId = principal.ClerkUserId();
        var db = services.Db;
        var (placed, problem) = await db.InTransactionAsync(async ct =>
        {
            if (await AccountQueue.LockAsync(db, id, userId, ct) is not { } queue)
            {
                return ((List<QueuedPost>?)null, (ProblemHttpResult?)ApiProblems.NotFound("X account not found."));
            }

            var now = Instant.FromDateTimeOffset(services.Time.GetUtcNow());
            var posts = await queue.LockMovableAsync(now, ct);
            if (!posts.Select(p => p.Id).ToHashSet().SetEquals(order))
            {
                var strangers = order.Except(posts.Select(p => p.Id)).ToArray();
                var known = await db.ScheduledPosts.CountAsync(p => strangers.Contains(p.Id) && p.XAccountId == id, ct);
                if (known < strangers.Length)
                {
                    return (null, ApiProblems.NotFound("postIds names a post that is not one of this account's."));
                }

                return (null, ApiProblems.Conflict("Not the queue",
                    $"postIds must be exactly the account's {posts.Count} queued posts that have not started publishing " +
                    "(GET /api/x-accounts/{id}/queue lists them); the queue may have changed meanwhile."));
            }

            if (!await queue.ReorderAsync(posts, order, now, ct))
            {
                return (null, ApiProblems.Conflict("Slot taken", "A post with a time of its own is at one of the queue's slots; move it first."));
            }

            return (posts.Select((p, i) => p with { Id = order[i] }).ToList(), null);
        }, cancellationToken);
        if (placed is null)
        {
            return problem!;
        }

        var ids = order.ToArray();
        var byId = await db.ScheduledPosts.AsNoTracking().Where(p => ids.Contains(p.Id)).Select(PostResponse.Rows).ToDictionaryAsync(p => p.Id, cancellationToken);
        return TypedResults.Ok(placed.ConvertAll(p => new QueueSlot(p.Slot.ToDateTimeOffset(), PostResponse.From(byId[p.Id], services.Links))));
    }

    private static int[] ValidateSlots(IReadOnlyList<SlotJson?>? slots, Dictionary<string, string[]> errors)
    {
        if (slots is null || slots.Count == 0)
        {
            errors["slots"] = ["slots is required: at least one { \"day\": \"monday\", \"time\": \"09:30\" }."];
            return [];
        }

        if (slots.Count > PostingWeek.MaxSlots)
        {
            errors["slots"] = [$"There are {slots.Count} slots; a week may have at most {PostingWeek.MaxSlots}."];
            return [];
        }

        var minutes = new List<int>(slots.Count);
        for (var i = 0; i < slots.Count; i++)
        {
            if (PostingWeek.ParseSlot(slots[i]?.Day, slots[i]?.Time) is not { } minute)
            {
                errors[$"slots[{i}]"] = ["A slot is { \"day\": \"monday\"…\"sunday\", \"time\": \"HH:mm\" } (24-hour, 00:00–23:59)."];
            }
            else if (minutes.Contains(minute))
            {
                errors[$"slots[{i}]"] = [$"{slots[i]!.Day} {slots[i]!.Time} is there twice."];
            }
            else
            {
                minutes.Add(minute);
            }
        }

        return [.. minutes.Order()];
    }

    private static ScheduleResponse ToResponse(string timeZone, IEnumerable<int> slots, int jitterMinutes) => new(
        timeZone, [.. slots.Order().Select(PostingWeek.FormatSlot).Select(s => new SlotJson(s.Day, s.Time))], jitterMinutes);
}
