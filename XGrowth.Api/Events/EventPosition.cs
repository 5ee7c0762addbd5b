using System.Globalization;

namespace XGrowth.Api.Events;

/// <summary>
/// A point in the stream of a user's events, sent as each event's SSE <c>id</c> and taken back as <c>Last-Event-ID</c>:
/// the event's id, the oldest transaction still running when it was written (<c>tx_xmin</c>, see the UserEvents
/// migration), and when the API sent it (which decides whether it is still within the resume window). Clients treat
/// it as an opaque string. A forged one can only replay the sender's own events.
/// </summary>
public readonly record struct EventPosition(long EventId, ulong TxXmin, DateTimeOffset IssuedAt)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{EventId}.{TxXmin}.{IssuedAt.ToUnixTimeSeconds()}");

    public static bool TryParse(string? value, out EventPosition position)
    {
        position = default;
        var parts = value?.Split('.');
        if (parts is not { Length: 3 }
            || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var eventId)
            || !ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var txXmin)
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return false;
        }

        position = new EventPosition(eventId, txXmin, DateTimeOffset.FromUnixTimeSeconds(seconds));
        return true;
    }
}
