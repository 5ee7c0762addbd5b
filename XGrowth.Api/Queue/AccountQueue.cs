using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using NodaTime;
using XGrowth.Data;

namespace XGrowth.Api.Queue;

/// <summary>
/// One X account's queue, inside a transaction that holds the account's row (<see cref="LockAsync"/>): placements,
/// reorders and schedule changes of one account run one after another, and each commits whole or not at all.
/// </summary>
/// <remarks>
/// The database keeps the rules whatever happens here (ux_scheduled_posts_queue_slot and _queue_time: no two live
/// queued posts of an account share a slot or a time); the lock makes a placement find its slot free instead of failing.
/// </remarks>
public sealed class AccountQueue
{
    /// <summary>"Add to queue" takes a slot at least this far ahead; the queue that can be reordered starts there too.</summary>
    public static readonly Duration Lead = Duration.FromMinutes(1);

    /// <summary>How far a placement moves <c>queue_filled_through</c> on before it is written (see <see cref="PlaceAsync"/>).</summary>
    private static readonly Duration HintStep = Duration.FromDays(1);

    private readonly XGrowthDbContext _db;

    private AccountQueue(XGrowthDbContext db, Guid accountId, string timeZone, int[] slots, int jitterMinutes, bool isDefault, Instant? filledThrough)
    {
        _db = db;
        AccountId = accountId;
        TimeZone = timeZone;
        Slots = slots;
        JitterMinutes = jitterMinutes;
        IsDefault = isDefault;
        FilledThrough = filledThrough;
        Week = new PostingWeek(PostingWeek.FindZone(timeZone) ?? DateTimeZone.Utc, slots);
    }

    public Guid AccountId { get; }

    public string TimeZone { get; }

    /// <summary>Minutes from Monday 00:00, ascending.</summary>
    public int[] Slots { get; }

    public int JitterMinutes { get; }

    /// <summary>The account has no schedule of its own: it follows the default in its user's time zone.</summary>
    public bool IsDefault { get; }

    public PostingWeek Week { get; }

    private Instant? FilledThrough { get; set; }

    /// <summary>
    /// Locks the account's row (until the transaction ends) and reads its schedule; null when the account is not the
    /// user's or is disconnected. The caller has begun the transaction.
    /// </summary>
    public static async Task<AccountQueue?> LockAsync(XGrowthDbContext db, Guid accountId, string userId, CancellationToken cancellationToken)
    {
        // FOR NO KEY UPDATE: posts being inserted for the account meanwhile (which take a key share lock) do not wait.
        await using var command = Command(db, """
            SELECT a.queue_filled_through, u.time_zone, s.time_zone, s.slots, s.jitter_minutes
            FROM x_accounts AS a
            JOIN users AS u ON u.id = a.user_id
            LEFT JOIN posting_schedules AS s ON s.x_account_id = a.id
            WHERE a.id = $1 AND a.user_id = $2 AND a.status <> 'disconnected'
            FOR NO KEY UPDATE OF a
            """, new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = accountId }, new NpgsqlParameter { Value = userId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        Instant? filledThrough = reader.IsDBNull(0) ? null : Instant.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(0));
        return reader.IsDBNull(2)
            ? new AccountQueue(db, accountId, reader.GetString(1), PostingWeek.DefaultSlots, 0, isDefault: true, filledThrough)
            : new AccountQueue(db, accountId, reader.GetString(2), reader.GetFieldValue<int[]>(3), reader.GetInt32(4), isDefault: false, filledThrough);
    }

    /// <summary>The earliest free slot for a new post, and its time; the slot is the queue's from then on.</summary>
    public async Task<(Instant Slot, Instant At)> PlaceAsync(Guid postId, Instant now, CancellationToken cancellationToken)
    {
        var earliest = now + Lead;
        // Every slot up to FilledThrough is taken: the walk starts after it rather than at the queue's first slot.
        var searchFrom = FilledThrough is { } filled && filled >= earliest ? filled + Duration.Epsilon : earliest;
        var filler = new QueueFiller(_db, AccountId, Week, JitterMinutes, searchFrom, earliest);
        var placed = await filler.NextAsync(postId, cancellationToken);
        // Written when it moves on by a day or more, not at every placement: it needs only to be true (every slot before
        // it taken, which an earlier value still is), and the next placement reads a window from it anyway. Writing it
        // every time was one more round trip under the user's lock for each "add to queue" (bench/QueueBench).
        if (FilledThrough is not { } known || placed.Slot - known >= HintStep)
        {
            await SetFilledThroughAsync(placed.Slot, cancellationToken);
        }

        return placed;
    }

    /// <summary>
    /// The queue that can still move, in slot order: queued posts the worker has not claimed, in slots at least
    /// <see cref="Lead"/> ahead. Their rows stay locked until the transaction ends, so the worker cannot claim them meanwhile.
    /// </summary>
    public async Task<List<QueuedPost>> LockMovableAsync(Instant now, CancellationToken cancellationToken)
    {
        await using var command = Command(_db, """
            SELECT id, slot_at, scheduled_at FROM scheduled_posts
            WHERE x_account_id = $1 AND queued AND status = 'scheduled' AND slot_at >= $2
            ORDER BY slot_at
            FOR UPDATE
            """, new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = AccountId },
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = (now + Lead).ToDateTimeOffset() });
        var posts = new List<QueuedPost>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            posts.Add(new QueuedPost(reader.GetGuid(0), Instant.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(1)),
                Instant.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(2))));
        }

        return posts;
    }

    /// <summary>Places <paramref name="posts"/> again, in this order, into the earliest free slots (after a schedule change).</summary>
    public async Task PlaceAgainAsync(IReadOnlyList<QueuedPost> posts, Instant now, CancellationToken cancellationToken)
    {
        var earliest = now + Lead;
        var filler = new QueueFiller(_db, AccountId, Week, JitterMinutes, earliest, earliest, posts.Select(p => p.Id).ToHashSet());
        var placed = new List<QueuedPost>(posts.Count);
        foreach (var post in posts)
        {
            var (slot, at) = await filler.NextAsync(post.Id, cancellationToken);
            placed.Add(new QueuedPost(post.Id, slot, at));
        }

        await WriteAsync(posts, placed, now, cancellationToken);
        await SetFilledThroughAsync(placed.Count > 0 ? placed[^1].Slot : null, cancellationToken);
    }

    /// <summary>
    /// Gives the slots <paramref name="posts"/> hold to the posts in <paramref name="order"/> (the same posts), the first
    /// slot to the first post; each takes its own time in its new slot. False when a post cannot get a time there.
    /// </summary>
    public async Task<bool> ReorderAsync(IReadOnlyList<QueuedPost> posts, IReadOnlyList<Guid> order, Instant now, CancellationToken cancellationToken)
    {
        if (posts.Count == 0)
        {
            return true;
        }

        var earliest = now + Lead;
        var filler = new QueueFiller(_db, AccountId, Week, JitterMinutes, posts[0].Slot, earliest, posts.Select(p => p.Id).ToHashSet());
        var placed = new List<QueuedPost>(posts.Count);
        for (var i = 0; i < posts.Count; i++)
        {
            if (await filler.TakeAsync(posts[i].Slot, order[i], cancellationToken) is not { } at)
            {
                return false;
            }

            placed.Add(new QueuedPost(order[i], posts[i].Slot, at));
        }

        await WriteAsync(posts, placed, now, cancellationToken);
        return true;
    }

    /// <summary>
    /// Forgets where the queue is known to be full: a post left its slot or its time, so an earlier slot may be free
    /// again. Locks the account's row until the transaction ends, so a placement in progress finishes first and the
    /// next one sees the post gone.
    /// </summary>
    public static Task ForgetFilledThroughAsync(XGrowthDbContext db, Guid accountId, CancellationToken cancellationToken) =>
        db.XAccounts.Where(a => a.Id == accountId)
            .ExecuteUpdateAsync(set => set.SetProperty(a => a.QueueFilledThrough, (DateTimeOffset?)null), cancellationToken);

    /// <summary>Writes the posts whose slot or time changed, in two steps, because the unique indexes are checked row by row.</summary>
    private async Task WriteAsync(IReadOnlyList<QueuedPost> before, IReadOnlyList<QueuedPost> after, Instant now, CancellationToken cancellationToken)
    {
        var was = before.ToDictionary(p => p.Id);
        var changed = after.Where(p => was[p.Id] != p).ToList();
        if (changed.Count == 0)
        {
            return;
        }

        var ids = changed.Select(p => p.Id).ToArray();
        // First out of the queue's unique indexes, then back in with the new values: within one statement, a post
        // taking a slot another post is about to leave would otherwise fail.
        await using (var leave = Command(_db, "UPDATE scheduled_posts SET queued = false, slot_at = NULL WHERE id = ANY($1)", Ids(ids)))
        {
            await leave.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var enter = Command(_db, """
            UPDATE scheduled_posts AS p SET queued = true, slot_at = v.slot_at, scheduled_at = v.at, updated_at = $4
            FROM unnest($1, $2, $3) AS v(id, slot_at, at)
            WHERE p.id = v.id
            """, Ids(ids), Times(changed.Select(p => p.Slot)), Times(changed.Select(p => p.At)),
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = now.ToDateTimeOffset() });
        await enter.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task SetFilledThroughAsync(Instant? slot, CancellationToken cancellationToken)
    {
        FilledThrough = slot;
        var value = slot?.ToDateTimeOffset();
        await _db.XAccounts.Where(a => a.Id == AccountId)
            .ExecuteUpdateAsync(set => set.SetProperty(a => a.QueueFilledThrough, value), cancellationToken);
    }

    private static NpgsqlParameter Ids(Guid[] ids) => new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid, Value = ids };

    private static NpgsqlParameter Times(IEnumerable<Instant> instants) => new()
    {
        NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
        Value = instants.Select(i => i.ToDateTimeOffset()).ToArray(),
    };

    /// <summary>A command on the context's connection, inside its current transaction.</summary>
    private static NpgsqlCommand Command(XGrowthDbContext db, string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlCommand(sql, (NpgsqlConnection)db.Database.GetDbConnection());
        command.Parameters.AddRange(parameters);
        return command;
    }
}

/// <summary>A queued post's slot, and the time it leaves at.</summary>
public sealed record QueuedPost(Guid Id, Instant Slot, Instant At);
