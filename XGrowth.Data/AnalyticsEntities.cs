namespace XGrowth.Data;

/// <summary>
/// An X account's public counts at one snapshot time. <see cref="SlotAt"/> is the snapshot's due time (the account's
/// place in <c>Analytics:SnapshotInterval</c>): unique per account, so two workers never store one snapshot twice.
/// </summary>
public sealed class FollowerSnapshot
{
    public long Id { get; set; }

    public Guid XAccountId { get; set; }

    public XAccount? XAccount { get; set; }

    /// <summary>The due time this snapshot answers (one per account and due time).</summary>
    public DateTimeOffset SlotAt { get; set; }

    /// <summary>When X was asked: what the follower history groups by.</summary>
    public DateTimeOffset TakenAt { get; set; }

    public long FollowersCount { get; set; }

    public long FollowingCount { get; set; }

    public long TweetCount { get; set; }

    public long ListedCount { get; set; }
}

/// <summary>When after publishing a post's metrics are read (<see cref="PostMetricSchedule"/>); then never again.</summary>
public enum PostMetricKind
{
    OneHour,
    OneDay,
    ThreeDays,
    SevenDays,
}

/// <summary>One reading of a published post's metrics (history: one per post and <see cref="Kind"/>, never updated).</summary>
public sealed class PostMetricReading
{
    public long Id { get; set; }

    public Guid ScheduledPostId { get; set; }

    public ScheduledPost? ScheduledPost { get; set; }

    public PostMetricKind Kind { get; set; }

    /// <summary>The time the reading was due (published at plus the kind's delay).</summary>
    public DateTimeOffset DueAt { get; set; }

    public DateTimeOffset ReadAt { get; set; }

    public long Impressions { get; set; }

    public long Likes { get; set; }

    public long Reposts { get; set; }

    public long Replies { get; set; }

    public long Quotes { get; set; }

    public long Bookmarks { get; set; }

    /// <summary>From <c>non_public_metrics</c>: read only while the post is under 30 days old, else null.</summary>
    public long? UrlClicks { get; set; }

    public long? ProfileClicks { get; set; }
}

/// <summary>
/// The analytics collector's state for one X account: its claims (a lease per kind of work, so that any number of
/// workers share accounts) and X's rate-limit pauses, per endpoint.
/// </summary>
public sealed class AnalyticsAccount
{
    public Guid XAccountId { get; set; }

    public XAccount? XAccount { get; set; }

    /// <summary>A worker is taking this account's snapshot until then (its lease; a dead worker's runs out).</summary>
    public DateTimeOffset? SnapshotLeaseUntil { get; set; }

    /// <summary>A worker is reading this account's due post metrics until then.</summary>
    public DateTimeOffset? PostsLeaseUntil { get; set; }

    /// <summary><c>GET /2/users/me</c> is not asked for this account before then (X's rate limit reset, or a back-off).</summary>
    public DateTimeOffset? UsersPausedUntil { get; set; }

    /// <summary><c>GET /2/tweets</c> is not asked for this account before then.</summary>
    public DateTimeOffset? TweetsPausedUntil { get; set; }
}

/// <summary>
/// Reads of X reserved on one UTC day, by every worker replica together: a reservation is taken, atomically, before a
/// request leaves, and never more than <c>Analytics:MaxReadsPerDay</c>.
/// </summary>
public sealed class AnalyticsReadBudget
{
    public DateOnly Day { get; set; }

    public long Reserved { get; set; }
}

/// <summary>When a published post's metrics are read: about 1 hour, 24 hours, 72 hours and 7 days after publishing.</summary>
public static class PostMetricSchedule
{
    public static readonly IReadOnlyList<(PostMetricKind Kind, TimeSpan After)> Readings =
    [
        (PostMetricKind.OneHour, TimeSpan.FromHours(1)),
        (PostMetricKind.OneDay, TimeSpan.FromHours(24)),
        (PostMetricKind.ThreeDays, TimeSpan.FromHours(72)),
        (PostMetricKind.SevenDays, TimeSpan.FromDays(7)),
    ];

    /// <summary>The first reading's delay: the worker sets a post's first due time to its publishing time plus this.</summary>
    public static TimeSpan First => Readings[0].After;

    /// <summary>
    /// The reading to take now: the latest whose time has passed. Readings a stopped collector missed are skipped (a
    /// reading at 60 hours is not a 24-hour reading). Null when none is due yet.
    /// </summary>
    public static PostMetricKind? DueNow(DateTimeOffset publishedAt, DateTimeOffset now)
    {
        PostMetricKind? due = null;
        foreach (var (kind, after) in Readings)
        {
            if (publishedAt + after <= now)
            {
                due = kind;
            }
        }

        return due;
    }

    public static DateTimeOffset DueAt(DateTimeOffset publishedAt, PostMetricKind kind) => publishedAt + Readings[(int)kind].After;

    /// <summary>When the reading after <paramref name="kind"/> is due; null after the last (the post is never read again).</summary>
    public static DateTimeOffset? NextDueAt(DateTimeOffset publishedAt, PostMetricKind kind) =>
        (int)kind + 1 < Readings.Count ? publishedAt + Readings[(int)kind + 1].After : null;
}
