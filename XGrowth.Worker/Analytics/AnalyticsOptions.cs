using System.ComponentModel.DataAnnotations;

namespace XGrowth.Worker.Analytics;

/// <summary>The <c>Analytics</c> settings of the worker: what it reads from X, how often, and how much per day.</summary>
public sealed class AnalyticsOptions
{
    public const string Section = "Analytics";

    /// <summary>Whether this worker collects analytics at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How often each connected account's follower counts are read. Accounts are spread over the interval (each at its
    /// own offset, from a hash of its id), not all at the same moment.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan SnapshotInterval { get; set; } = TimeSpan.FromHours(6);

    /// <summary>
    /// Reads of X (one per account snapshot, one per post in a metrics request) allowed per UTC day, by all worker
    /// replicas together. Reserved in PostgreSQL before each request leaves; never exceeded.
    /// </summary>
    [Range(0, 1_000_000_000)]
    public long MaxReadsPerDay { get; set; } = 50_000;

    /// <summary>How often a worker looks for due snapshots and post metrics.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Requests to X one worker has in flight at once (each for one account).</summary>
    [Range(1, 1_000)]
    public int MaxConcurrency { get; set; } = 32;

    /// <summary>
    /// How long a claim on an account's snapshot or post metrics lasts. Its work is a few requests, each bounded by
    /// <see cref="RequestTimeout"/>; a dead worker's claims are taken over after this.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:10", "01:00:00")]
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long X may take to answer one read.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:02:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>After X failed a read (5xx, timeout, another error), that account and endpoint wait this long.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMinutes(5);
}
