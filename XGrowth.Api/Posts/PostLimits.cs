using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using XGrowth.Data;

namespace XGrowth.Api.Posts;

/// <summary>
/// How much one user may have waiting to be published, so that no user can make the calendar, the queue or the worker
/// carry unbounded work (README, "Limits"). Posts already published, failed or cancelled do not count. Queued posts
/// count like any other post waiting. Drafts are never published and do not count as waiting; they have a limit of
/// their own, so that a user's drafts (listed whole in the calendar) stay bounded too.
/// </summary>
public static class PostLimits
{
    public const int MaxPendingPerAccount = 1_000;
    public const int MaxPendingPerUser = 5_000;
    public const int MaxDraftsPerUser = 1_000;

    /// <summary>The 400 to answer when one more pending post would pass a limit; null when it fits.</summary>
    public static async Task<ProblemHttpResult?> ExceededAsync(XGrowthDbContext db, PostLimitsOptions limits, string userId, Guid accountId, CancellationToken cancellationToken)
    {
        // Read from the counts triggers keep (the PendingPostCounts migration), not counted: every creation asks, under
        // the user's lock, so the check must cost the same for an account holding 10 posts or 10,000. The user's lock
        // makes the counts exact here: no other creation of theirs is in progress, and the worker only lowers them.
        var counts = await db.Database.SqlQuery<PendingCounts>($"""
            SELECT (SELECT pending FROM pending_post_counts WHERE x_account_id = {accountId}) AS on_account,
                   (SELECT COALESCE(sum(c.pending), 0)::integer FROM pending_post_counts AS c
                    JOIN x_accounts AS a ON a.id = c.x_account_id WHERE a.user_id = {userId}) AS on_user
            """).SingleAsync(cancellationToken);
        if (counts.OnAccount >= limits.MaxPendingPerAccount)
        {
            return LimitReached($"This X account already has {limits.MaxPendingPerAccount} posts waiting to be published, the most it may have. Cancel some, or wait until they are published.");
        }

        return counts.OnUser >= limits.MaxPendingPerUser
            ? LimitReached($"Your X accounts already have {limits.MaxPendingPerUser} posts waiting to be published, the most a user may have. Cancel some, or wait until they are published.")
            : null;
    }

    private sealed record PendingCounts(int OnAccount, int OnUser);

    /// <summary>The 400 to answer when one more draft would pass the limit; null when it fits.</summary>
    public static async Task<ProblemHttpResult?> DraftsExceededAsync(XGrowthDbContext db, PostLimitsOptions limits, string userId, CancellationToken cancellationToken)
    {
        var drafts = await db.ScheduledPosts.CountAsync(p => p.XAccount!.UserId == userId && p.Status == ScheduledPostStatus.Draft, cancellationToken);
        return drafts >= limits.MaxDraftsPerUser
            ? LimitReached($"You already have {limits.MaxDraftsPerUser} drafts, the most a user may have. Schedule or delete some.")
            : null;
    }

    private static ProblemHttpResult LimitReached(string detail) => TypedResults.Problem(
        title: "Limit reached", detail: detail, statusCode: StatusCodes.Status400BadRequest,
        extensions: new Dictionary<string, object?> { ["code"] = "limit_reached" });
}

/// <summary>The limits <see cref="PostLimits"/> applies (section <c>PostLimits</c>; the defaults are its constants).</summary>
public sealed class PostLimitsOptions
{
    public const string Section = "PostLimits";

    [Range(1, 1_000_000)]
    public int MaxPendingPerAccount { get; set; } = PostLimits.MaxPendingPerAccount;

    [Range(1, 1_000_000)]
    public int MaxPendingPerUser { get; set; } = PostLimits.MaxPendingPerUser;

    [Range(1, 1_000_000)]
    public int MaxDraftsPerUser { get; set; } = PostLimits.MaxDraftsPerUser;
}
