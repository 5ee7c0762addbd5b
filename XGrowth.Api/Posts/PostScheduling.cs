using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using NodaTime;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Api.Auth;
using XGrowth.Api.Http;
using XGrowth.Api.Queue;
using XGrowth.Data;

namespace XGrowth.Api.Posts;

/// <summary>When a post goes out: at a time of its own, in its account's queue, or not at all yet (a draft).</summary>
public abstract record PostTiming
{
    public sealed record At(DateTimeOffset Time) : PostTiming;

    public sealed record InQueue : PostTiming;

    public sealed record Draft : PostTiming;
}

/// <summary>Drafts, and turning them into scheduled posts and back.</summary>
public static partial class PostsApi
{
    /// <summary><c>{ "scheduledAt" }</c> or <c>{ "queue": true }</c>.</summary>
    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record SchedulePostRequest([property: System.ComponentModel.DataAnnotations.DataType(System.ComponentModel.DataAnnotations.DataType.DateTime)] string? ScheduledAt = null, bool? Queue = null);

    private static PostTiming? ValidateTiming(string? scheduledAt, bool? queue, bool draftAllowed, TimeProvider time, Dictionary<string, string[]> errors)
    {
        if (scheduledAt is not null && queue == true)
        {
            errors["queue"] = ["Give either scheduledAt or queue: true, not both."];
            return null;
        }

        if (queue == true)
        {
            return new PostTiming.InQueue();
        }

        if (scheduledAt is null && draftAllowed)
        {
            return new PostTiming.Draft();
        }

        if (scheduledAt is null)
        {
            errors["scheduledAt"] = ["Give scheduledAt, or queue: true."];
            return null;
        }

        return ValidateScheduledAt(scheduledAt, required: true, time, errors) is { } at ? new PostTiming.At(at) : null;
    }

    /// <summary>
    /// Gives <paramref name="post"/> (new, or a draft) its time: checks the account and the limits, takes a queue slot.
    /// The caller's transaction holds the user's row. Returns the answer that refuses it, or null.
    /// </summary>
    private static async Task<IResult?> ScheduleAsync(XGrowthDbContext db, PostServices services, string userId, ScheduledPost post,
        XAccountStatus accountStatus, PostTiming timing, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var limits = services.Limits.Value;
        if (timing is PostTiming.Draft)
        {
            return await PostLimits.DraftsExceededAsync(db, limits, userId, cancellationToken);
        }

        if (accountStatus != XAccountStatus.Connected)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["xAccountId"] = ["This X account must be reconnected before posts can be scheduled on it."],
            });
        }

        if (await PostLimits.ExceededAsync(db, limits, userId, post.XAccountId, cancellationToken) is { } limit)
        {
            return limit;
        }

        post.Status = ScheduledPostStatus.Scheduled;
        if (timing is PostTiming.At at)
        {
            post.ScheduledAt = at.Time;
            return null;
        }

        var queue = await AccountQueue.LockAsync(db, post.XAccountId, userId, cancellationToken)
            ?? throw new InvalidOperationException("The account was checked in this transaction.");
        var (slot, leavesAt) = await queue.PlaceAsync(post.Id, Instant.FromDateTimeOffset(now), cancellationToken);
        post.Queued = true;
        post.SlotAt = slot.ToDateTimeOffset();
        post.ScheduledAt = leavesAt.ToDateTimeOffset();
        return null;
    }

    internal static async Task<Results<Ok<PostResponse>, ValidationProblem, ProblemHttpResult>> ScheduleDraftAsync(
        Guid id, SchedulePostRequest request, ClaimsPrincipal user, [AsParameters] PostServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var timing = ValidateTiming(request.ScheduledAt, request.Queue, draftAllowed: false, services.Time, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var userId = user.ClerkUserId();
        var db = services.Db;
        try
        {
            var (post, problem) = await db.InTransactionAsync(async ct =>
            {
                await LockUserAsync(db, userId, ct);
                // The account share-locked first, as a new post does: a disconnect at the same time (which cancels the
                // account's waiting posts, not its drafts) waits and then cancels this one too, or runs first and is seen.
                await db.Database.ExecuteSqlInterpolatedAsync($"""
                    SELECT 1 FROM x_accounts AS a JOIN scheduled_posts AS p ON p.x_account_id = a.id
                    WHERE p.id = {id} AND a.user_id = {userId} FOR SHARE OF a
                    """, ct);
                var post = await db.ScheduledPosts.Include(p => p.XAccount).IncludeParts()
                    .SingleOrDefaultAsync(p => p.Id == id && p.XAccount!.UserId == userId, ct);
                if (post is null)
                {
                    return ((ScheduledPost?)null, (IResult?)ApiProblems.NotFound("Post not found."));
                }

                if (post.Status != ScheduledPostStatus.Draft)
                {
                    return (null, ApiProblems.Conflict("Not a draft",
                        $"The post is {SnakeCaseEnumConverter<ScheduledPostStatus>.NameOf(post.Status)}; only drafts can be scheduled. Change a scheduled post's time with PATCH."));
                }

                if (post.XAccount!.Status == XAccountStatus.Disconnected)
                {
                    return (null, ApiProblems.Conflict("Account disconnected", "The post's X account is disconnected: reconnect it to schedule its drafts."));
                }

                var now = services.Time.GetUtcNow();
                if (await ScheduleAsync(db, services, userId, post, post.XAccount.Status, timing!, now, ct) is { } refused)
                {
                    return (null, refused);
                }

                post.UpdatedAt = now;
                await db.SaveChangesAsync(ct);
                return (post, null);
            }, cancellationToken);
            return post is not null ? TypedResults.Ok(PostResponse.From(post, services.Links))
                : problem switch
                {
                    ValidationProblem validation => validation,
                    ProblemHttpResult other => other,
                    _ => throw new System.Diagnostics.UnreachableException(),
                };
        }
        catch (DbUpdateConcurrencyException)
        {
            return ApiProblems.Conflict("Post changed meanwhile", "The post changed while it was being scheduled. Reload it and try again.");
        }
    }

    internal static async Task<Results<Ok<PostResponse>, ProblemHttpResult>> UnscheduleAsync(
        Guid id, ClaimsPrincipal user, [AsParameters] PostServices services, CancellationToken cancellationToken)
    {
        var userId = user.ClerkUserId();
        var db = services.Db;
        try
        {
            var (post, problem) = await db.InTransactionAsync(async ct =>
            {
                await LockUserAsync(db, userId, ct);
                var post = await db.ScheduledPosts.IncludeParts().SingleOrDefaultAsync(p => p.Id == id && p.XAccount!.UserId == userId, ct);
                if (post is null)
                {
                    return ((ScheduledPost?)null, (ProblemHttpResult?)ApiProblems.NotFound("Post not found."));
                }

                if (post.Status == ScheduledPostStatus.Draft)
                {
                    return (post, null);
                }

                if (post.Status != ScheduledPostStatus.Scheduled)
                {
                    return (null, NotEditable(post.Status));
                }

                if (await PostLimits.DraftsExceededAsync(db, services.Limits.Value, userId, ct) is { } limit)
                {
                    return (null, limit);
                }

                // The post leaves its instant (and its slot): an earlier slot of the queue may be free now.
                await AccountQueue.ForgetFilledThroughAsync(db, post.XAccountId, ct);
                post.Status = ScheduledPostStatus.Draft;
                post.ScheduledAt = null;
                post.Queued = false;
                post.SlotAt = null;
                post.NotBefore = null;
                post.Error = null;
                post.UpdatedAt = services.Time.GetUtcNow();
                await db.SaveChangesAsync(ct);
                return (post, null);
            }, cancellationToken);
            return post is not null ? TypedResults.Ok(PostResponse.From(post, services.Links)) : problem!;
        }
        catch (DbUpdateConcurrencyException)
        {
            return ApiProblems.Conflict("Post changed meanwhile",
                "The post changed while it was being unscheduled (it may have started publishing). Reload it.");
        }
    }

    /// <summary>
    /// <see cref="LockUserAsync"/>, and reads the user's account in the same round trip: two statements in one batch, the
    /// second with a snapshot taken after the lock is held (what it waited for, a reconnect or a user's deletion, is
    /// seen). The account's row is share-locked until the transaction ends: a disconnect (which cancels the account's
    /// pending posts) waits for the new post and cancels it too, or runs first and the post is refused. Null when the
    /// user has no such account. The caller has begun the transaction.
    /// </summary>
    private static async Task<(Guid Id, XAccountStatus Status)?> LockUserAndReadAccountAsync(XGrowthDbContext db, string userId, Guid accountId, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch((NpgsqlConnection)db.Database.GetDbConnection())
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("SELECT 1 FROM users WHERE id = $1 FOR UPDATE") { Parameters = { new() { Value = userId } } },
                new NpgsqlBatchCommand("SELECT status FROM x_accounts WHERE id = $1 AND user_id = $2 FOR SHARE")
                {
                    Parameters = { new() { NpgsqlDbType = NpgsqlDbType.Uuid, Value = accountId }, new() { Value = userId } },
                },
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) && SnakeCaseEnumConverter<XAccountStatus>.TryParse(reader.GetString(0), out var status)
            ? (accountId, status)
            : null;
    }

    /// <summary>Serializes the user's changes that count against the limits (held until the transaction ends).</summary>
    private static Task LockUserAsync(XGrowthDbContext db, string userId, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlInterpolatedAsync($"SELECT 1 FROM users WHERE id = {userId} FOR UPDATE", cancellationToken);
}
