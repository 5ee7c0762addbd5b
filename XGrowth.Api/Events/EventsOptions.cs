using System.ComponentModel.DataAnnotations;

namespace XGrowth.Api.Events;

/// <summary>The <c>Events</c> settings: live updates (<c>GET /api/events</c>).</summary>
public sealed class EventsOptions
{
    public const string Section = "Events";

    /// <summary>How long a stream that dropped can resume with its <c>Last-Event-ID</c> without losing an event.</summary>
    public static readonly TimeSpan ResumeWindow = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long event rows are kept: the resume window plus a margin for transactions that committed late and for
    /// clocks that differ between API replicas and the database.
    /// </summary>
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(10);

    /// <summary>A comment line this often keeps proxies and tunnels (ngrok closes idle connections) from closing a quiet stream.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Open streams per user on one API process; one more is a 429 (a user cannot use up the server's connections).</summary>
    [Range(1, 1000)]
    public int MaxStreamsPerUser { get; set; } = 10;

    /// <summary>
    /// Events queued for one stream that its client has not read yet; a client that falls this far behind is
    /// disconnected (it resumes with <c>Last-Event-ID</c>), so it never holds up the others or the server's memory.
    /// </summary>
    [Range(8, 100_000)]
    public int StreamBuffer { get; set; } = 256;

    /// <summary>The <c>retry:</c> hint: how long a browser waits before reconnecting a dropped stream.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How often each API process removes event rows older than <see cref="Retention"/> (one at a time across replicas).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan PurgeInterval { get; set; } = TimeSpan.FromMinutes(1);
}
