namespace XGrowth.Api.Http;

/// <summary>
/// Local days in a user's IANA time zone, as the calendar reads them (<c>?tz=Europe/Berlin</c>): the zone must be an
/// IANA id known to the system's time zone data, and a day begins at its first valid local time.
/// </summary>
public static class LocalDays
{
    /// <summary>The zone named by <paramref name="tz"/> (UTC when empty); false for anything that is not an IANA id.</summary>
    public static bool TryFindZone(string? tz, out TimeZoneInfo zone)
    {
        zone = TimeZoneInfo.Utc;
        var name = string.IsNullOrWhiteSpace(tz) ? "UTC" : tz;
        if (name.Length > 64 || !TimeZoneInfo.TryFindSystemTimeZoneById(name, out var found) || !found.HasIanaId)
        {
            return false;
        }

        zone = found;
        return true;
    }

    /// <summary>The instant a local day begins (a day can begin at 01:00 where a DST change skips midnight).</summary>
    public static DateTimeOffset StartOfDay(DateOnly day, TimeZoneInfo zone)
    {
        var local = day.ToDateTime(TimeOnly.MinValue);
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(30);
        }

        return new DateTimeOffset(local, zone.GetUtcOffset(local)).ToUniversalTime();
    }

    /// <summary>The local date and time of an instant.</summary>
    public static DateTime LocalTime(DateTimeOffset instant, TimeZoneInfo zone) => TimeZoneInfo.ConvertTime(instant, zone).DateTime;

    public static DateOnly Today(TimeProvider time, TimeZoneInfo zone) => DateOnly.FromDateTime(LocalTime(time.GetUtcNow(), zone));
}
