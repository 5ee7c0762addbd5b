using XGrowth.Data;

namespace XGrowth.Api.Analytics;

/// <summary>One local day of an account's follower history.</summary>
/// <param name="Followers">The day's last snapshot; with <paramref name="Carried"/>, the last one before it; null before the first.</param>
/// <param name="Change">Followers minus the previous day's; null when either is unknown.</param>
/// <param name="Carried">No snapshot was taken that day: the value is the previous day's.</param>
public sealed record FollowerDay(string Date, long? Followers, long? Change, bool Carried);

/// <summary>An account's followers per local day.</summary>
public sealed record FollowerHistory(string TimeZone, IReadOnlyList<FollowerDay> Days);

/// <summary>A post's latest metrics reading.</summary>
/// <param name="Engagements">likes + reposts + replies + quotes + bookmarks.</param>
/// <param name="UrlClicks">From X's non-public metrics: only read while the post is under 30 days old.</param>
/// <param name="Reading">Which reading after publishing these numbers are (one_hour, one_day, three_days, seven_days).</param>
public sealed record PostMetricsResponse(
    long Impressions, long Likes, long Reposts, long Replies, long Quotes, long Bookmarks, long Engagements,
    long? UrlClicks, long? ProfileClicks, PostMetricKind Reading, DateTimeOffset ReadAt);

/// <summary>A published post with its latest metrics (null until the first reading, about an hour after publishing).</summary>
/// <param name="EngagementRate">engagements / impressions; null without metrics or with no impressions.</param>
/// <param name="DeletedOnX">X no longer has the post; its last metrics stay.</param>
public sealed record PostAnalytics(
    Guid Id, Guid XAccountId, string Text, string XPostId, string? XPostUrl, DateTimeOffset PublishedAt, bool DeletedOnX,
    PostMetricsResponse? Metrics, double? EngagementRate);

/// <summary>A page of posts with their metrics; pass <c>nextCursor</c> back as <c>cursor</c> (null on the last page).</summary>
public sealed record PostAnalyticsPage(IReadOnlyList<PostAnalytics> Items, string? NextCursor);

/// <summary>Followers at the start and the end of a period.</summary>
public sealed record FollowerChange(long? Start, long? End, long? Change);

/// <summary>Engagement rate by local hour (0–23) of one weekday; null where fewer than 3 posts were published.</summary>
public sealed record BestTimesDay(string Weekday, IReadOnlyList<double?> Hours);

/// <summary>An account's growth over a period.</summary>
public sealed record AccountSummary(
    Guid XAccountId, string Period, string TimeZone, string From, string To, FollowerChange Followers, int PostsPublished,
    long Impressions, long Engagements, double? EngagementRate, PostAnalytics? BestPost, IReadOnlyList<BestTimesDay> BestTimes);
