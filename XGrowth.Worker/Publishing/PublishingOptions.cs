using System.ComponentModel.DataAnnotations;

namespace XGrowth.Worker.Publishing;

/// <summary>The <c>PostPublishing</c> settings of the worker (not <c>Publishing</c>, whose <c>Publisher</c> key is Aspire's own).</summary>
public sealed class PublishingOptions
{
    public const string Section = "PostPublishing";

    /// <summary>How often the worker looks for due posts when nothing wakes it (a new post due soon does).</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Posts due within this window are claimed ahead and fired on a timer at their time; shorter than <see cref="Lease"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan Lookahead { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a claim lasts unless renewed. A worker renews the claims it holds every third of it (while a post waits
    /// for its time, while its request is in flight), so only a dead or hung worker's claims run out and are recovered.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:05", "01:00:00")]
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Posts claimed by one query at most (fewer when fewer slots are free).</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 200;

    /// <summary>
    /// Posts one worker holds at once (waiting for their time within the look-ahead, or in flight): it claims only as
    /// many as slots are free, so that every post it claims can start at its time.
    /// </summary>
    [Range(1, 10_000)]
    public int MaxConcurrency { get; set; } = 128;

    /// <summary>
    /// Attempts before a post fails when X cannot be reached and nothing was posted (the request provably never left, or
    /// the token could not be refreshed). Attempts count what asked X something, not claims that were recovered or given back.
    /// </summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 6;

    /// <summary>A post found this far past its time is not published late: it becomes <c>missed</c>.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "7.00:00:00")]
    public TimeSpan MissedAfter { get; set; } = TimeSpan.FromHours(1);

    /// <summary>On stop, how long in-flight requests may take to finish.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long X may take to answer a post before its outcome counts as unknown (<c>unconfirmed</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:02:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The first retry's back-off; it doubles up to an hour, with jitter.</summary>
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(60);
}
