using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using XGrowth.Data;

namespace XGrowth.Api.Posts;

/// <summary>
/// How much one user may have waiting to be published, so that no user can make the calendar, the queue or the worker
/// carry unbounded work (README, "Limits"). Posts already published, failed or cancelled do not count.
/// </summary>
public static class PostLimits
{
    public const int MaxPendingPerAccount = 1_000;
    public const int MaxPendingPerUser = 5_000;

    /// <summary>The 400 to answer when one more pending post would pass a limit; null when it fits.</summary>
    public static async Task<ProblemHttpResult?> ExceededAsync(XGrowthDbContext db, string userId, Guid accountId, CancellationToken cancellationToken)
    {
        var pending = await db.ScheduledPosts
            .Where(p => p.XAccount!.UserId == userId
                && (p.Status == ScheduledPostStatus.Scheduled || p.Status == ScheduledPostStatus.Publishing))
            .GroupBy(p => p.XAccountId == accountId)
            .Select(g => new { ThisAccount = g.Key, Count = g.Count() })
            .ToListAsync(cancellationToken);
        var onAccount = pending.Where(p => p.ThisAccount).Sum(p => p.Count);
        var onUser = pending.Sum(p => p.Count);
        return onAccount >= MaxPendingPerAccount
            ? LimitReached($"This X account already has {MaxPendingPerAccount} posts waiting to be published, the most it may have. Cancel some, or wait until they are published.")
            : onUser >= MaxPendingPerUser
                ? LimitReached($"Your X accounts already have {MaxPendingPerUser} posts waiting to be published, the most a user may have. Cancel some, or wait until they are published.")
                : null;
    }

    private static ProblemHttpResult LimitReached(string detail) => TypedResults.Problem(
        title: "Limit reached", detail: detail, statusCode: StatusCodes.Status400BadRequest,
        extensions: new Dictionary<string, object?> { ["code"] = "limit_reached" });
}
