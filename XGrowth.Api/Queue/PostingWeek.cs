using System.Globalization;
using NodaTime;
using NodaTime.TimeZones;

namespace XGrowth.Api.Queue;

/// <summary>
/// A posting schedule's weekly slots in its time zone, turned into instants: wall-clock times resolved with the time
/// zone database, so that daylight saving time moves the instant and never the local time.
/// </summary>
public sealed class PostingWeek
{
    public const int MaxSlots = 100;
    public const int MaxJitterMinutes = 15;
    private const int MinutesPerDay = 24 * 60;
    public const int MinutesPerWeek = 7 * MinutesPerDay;

    /// <summary>
    /// A local time that happens twice (clocks go back) takes the earlier instant; one that never happens (clocks go
    /// forward) takes the first instant after the gap: 02:30 on a day that jumps from 02:00 to 03:00 is 03:00.
    /// (NodaTime's lenient resolver would shift it by the gap's length instead, to 03:30.)
    /// </summary>
    public static readonly ZoneLocalMappingResolver SlotResolver =
        Resolvers.CreateMappingResolver(Resolvers.ReturnEarlier, Resolvers.ReturnStartOfIntervalAfter);

    /// <summary>Mon–Fri 09:00, 12:00 and 17:00: the schedule of an account whose user never set one.</summary>
    public static readonly int[] DefaultSlots = [.. Enumerable.Range(0, 5).SelectMany(day => new[] { 9, 12, 17 }.Select(hour => day * MinutesPerDay + hour * 60))];

    private readonly LocalTime[][] _timesByDay;

    /// <param name="zone">The schedule's time zone.</param>
    /// <param name="slots">Minutes from Monday 00:00, each in 0..10079; at least one.</param>
    public PostingWeek(DateTimeZone zone, IEnumerable<int> slots)
    {
        Zone = zone;
        _timesByDay = [.. Enumerable.Range(0, 7).Select(day => slots.Where(minute => minute / MinutesPerDay == day).Order()
            .Select(minute => LocalTime.FromMinutesSinceMidnight(minute % MinutesPerDay)).ToArray())];
        if (_timesByDay.All(times => times.Length == 0))
        {
            throw new ArgumentException("A posting week needs at least one slot.", nameof(slots));
        }
    }

    public DateTimeZone Zone { get; }

    /// <summary>The time zone database the API resolves IANA names with.</summary>
    public static DateTimeZone? FindZone(string? name) =>
        string.IsNullOrEmpty(name) ? null : DateTimeZoneProviders.Tzdb.GetZoneOrNull(name);

    /// <summary>
    /// The slots' instants from <paramref name="start"/> on, in order, without end. Two slots that resolve to the same
    /// instant (both in one spring-forward gap) are one slot.
    /// </summary>
    public IEnumerable<Instant> SlotsFrom(Instant start)
    {
        // From the day before: a slot late on the previous local day can still fall after the start.
        var date = start.InZone(Zone).Date.PlusDays(-1);
        Instant? last = null;
        while (true)
        {
            foreach (var time in _timesByDay[(int)date.DayOfWeek - 1])
            {
                var instant = Zone.ResolveLocal(date + time, SlotResolver).ToInstant();
                // Resolved instants never go backwards in local order; equal ones come from one gap.
                if (instant >= start && (last is null || instant > last))
                {
                    last = instant;
                    yield return instant;
                }
            }

            date = date.PlusDays(1);
        }
    }

    /// <summary>
    /// The offset of a queued post from its slot: the same for the same post every time (a hash of its id), spread
    /// over ± <paramref name="jitterMinutes"/>, in whole seconds.
    /// </summary>
    public static int JitterSeconds(Guid postId, int jitterMinutes)
    {
        if (jitterMinutes == 0)
        {
            return 0;
        }

        Span<byte> bytes = stackalloc byte[16];
        postId.TryWriteBytes(bytes);
        // Mixed, so that ids that differ only in a few bits (version 7 ids of one millisecond) spread too.
        var hash = (BitConverter.ToUInt64(bytes) ^ BitConverter.ToUInt64(bytes[8..])) * 0x9E3779B97F4A7C15UL;
        var range = jitterMinutes * 60;
        return (int)((hash >> 11) % (ulong)(2 * range + 1)) - range;
    }

    private static readonly string[] DayNames = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

    /// <summary>Reads <c>{ "day": "monday", "time": "09:30" }</c> as minutes from Monday 00:00; null when it is not one.</summary>
    public static int? ParseSlot(string? day, string? time)
    {
        var dayIndex = Array.IndexOf(DayNames, day);
        if (dayIndex < 0 || time is not { Length: 5 }
            || !TimeOnly.TryParseExact(time, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            return null;
        }

        return dayIndex * MinutesPerDay + parsed.Hour * 60 + parsed.Minute;
    }

    public static (string Day, string Time) FormatSlot(int minuteOfWeek) =>
        (DayNames[minuteOfWeek / MinutesPerDay],
         string.Create(CultureInfo.InvariantCulture, $"{minuteOfWeek % MinutesPerDay / 60:00}:{minuteOfWeek % 60:00}"));
}
