using System.Buffers.Text;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using XGrowth.Api.Auth;
using XGrowth.Api.Http;
using XGrowth.Api.OpenApi;
using XGrowth.Api.Queue;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Api.Posts;

/// <summary>The signed-in user's scheduled posts: create, list, read, edit and cancel.</summary>
public static partial class PostsApi
{
    /// <summary>Clock slack for "in the future": a post for "now" sent over a slow network is still accepted.</summary>
    public static readonly TimeSpan PastSlack = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan MaxAhead = TimeSpan.FromDays(365);
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;

    /// <summary>The longest text accepted, in UTF-16 code units, before X's weighted length is even counted.</summary>
    public const int MaxTextChars = 10_000;

    /// <summary>The most parts a thread may have.</summary>
    public const int MaxParts = 25;

    public static RouteGroupBuilder MapPostsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/posts").WithTags("Posts").RequireAuthorization().WithJsonBodyLimit()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        group.MapPost("/", CreateAsync).WithName("createPost").WithWriteRateLimit()
            .WithSummary("Create a post")
            .WithDescription("Creates a post on one of the user's X accounts: `text` for a single post, or `parts` (1 to 25) for a thread " +
                "published as a reply chain, not both; at `scheduledAt` (with an offset, within a year), into the " +
                "account's queue with `queue: true` (the earliest free slot at least a minute ahead), or, with neither, a draft.")
            .WithRequestExample(new JsonObject
            {
                ["xAccountId"] = "0193a3c5-7b2e-7d41-9a53-2f1e8b6c4d10",
                ["parts"] = new JsonArray(
                    new JsonObject { ["text"] = "Threads are here. What they do, in three posts:" },
                    new JsonObject { ["text"] = "1. Every part is checked against X's length rules before it is scheduled." },
                    new JsonObject { ["text"] = "2. Parts go out in order, each a reply to the one before, and never twice." }),
                ["scheduledAt"] = "2027-03-01T09:00:00+01:00",
            })
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/", ListAsync).WithName("listPosts").WithSummary("List posts")
            .WithDescription("The user's posts by scheduled time, oldest first, paged with `cursor` (the previous page's `nextCursor`). " +
                "`from` (inclusive) and `to` (exclusive) are instants with an offset.")
            .WithQueryEnum<ScheduledPostStatus>("status");
        group.MapGet("/{id:guid}", GetAsync).WithName("getPost").WithSummary("Get a post")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPatch("/{id:guid}", UpdateAsync).WithName("updatePost").WithWriteRateLimit()
            .WithSummary("Edit a post")
            .WithDescription("Changes the text (`text` or `parts`, not both), the time or both of a post that has not started publishing " +
                "(of a draft, only the text); a field left out is kept. A new time takes a queued post out of the queue. Parts already on X cannot be changed.")
            .WithRequestExample(new JsonObject { ["scheduledAt"] = "2027-03-01T12:30:00+01:00" })
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapDelete("/{id:guid}", CancelAsync).WithName("cancelPost").WithWriteRateLimit()
            .WithSummary("Cancel a post")
            .WithDescription("Cancels a draft or a post that has not started publishing (again: nothing changes).")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/{id:guid}/schedule", ScheduleDraftAsync).WithName("scheduleDraft").WithWriteRateLimit()
            .WithSummary("Schedule a draft")
            .WithDescription("Gives a draft its time: `scheduledAt`, or the earliest free slot of its account's queue with `queue: true`.")
            .WithRequestExample(new JsonObject { ["queue"] = true })
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/{id:guid}/unschedule", UnscheduleAsync).WithName("unschedulePost").WithWriteRateLimit()
            .WithSummary("Unschedule a post")
            .WithDescription("Turns a scheduled post that has not started publishing back into a draft; a queued post leaves its slot.")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/{id:guid}/retry", RetryAsync).WithName("retryPost").WithWriteRateLimit()
            .WithSummary("Retry a post")
            .WithDescription("Publishes again, now, a post that is unconfirmed (check X first: it may be there), missed or failed. " +
                "A thread continues from its first part without an X id.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/{id:guid}/dismiss", DismissAsync).WithName("dismissPost").WithWriteRateLimit()
            .WithSummary("Dismiss a post")
            .WithDescription("Leaves an unconfirmed, missed or failed post as it is: it becomes cancelled and is never retried.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        return group;
    }

    /// <summary>The states a user may retry or dismiss: the worker stopped and handed the decision to the user.</summary>
    private static readonly ScheduledPostStatus[] NeedsUser = [ScheduledPostStatus.Unconfirmed, ScheduledPostStatus.Missed, ScheduledPostStatus.Failed];

    internal static Task<Results<Ok<PostResponse>, ProblemHttpResult>> RetryAsync(
        Guid id, ClaimsPrincipal user, [AsParameters] PostServices services, CancellationToken cancellationToken) =>
        DecideAsync(id, user, services, retry: true, cancellationToken);

    internal static Task<Results<Ok<PostResponse>, ProblemHttpResult>> DismissAsync(
        Guid id, ClaimsPrincipal user, [AsParameters] PostServices services, CancellationToken cancellationToken) =>
        DecideAsync(id, user, services, retry: false, cancellationToken);

    private static async Task<Results<Ok<PostResponse>, ProblemHttpResult>> DecideAsync(
        Guid id, ClaimsPrincipal user, PostServices services, bool retry, CancellationToken cancellationToken)
    {
        var userId = user.ClerkUserId();
        var post = await services.Db.ScheduledPosts.Include(p => p.XAccount).IncludeParts()
            .SingleOrDefaultAsync(p => p.Id == id && p.XAccount!.UserId == userId, cancellationToken);
        if (post is null)
        {
            return ApiProblems.NotFound("Post not found.");
        }

        if (!NeedsUser.Contains(post.Status))
        {
            return ApiProblems.Conflict("Nothing to decide",
                $"The post is {SnakeCaseEnumConverter<ScheduledPostStatus>.NameOf(post.Status)}; only unconfirmed, missed or failed posts can be retried or dismissed.");
        }

        if (retry && post.XAccount!.Status != XAccountStatus.Connected)
        {
            return ApiProblems.Conflict("Account not connected", "Reconnect the X account before retrying its posts.");
        }

        var db = services.Db;
        try
        {
            var (decided, problem) = await db.InTransactionAsync<ScheduledPost, ProblemHttpResult>(async ct =>
            {
                // A retried post waits to be published again: like a new one, it must fit the pending-post limits, checked
                // under the user's lock.
                if (retry)
                {
                    await LockUserAsync(db, userId, ct);
                    if (await PostLimits.ExceededAsync(db, services.Limits.Value, userId, post.XAccountId, ct) is { } limit)
                    {
                        return (null, limit);
                    }
                }

                var now = services.Time.GetUtcNow();
                post.Status = retry ? ScheduledPostStatus.Scheduled : ScheduledPostStatus.Cancelled;
                if (retry)
                {
                    // Now, outside the queue: its slot is past.
                    post.ScheduledAt = now;
                    post.Queued = false;
                    post.SlotAt = null;
                    post.NotBefore = null;
                    post.Attempts = 0;
                    post.Error = null;
                    post.RequestSentAt = null;
                }

                post.UpdatedAt = now;
                await db.SaveChangesAsync(ct);
                return (post, null);
            }, cancellationToken);
            return decided is not null ? TypedResults.Ok(PostResponse.From(decided, services.Links)) : problem!;
        }
        catch (DbUpdateConcurrencyException)
        {
            return ApiProblems.Conflict("Post changed meanwhile", "The post changed while this was decided. Reload it.");
        }
    }

    /// <summary>A new post: at <c>scheduledAt</c>, or into the account's queue with <c>queue: true</c>, or a draft with neither.</summary>
    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    /// <remarks>The text is <c>text</c> (one part) or <c>parts</c> (a thread), one of them.</remarks>
    public sealed record CreatePostRequest(
        Guid? XAccountId, string? Text = null, IReadOnlyList<PostPartRequest?>? Parts = null,
        [property: DataType(DataType.DateTime)] string? ScheduledAt = null, bool? Queue = null);

    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record UpdatePostRequest(
        string? Text = null, IReadOnlyList<PostPartRequest?>? Parts = null, [property: DataType(DataType.DateTime)] string? ScheduledAt = null);

    /// <summary>One part of a thread: its text, and the ids of its media (up to 4 images or 1 GIF, from <c>POST /api/media</c>).</summary>
    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record PostPartRequest(string? Text, IReadOnlyList<Guid>? MediaIds = null);

    public sealed record PostServices(XGrowthDbContext Db, TimeProvider Time, XPostLinks Links, Microsoft.Extensions.Options.IOptions<PostLimitsOptions> Limits);

    public sealed record ListQuery(
        [FromQuery(Name = "from")] DateTimeOffset? From,
        [FromQuery(Name = "to")] DateTimeOffset? To,
        [FromQuery(Name = "status")] string? Status,
        [FromQuery(Name = "xAccountId")] Guid? XAccountId,
        [FromQuery(Name = "limit")] int? Limit,
        [FromQuery(Name = "cursor")] string? Cursor);

    internal static async Task<Results<Created<PostResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreatePostRequest request, ClaimsPrincipal user, [AsParameters] PostServices services, CancellationToken cancellationToken)
    {
        var userId = user.ClerkUserId();
        var errors = new Dictionary<string, string[]>();
        if (request.XAccountId is null)
        {
            errors["xAccountId"] = ["xAccountId is required."];
        }

        var parts = ValidateParts(request.Text, request.Parts, required: true, errors);
        var timing = ValidateTiming(request.ScheduledAt, request.Queue, draftAllowed: true, services.Time, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var db = services.Db;
        // One transaction that holds the user's row: a user's creations are serialized, so the limits on pending posts
        // hold however many calls arrive at once, on any number of API processes.
        var (created, problem) = await db.InTransactionAsync<PostResponse, IResult>(async ct =>
        {
            if (await LockUserAndReadAccountAsync(db, userId, request.XAccountId!.Value, ct) is not { } account
                || account.Status == XAccountStatus.Disconnected)
            {
                return (null, ApiProblems.NotFound("X account not found."));
            }

            var now = services.Time.GetUtcNow();
            if (await PartMediaRules.RefusedAsync(db, userId, parts!, detached: [], now, ct) is { } unusable)
            {
                return (null, unusable);
            }

            var post = new ScheduledPost
            {
                Id = Guid.CreateVersion7(now),
                XAccountId = account.Id,
                Parts = [.. parts!.Select((part, position) => new PostPart { Position = position, Text = part.Text, Media = PartMediaRules.Links(part) })],
                Status = ScheduledPostStatus.Draft,
                CreatedAt = now,
                UpdatedAt = now,
                CreationTraceParent = System.Diagnostics.Activity.Current?.Id,
            };
            if (await ScheduleAsync(db, services, userId, post, account.Status, timing!, now, ct) is { } refused)
            {
                return (null, refused);
            }

            db.ScheduledPosts.Add(post);
            await db.SaveChangesAsync(ct);
            // Without media the post as written is its whole answer; media adds each item's type and alt text, read back.
            // (Reading it back always was one more round trip while the user's lock is held: bench/QueueBench.)
            return (parts!.Any(part => part.MediaIds.Count > 0) ? await ReadAsync(db, post.Id, services.Links, ct) : PostResponse.From(post, services.Links), null);
        }, cancellationToken);

        if (created is null)
        {
            return problem switch
            {
                ValidationProblem validation => validation,
                ProblemHttpResult other => other,
                _ => throw new System.Diagnostics.UnreachableException(),
            };
        }

        return TypedResults.Created($"/api/posts/{created.Id}", created);
    }

    internal static async Task<Results<Ok<Page<PostResponse>>, ValidationProblem>> ListAsync(
        [AsParameters] ListQuery query, ClaimsPrincipal user, [AsParameters] PostServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var limit = query.Limit ?? DefaultPageSize;
        if (limit is < 1 or > MaxPageSize)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxPageSize}."];
        }

        (DateTimeOffset? At, Guid Id)? after = null;
        if (query.Cursor is not null)
        {
            after = DecodeCursor(query.Cursor);
            if (after is null)
            {
                errors["cursor"] = ["cursor is not one this API returned."];
            }
        }

        ScheduledPostStatus? status = null;
        if (query.Status is not null)
        {
            if (SnakeCaseEnumConverter<ScheduledPostStatus>.TryParse(query.Status, out var parsed))
            {
                status = parsed;
            }
            else
            {
                errors["status"] = [$"status must be one of {string.Join(", ", SnakeCaseEnumConverter<ScheduledPostStatus>.AllNames)}."];
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
        var posts = services.Db.ScheduledPosts.AsNoTracking().Where(p => p.XAccount!.UserId == userId);
        // PostgreSQL's timestamptz takes only UTC from Npgsql: 09:00+01:00 is asked for as 08:00Z, the same instant.
        if (query.From?.ToUniversalTime() is { } from)
        {
            posts = posts.Where(p => p.ScheduledAt >= from);
        }

        if (query.To?.ToUniversalTime() is { } to)
        {
            posts = posts.Where(p => p.ScheduledAt < to);
        }

        if (status is { } wanted)
        {
            posts = posts.Where(p => p.Status == wanted);
        }

        if (query.XAccountId is { } accountId)
        {
            posts = posts.Where(p => p.XAccountId == accountId);
        }

        // Drafts (no time) come last, by id.
        if (after is { At: { } afterAt } timed)
        {
            posts = posts.Where(p => p.ScheduledAt > afterAt || (p.ScheduledAt == afterAt && p.Id.CompareTo(timed.Id) > 0) || p.ScheduledAt == null);
        }
        else if (after is { } draft)
        {
            posts = posts.Where(p => p.ScheduledAt == null && p.Id.CompareTo(draft.Id) > 0);
        }

        var items = (await posts.OrderBy(p => p.ScheduledAt).ThenBy(p => p.Id).Take(limit + 1)
            .Select(PostResponse.Rows).ToListAsync(cancellationToken)).ConvertAll(row => PostResponse.From(row, services.Links));
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(limit);
            next = EncodeCursor(items[^1].ScheduledAt, items[^1].Id);
        }

        return TypedResults.Ok(new Page<PostResponse>(items, next));
    }

    internal static async Task<Results<Ok<PostResponse>, ProblemHttpResult>> GetAsync(
        Guid id, ClaimsPrincipal user, [AsParameters] PostServices services, CancellationToken cancellationToken)
    {
        var userId = user.ClerkUserId();
        var post = await services.Db.ScheduledPosts.AsNoTracking()
            .Where(p => p.Id == id && p.XAccount!.UserId == userId)
            .Select(PostResponse.Rows).SingleOrDefaultAsync(cancellationToken);
        return post is null ? ApiProblems.NotFound("Post not found.") : TypedResults.Ok(PostResponse.From(post, services.Links));
    }

    internal static async Task<Results<Ok<PostResponse>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        Guid id, UpdatePostRequest request, ClaimsPrincipal user, [AsParameters] PostServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var parts = ValidateParts(request.Text, request.Parts, required: false, errors);
        var scheduledAt = ValidateScheduledAt(request.ScheduledAt, required: false, services.Time, errors);
        if (parts is null && scheduledAt is null && errors.Count == 0)
        {
            errors[""] = ["Give text (or parts), scheduledAt or both."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var userId = user.ClerkUserId();
        var db = services.Db;
        try
        {
            var (post, problem) = await db.InTransactionAsync<PostResponse, IResult>(async ct =>
            {
                if (parts is not null)
                {
                    // As on creation: the user's media are attached and detached one change at a time.
                    await LockUserAsync(db, userId, ct);
                }

                var post = await db.ScheduledPosts.IncludeParts().SingleOrDefaultAsync(p => p.Id == id && p.XAccount!.UserId == userId, ct);
                if (post is null)
                {
                    return (null, ApiProblems.NotFound("Post not found."));
                }

                if (post.Status == ScheduledPostStatus.Draft && scheduledAt is not null)
                {
                    return (null, ApiProblems.Conflict("Post is a draft",
                        "A draft has no time to change: schedule it with POST /api/posts/{id}/schedule."));
                }

                if (post.Status is not (ScheduledPostStatus.Scheduled or ScheduledPostStatus.Draft))
                {
                    return (null, NotEditable(post.Status));
                }

                var now = services.Time.GetUtcNow();
                if (parts is not null)
                {
                    if (post.Parts.Any(part => part.XPostId is not null))
                    {
                        // A thread interrupted mid-way (rate limited, or retried) has parts on X already: the rest must reply to them.
                        return (null, ApiProblems.Conflict("Post partly published",
                            "Some parts of this post are already on X; its text can no longer be changed. Change its time, or cancel it."));
                    }

                    var detached = post.Parts.SelectMany(part => part.Media).Select(link => link.MediaId).ToList();
                    if (await PartMediaRules.RefusedAsync(db, userId, parts, detached, now, ct) is { } unusable)
                    {
                        return (null, unusable);
                    }

                    ReplaceParts(post, parts);
                }

                if (scheduledAt is not null)
                {
                    // A time of its own: out of the queue. Its old instant (and slot) may be the queue's earliest free one now.
                    await AccountQueue.ForgetFilledThroughAsync(db, post.XAccountId, ct);
                    post.ScheduledAt = scheduledAt;
                    post.Queued = false;
                    post.SlotAt = null;
                }

                post.UpdatedAt = now;
                // The row version (xmin) makes this fail if the worker took the post since it was read: the user then
                // learns that the edit did not make it, instead of X getting text the user replaced.
                await db.SaveChangesAsync(ct);
                return (await ReadAsync(db, post.Id, services.Links, ct), null);
            }, cancellationToken);
            return post is not null ? TypedResults.Ok(post) : problem switch
            {
                ValidationProblem validation => validation,
                ProblemHttpResult other => other,
                _ => throw new System.Diagnostics.UnreachableException(),
            };
        }
        catch (DbUpdateConcurrencyException)
        {
            return ApiProblems.Conflict("Post changed meanwhile",
                "The post changed while it was being edited (it may have started publishing). Reload it and try again.");
        }
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> CancelAsync(
        Guid id, ClaimsPrincipal user, [AsParameters] PostServices services, CancellationToken cancellationToken)
    {
        var userId = user.ClerkUserId();
        var post = await services.Db.ScheduledPosts.SingleOrDefaultAsync(p => p.Id == id && p.XAccount!.UserId == userId, cancellationToken);
        if (post is null)
        {
            return ApiProblems.NotFound("Post not found.");
        }

        if (post.Status == ScheduledPostStatus.Cancelled)
        {
            return TypedResults.NoContent();
        }

        if (post.Status is not (ScheduledPostStatus.Scheduled or ScheduledPostStatus.Draft))
        {
            return NotEditable(post.Status);
        }

        var db = services.Db;
        try
        {
            await db.InTransactionAsync(async ct =>
            {
                if (post.Status == ScheduledPostStatus.Scheduled)
                {
                    // The post leaves its instant (and its slot): an earlier slot of the queue may be free now.
                    await AccountQueue.ForgetFilledThroughAsync(db, post.XAccountId, ct);
                }

                post.Status = ScheduledPostStatus.Cancelled;
                post.UpdatedAt = services.Time.GetUtcNow();
                await db.SaveChangesAsync(ct);
                return (post, (ProblemHttpResult?)null);
            }, cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            return ApiProblems.Conflict("Post changed meanwhile",
                "The post changed while it was being cancelled (it may have started publishing). Reload it.");
        }

        return TypedResults.NoContent();
    }

    /// <summary>The post as every endpoint answers it, read back in the transaction that wrote it.</summary>
    private static async Task<PostResponse> ReadAsync(XGrowthDbContext db, Guid id, XPostLinks links, CancellationToken cancellationToken) =>
        PostResponse.From(await db.ScheduledPosts.AsNoTracking().Where(p => p.Id == id).Select(PostResponse.Rows).SingleAsync(cancellationToken), links);

    /// <summary>
    /// Gives the post these parts, updating parts in place (a part's key is its position), adding or removing the rest;
    /// the same for each part's media (a link's key is its position in the part).
    /// </summary>
    private static void ReplaceParts(ScheduledPost post, IReadOnlyList<PartInput> parts)
    {
        post.Parts.Sort((a, b) => a.Position.CompareTo(b.Position));
        for (var position = 0; position < parts.Count; position++)
        {
            if (position < post.Parts.Count)
            {
                var part = post.Parts[position];
                part.Text = parts[position].Text;
                part.Media.Sort((a, b) => a.Position.CompareTo(b.Position));
                var mediaIds = parts[position].MediaIds;
                for (var i = 0; i < mediaIds.Count; i++)
                {
                    if (i < part.Media.Count)
                    {
                        part.Media[i].MediaId = mediaIds[i];
                    }
                    else
                    {
                        part.Media.Add(new PostPartMedia { Position = i, MediaId = mediaIds[i] });
                    }
                }

                part.Media.RemoveRange(mediaIds.Count, part.Media.Count - mediaIds.Count);
            }
            else
            {
                post.Parts.Add(new PostPart { Position = position, Text = parts[position].Text, Media = PartMediaRules.Links(parts[position]) });
            }
        }

        post.Parts.RemoveRange(parts.Count, post.Parts.Count - parts.Count);
    }

    private static ProblemHttpResult NotEditable(ScheduledPostStatus status) =>
        ApiProblems.Conflict("Post can no longer be changed",
            $"The post is {SnakeCaseEnumConverter<ScheduledPostStatus>.NameOf(status)}; only drafts and scheduled posts can be changed or cancelled.");

    /// <summary>
    /// The post's texts, normalized, from <c>text</c> (one part) or <c>parts</c>; null (with the reasons in
    /// <paramref name="errors"/>) when they are not valid, or when neither was given.
    /// </summary>
    private static List<PartInput>? ValidateParts(string? text, IReadOnlyList<PostPartRequest?>? parts, bool required, Dictionary<string, string[]> errors)
    {
        if (text is not null && parts is not null)
        {
            errors["parts"] = ["Give text (a single post) or parts (a thread), not both."];
            return null;
        }

        if (parts is null)
        {
            if (text is null && required)
            {
                errors["text"] = ["text or parts is required."];
                return null;
            }

            return text is null ? null : ValidateText(text, "text", hasMedia: false, errors) is { } single ? [new PartInput(single, [])] : null;
        }

        if (parts.Count is < 1 or > MaxParts)
        {
            errors["parts"] = [$"parts must have 1 to {MaxParts} items; it has {parts.Count}."];
            return null;
        }

        var valid = new List<PartInput>(parts.Count);
        for (var i = 0; i < parts.Count; i++)
        {
            var key = $"parts[{i}].text";
            if (parts[i] is not { } part)
            {
                errors[$"parts[{i}]"] = ["A part must be an object with text."];
                continue;
            }

            var mediaIds = PartMediaRules.Validate(part.MediaIds, $"parts[{i}].mediaIds", errors);
            if (part.Text is null)
            {
                errors[key] = ["text is required (it may be empty when the part has media)."];
            }
            else if (ValidateText(part.Text, key, hasMedia: part.MediaIds is { Count: > 0 }, errors) is { } partText && mediaIds is not null)
            {
                valid.Add(new PartInput(partText, mediaIds));
            }
        }

        return valid.Count == parts.Count ? valid : null;
    }

    /// <summary>The text, normalized; null (with the reason in <paramref name="errors"/>) when not valid. A part with media may have no text.</summary>
    private static string? ValidateText(string text, string key, bool hasMedia, Dictionary<string, string[]> errors)
    {
        if (text.Length > MaxTextChars)
        {
            // No text this long can be a valid post (even a text of the longest URLs X counts as 23 each): refused
            // before it is counted or stored, which bounds what one post can weigh in the database and the calendar.
            errors[key] = [$"text is {text.Length} characters long; the most a post's text may have is {MaxTextChars}."];
            return null;
        }

        var normalized = PostText.Normalize(text);
        if (string.IsNullOrWhiteSpace(normalized))
        {
            if (hasMedia)
            {
                return "";
            }

            errors[key] = ["text must not be empty (unless the part has media)."];
        }
        else if (normalized.Contains('\0', StringComparison.Ordinal))
        {
            errors[key] = ["text must not contain NUL characters."];
        }
        else if (PostText.Parse(normalized) is { Valid: false } parsed)
        {
            errors[key] = parsed.WeightedLength > PostText.MaxWeightedLength
                ? [$"text is {parsed.WeightedLength} characters as X counts them (URLs 23, CJK and emoji 2); the limit is {PostText.MaxWeightedLength}."]
                : ["text must not contain U+FEFF, U+FFFE or U+FFFF (X refuses them)."];
        }

        return errors.ContainsKey(key) ? null : normalized;
    }

    private static DateTimeOffset? ValidateScheduledAt(string? value, bool required, TimeProvider time, Dictionary<string, string[]> errors)
    {
        if (value is null)
        {
            if (required)
            {
                errors["scheduledAt"] = ["scheduledAt is required."];
            }

            return null;
        }

        // An offset is required: a bare local time would be read in the server's zone, which the user never meant.
        if (!OffsetDateTime().IsMatch(value)
            || !DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.None, out var scheduledAt))
        {
            errors["scheduledAt"] = ["scheduledAt must be an ISO 8601 date and time with an offset, e.g. 2026-12-01T09:00:00+01:00."];
            return null;
        }

        var now = time.GetUtcNow();
        if (scheduledAt < now - PastSlack)
        {
            errors["scheduledAt"] = ["scheduledAt must be in the future."];
            return null;
        }

        if (scheduledAt > now + MaxAhead)
        {
            errors["scheduledAt"] = ["scheduledAt must be at most a year ahead."];
            return null;
        }

        // To the microsecond, as PostgreSQL keeps it (Npgsql drops the rest): an answer made from the request shows the
        // time that a later read of the post shows.
        var utc = scheduledAt.ToUniversalTime();
        return utc.AddTicks(-(utc.Ticks % TimeSpan.TicksPerMicrosecond));
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$", RegexOptions.CultureInvariant)]
    private static partial Regex OffsetDateTime();

    /// <summary>The last item's time (<c>d</c> for a draft, which has none) and id.</summary>
    private static string EncodeCursor(DateTimeOffset? at, Guid id) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{at?.UtcTicks.ToString(CultureInfo.InvariantCulture) ?? "d"}:{id:N}"));

    private static (DateTimeOffset?, Guid)? DecodeCursor(string cursor)
    {
        try
        {
            var parts = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor)).Split(':');
            if (parts.Length != 2 || !Guid.TryParseExact(parts[1], "N", out var id))
            {
                return null;
            }

            if (parts[0] == "d")
            {
                return (null, id);
            }

            return long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                && ticks <= DateTimeOffset.MaxValue.UtcTicks
                ? (new DateTimeOffset(ticks, TimeSpan.Zero), id)
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
