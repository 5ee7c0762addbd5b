using NodaTime;
using NodaTime.Text;
using XGrowth.Api.Queue;

namespace XGrowth.Tests.Queue;

/// <summary>
/// Slot times are wall-clock times in the schedule's zone: a time the clocks skip becomes the first instant after the
/// gap, a time they repeat the earlier instant. The instants are written out by hand from each zone's published rules.
/// </summary>
public class PostingWeekTests
{
    private static Instant Utc(string text) => InstantPattern.ExtendedIso.Parse(text).Value;

    private static int Slot(string day, string time) => PostingWeek.ParseSlot(day, time)!.Value;

    /// <summary>The first slot of a week holding only <paramref name="day"/> <paramref name="time"/>, from <paramref name="start"/>.</summary>
    private static Instant First(string zone, string day, string time, string start) =>
        new PostingWeek(DateTimeZoneProviders.Tzdb[zone], [Slot(day, time)]).SlotsFrom(Utc(start)).First();

    public static TheoryData<string, string, string, string, string> Transitions => new()
    {
        // zone, start (UTC), slot day, slot time, expected instant (UTC)
        // Berlin 2026-03-29: 02:00 CET -> 03:00 CEST; 02:30 does not exist -> 03:00 CEST.
        { "Europe/Berlin", "2026-03-28T00:00:00Z", "sunday", "02:30", "2026-03-29T01:00:00Z" },
        { "Europe/Berlin", "2026-03-28T00:00:00Z", "sunday", "02:00", "2026-03-29T01:00:00Z" },
        { "Europe/Berlin", "2026-03-28T00:00:00Z", "sunday", "03:00", "2026-03-29T01:00:00Z" },
        { "Europe/Berlin", "2026-03-28T00:00:00Z", "sunday", "01:59", "2026-03-29T00:59:00Z" },
        // Berlin 2026-10-25: 03:00 CEST -> 02:00 CET; 02:30 happens twice -> the first, 02:30 CEST.
        { "Europe/Berlin", "2026-10-24T00:00:00Z", "sunday", "02:30", "2026-10-25T00:30:00Z" },
        { "Europe/Berlin", "2026-10-24T00:00:00Z", "sunday", "03:00", "2026-10-25T02:00:00Z" },
        // New York 2026-03-08: 02:00 EST -> 03:00 EDT; 2026-11-01: 02:00 EDT -> 01:00 EST.
        { "America/New_York", "2026-03-07T00:00:00Z", "sunday", "02:30", "2026-03-08T07:00:00Z" },
        { "America/New_York", "2026-10-31T00:00:00Z", "sunday", "01:30", "2026-11-01T05:30:00Z" },
        { "America/New_York", "2026-10-31T00:00:00Z", "sunday", "02:00", "2026-11-01T07:00:00Z" },
        // Sydney 2026-04-05: 03:00 AEDT -> 02:00 AEST (02:30 twice); 2026-10-04: 02:00 AEST -> 03:00 AEDT.
        { "Australia/Sydney", "2026-04-03T00:00:00Z", "sunday", "02:30", "2026-04-04T15:30:00Z" },
        { "Australia/Sydney", "2026-10-02T00:00:00Z", "sunday", "02:30", "2026-10-03T16:00:00Z" },
        // Lord Howe moves by 30 minutes: 2026-04-05 02:00 (+11) -> 01:30 (+10:30); 2026-10-04 02:00 (+10:30) -> 02:30 (+11).
        { "Australia/Lord_Howe", "2026-04-03T00:00:00Z", "sunday", "01:45", "2026-04-04T14:45:00Z" },
        { "Australia/Lord_Howe", "2026-04-03T00:00:00Z", "sunday", "02:00", "2026-04-04T15:30:00Z" },
        { "Australia/Lord_Howe", "2026-10-02T00:00:00Z", "sunday", "02:15", "2026-10-03T15:30:00Z" },
        { "Australia/Lord_Howe", "2026-10-02T00:00:00Z", "sunday", "02:30", "2026-10-03T15:30:00Z" },
        { "Australia/Lord_Howe", "2026-10-02T00:00:00Z", "sunday", "01:59", "2026-10-03T15:29:00Z" },
        // Kathmandu, +05:45 all year.
        { "Asia/Kathmandu", "2026-03-28T00:00:00Z", "monday", "09:00", "2026-03-30T03:15:00Z" },
        { "Asia/Kathmandu", "2026-10-24T00:00:00Z", "sunday", "00:10", "2026-10-24T18:25:00Z" },
    };

    [Theory]
    [MemberData(nameof(Transitions))]
    public void A_slot_resolves_across_clock_changes(string zone, string start, string day, string time, string expected) =>
        Assert.Equal(Utc(expected), First(zone, day, time, start));

    [Fact]
    public void Slots_the_gap_moves_onto_one_instant_are_one_slot()
    {
        var berlin = DateTimeZoneProviders.Tzdb["Europe/Berlin"];
        var week = new PostingWeek(berlin, [Slot("sunday", "01:30"), Slot("sunday", "02:00"), Slot("sunday", "02:30"), Slot("sunday", "03:00"), Slot("sunday", "03:30")]);
        var slots = week.SlotsFrom(Utc("2026-03-28T00:00:00Z")).Take(4).ToList();
        Assert.Equal([Utc("2026-03-29T00:30:00Z"), Utc("2026-03-29T01:00:00Z"), Utc("2026-03-29T01:30:00Z"), Utc("2026-04-04T23:30:00Z")], slots);
    }

    [Fact]
    public void The_repeated_hour_keeps_its_slots_in_order()
    {
        // 2026-10-25 in Berlin: 02:00-02:59 comes twice; every slot takes its first pass, and local order is time order.
        var berlin = DateTimeZoneProviders.Tzdb["Europe/Berlin"];
        var week = new PostingWeek(berlin, [Slot("sunday", "01:30"), Slot("sunday", "02:15"), Slot("sunday", "02:45"), Slot("sunday", "03:15")]);
        Assert.Equal(
            [Utc("2026-10-24T23:30:00Z"), Utc("2026-10-25T00:15:00Z"), Utc("2026-10-25T00:45:00Z"), Utc("2026-10-25T02:15:00Z")],
            week.SlotsFrom(Utc("2026-10-24T00:00:00Z")).Take(4).ToList());
    }

    [Fact]
    public void Slots_come_in_order_from_the_start_across_a_year_of_changes()
    {
        foreach (var zone in new[] { "Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kathmandu" })
        {
            var week = new PostingWeek(DateTimeZoneProviders.Tzdb[zone], [.. PostingWeek.DefaultSlots, Slot("sunday", "02:30"), Slot("saturday", "23:59")]);
            var start = Utc("2026-01-01T00:00:00Z");
            var slots = week.SlotsFrom(start).TakeWhile(s => s < Utc("2027-01-01T00:00:00Z")).ToList();
            Assert.True(slots[0] >= start);
            Assert.All(slots.Zip(slots.Skip(1)), pair => Assert.True(pair.First < pair.Second, zone));
            // 17 slots a week for 52 weeks and a bit: none lost, none doubled (no two of these fall in one gap).
            Assert.InRange(slots.Count, 52 * 17, 53 * 17);
        }
    }

    [Fact]
    public void A_slot_just_before_the_start_is_not_given()
    {
        var week = new PostingWeek(DateTimeZone.Utc, [Slot("monday", "09:00")]);
        // 2026-11-30 is a Monday.
        Assert.Equal(Utc("2026-12-07T09:00:00Z"), week.SlotsFrom(Utc("2026-11-30T09:00:00.001Z")).First());
        Assert.Equal(Utc("2026-11-30T09:00:00Z"), week.SlotsFrom(Utc("2026-11-30T09:00:00Z")).First());
    }

    [Fact]
    public void Jitter_is_the_same_for_a_post_every_time_and_spread_within_its_range()
    {
        var offsets = Enumerable.Range(0, 2000).Select(_ => Guid.CreateVersion7()).Select(id =>
        {
            var offset = PostingWeek.JitterSeconds(id, 15);
            Assert.Equal(offset, PostingWeek.JitterSeconds(id, 15));
            Assert.InRange(offset, -900, 900);
            return offset;
        }).ToList();
        Assert.True(offsets.Distinct().Count() > 1000, "offsets do not spread");
        Assert.True(offsets.Count(o => o < 0) > 800 && offsets.Count(o => o > 0) > 800, "offsets lean to one side");
        Assert.Equal(0, PostingWeek.JitterSeconds(Guid.CreateVersion7(), 0));
    }

    [Theory]
    [InlineData("monday", "09:30", 570)]
    [InlineData("sunday", "23:59", 10079)]
    [InlineData("Monday", "09:30", null)]
    [InlineData("mon", "09:30", null)]
    [InlineData("monday", "9:30", null)]
    [InlineData("monday", "24:00", null)]
    [InlineData("monday", "09:60", null)]
    [InlineData("monday", "09:30:00", null)]
    [InlineData("monday", " 9:30", null)]
    [InlineData(null, "09:30", null)]
    [InlineData("monday", null, null)]
    public void Slots_are_read_strictly(string? day, string? time, int? expected) =>
        Assert.Equal(expected, PostingWeek.ParseSlot(day, time));
}
