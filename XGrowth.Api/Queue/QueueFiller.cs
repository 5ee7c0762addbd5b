using Microsoft.EntityFrameworkCore;
using NodaTime;
using XGrowth.Data;

namespace XGrowth.Api.Queue;

/// <summary>
/// Walks one account's slots in order and hands out the free ones, with each post's time (its slot plus its jitter
/// offset). Runs inside the transaction that holds the account's row, so no other placement runs meanwhile.
/// </summary>
/// <remarks>
/// A slot is free when no other live (neither draft nor cancelled) post of the account holds it or leaves at its
/// instant, and a time within the jitter range is left that no live post leaves at. What is taken is read from the
/// database window by window as the walk goes (the index on (x_account_id, scheduled_at)), never the whole queue at
/// once; a queued post leaves at most <see cref="PostingWeek.MaxJitterMinutes"/> from its slot, so its time tells which
/// window holds its slot.
/// </remarks>
internal sealed class QueueFiller
{
    private static readonly Duration Margin = Duration.FromMinutes(PostingWeek.MaxJitterMinutes);
    private static readonly Duration FirstWindow = Duration.FromDays(2);
    private static readonly Duration LargestWindow = Duration.FromDays(128);

    private readonly XGrowthDbContext _db;
    private readonly Guid _accountId;
    private readonly int _jitterMinutes;
    private readonly Instant _earliest;
    private readonly IReadOnlySet<Guid> _moving;
    private readonly IEnumerator<Instant> _slots;
    private readonly HashSet<Instant> _slotsTaken = [];
    private readonly HashSet<Instant> _timesTaken = [];
    private Instant _loadedUntil;
    private Duration _window = FirstWindow;

    /// <param name="searchFrom">The first instant a slot may have (at least <paramref name="earliest"/>).</param>
    /// <param name="earliest">No post is given a time before this (now plus the queue's lead).</param>
    /// <param name="moving">Posts being placed again: the slots and times they hold now count as free.</param>
    public QueueFiller(XGrowthDbContext db, Guid accountId, PostingWeek week, int jitterMinutes, Instant searchFrom, Instant earliest, IReadOnlySet<Guid>? moving = null)
    {
        _db = db;
        _accountId = accountId;
        _jitterMinutes = jitterMinutes;
        _earliest = earliest;
        _moving = moving ?? new HashSet<Guid>();
        _slots = week.SlotsFrom(searchFrom).GetEnumerator();
        _loadedUntil = searchFrom;
    }

    /// <summary>The next free slot and the time <paramref name="postId"/> leaves at in it; both are taken from then on.</summary>
    public async Task<(Instant Slot, Instant At)> NextAsync(Guid postId, CancellationToken cancellationToken)
    {
        while (true)
        {
            _slots.MoveNext();
            var slot = _slots.Current;
            while (slot >= _loadedUntil)
            {
                await LoadNextWindowAsync(cancellationToken);
            }

            if (_slotsTaken.Contains(slot) || _timesTaken.Contains(slot) || TimeIn(slot, postId) is not { } at)
            {
                continue;
            }

            _slotsTaken.Add(slot);
            _timesTaken.Add(at);
            return (slot, at);
        }
    }

    /// <summary>The time <paramref name="postId"/> leaves at in this <paramref name="slot"/> (not walked to); null when no time there is free.</summary>
    public async Task<Instant?> TakeAsync(Instant slot, Guid postId, CancellationToken cancellationToken)
    {
        while (slot >= _loadedUntil)
        {
            await LoadNextWindowAsync(cancellationToken);
        }

        if (TimeIn(slot, postId) is not { } at)
        {
            return null;
        }

        _slotsTaken.Add(slot);
        _timesTaken.Add(at);
        return at;
    }

    /// <summary>
    /// The post's own offset if that time is free, else the nearest free one within the range (the walk depends only
    /// on the post and what is taken, so the same post in the same place gets the same time); null when none is.
    /// </summary>
    private Instant? TimeIn(Instant slot, Guid postId)
    {
        var range = _jitterMinutes * 60;
        var own = PostingWeek.JitterSeconds(postId, _jitterMinutes);
        for (var distance = 0; distance <= 2 * range; distance++)
        {
            foreach (var offset in distance == 0 ? [own] : new[] { own + distance, own - distance })
            {
                if (Math.Abs(offset) > range)
                {
                    continue;
                }

                var at = slot + Duration.FromSeconds(offset);
                if (at >= _earliest && !_timesTaken.Contains(at))
                {
                    return at;
                }
            }
        }

        return null;
    }

    private async Task LoadNextWindowAsync(CancellationToken cancellationToken)
    {
        var from = _loadedUntil;
        var to = from + _window;
        _window = Duration.Min(_window + _window, LargestWindow);
        // Times up to the margin either side: a slot near the window's edge can have its jitter range across it, and
        // a post holding a slot in the window leaves within the margin of it.
        var timesFrom = (from - Margin).ToDateTimeOffset();
        var timesTo = (to + Margin).ToDateTimeOffset();
        var taken = await _db.ScheduledPosts.AsNoTracking()
            .Where(p => p.XAccountId == _accountId && p.ScheduledAt >= timesFrom && p.ScheduledAt < timesTo
                && p.Status != ScheduledPostStatus.Cancelled)
            .Select(p => new { p.Id, p.ScheduledAt, p.SlotAt })
            .ToListAsync(cancellationToken);
        foreach (var post in taken)
        {
            if (_moving.Contains(post.Id))
            {
                continue;
            }

            _timesTaken.Add(Instant.FromDateTimeOffset(post.ScheduledAt!.Value));
            if (post.SlotAt is { } slotAt)
            {
                _slotsTaken.Add(Instant.FromDateTimeOffset(slotAt));
            }
        }

        _loadedUntil = to;
    }
}
