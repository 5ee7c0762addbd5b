namespace XGrowth.Api.Analytics;

/// <summary>
/// A time zone's UTC offsets over a span of time, as .NET's time zone data gives them: <c>Seconds[i]</c> applies from
/// <c>Starts[i]</c> until the next start. Queries turn instants into local times with it (<c>width_bucket</c> finds an
/// instant's offset), so that PostgreSQL's own time zone data, which may be another version, plays no part.
/// </summary>
public sealed record ZoneOffsets(DateTimeOffset[] Starts, int[] Seconds)
{
    /// <summary>
    /// Offset changes are found by looking at every hour and then narrowing down to the tick; no zone changes its
    /// offset twice within an hour.
    /// </summary>
    private static readonly TimeSpan Step = TimeSpan.FromHours(1);

    /// <summary>The offsets from <paramref name="start"/> to <paramref name="end"/> (UTC instants); the first starts at <paramref name="start"/>.</summary>
    public static ZoneOffsets Between(TimeZoneInfo zone, DateTimeOffset start, DateTimeOffset end)
    {
        var starts = new List<DateTimeOffset> { start };
        var offsets = new List<TimeSpan> { zone.GetUtcOffset(start) };
        for (var at = start; at < end;)
        {
            var next = at + Step < end ? at + Step : end;
            if (zone.GetUtcOffset(next) != offsets[^1])
            {
                // The offset changes in (at, next]: narrow down to the first tick with the new one.
                var (before, after) = (at, next);
                while (after.Ticks - before.Ticks > 1)
                {
                    var middle = before.AddTicks((after.Ticks - before.Ticks) / 2);
                    (before, after) = zone.GetUtcOffset(middle) == offsets[^1] ? (middle, after) : (before, middle);
                }

                starts.Add(after);
                offsets.Add(zone.GetUtcOffset(after));
            }

            at = next;
        }

        return new ZoneOffsets([.. starts], [.. offsets.Select(offset => (int)offset.TotalSeconds)]);
    }
}
