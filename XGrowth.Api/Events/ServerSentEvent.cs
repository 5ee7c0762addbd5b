using System.Globalization;
using System.Text;

namespace XGrowth.Api.Events;

/// <summary>
/// One Server-Sent Events frame, encoded once (a user's event goes to each of their streams as the same bytes).
/// Written by hand rather than with <c>TypedResults.ServerSentEvents</c>: that writes only events, and a stream needs
/// comment lines too (the heartbeat) and a <c>retry:</c> line before the first event.
/// </summary>
public sealed class ServerSentEvent
{
    private ServerSentEvent(byte[] frame, long? eventId)
    {
        Frame = frame;
        EventId = eventId;
    }

    /// <summary>The UTF-8 bytes on the wire, ending with the blank line that dispatches the event.</summary>
    public byte[] Frame { get; }

    /// <summary>The <c>user_events</c> row it reports, if any: a stream skips one it has already replayed.</summary>
    public long? EventId { get; }

    /// <summary>The comment a stream sends while nothing happens: it keeps proxies from closing an idle connection.</summary>
    public static readonly ServerSentEvent Heartbeat = new(": keep-alive\n\n"u8.ToArray(), null);

    /// <summary>An event; <paramref name="data"/> is one line (JSON written without indentation never holds a line break).</summary>
    public static ServerSentEvent Create(string type, string data, EventPosition? position, long? eventId = null)
    {
        if (data.Contains('\n', StringComparison.Ordinal) || data.Contains('\r', StringComparison.Ordinal))
        {
            throw new ArgumentException("An event's data must be one line.", nameof(data));
        }

        var text = new StringBuilder();
        if (position is { } id)
        {
            text.Append("id: ").Append(id.ToString()).Append('\n');
        }

        text.Append("event: ").Append(type).Append('\n').Append("data: ").Append(data).Append("\n\n");
        return new ServerSentEvent(Encoding.UTF8.GetBytes(text.ToString()), eventId);
    }

    /// <summary>How long a client waits before reconnecting after the stream drops.</summary>
    public static ServerSentEvent Retry(TimeSpan delay) =>
        new(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"retry: {(long)delay.TotalMilliseconds}\n\n")), null);
}
