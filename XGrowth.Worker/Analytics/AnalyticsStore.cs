using Npgsql;
using NpgsqlTypes;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Worker.Analytics;

/// <summary>An account whose snapshot for <see cref="SlotAt"/> this worker has claimed, until <see cref="LeaseUntil"/>.</summary>
public sealed record SnapshotClaim(Guid XAccountId, DateTimeOffset SlotAt, DateTimeOffset LeaseUntil);

/// <summary>An account whose due post metrics this worker has claimed, until <see cref="LeaseUntil"/>.</summary>
public sealed record PostsClaim(Guid XAccountId, DateTimeOffset LeaseUntil);

/// <summary>A published post whose metrics reading is due (<see cref="MetricsDueAt"/> is the stored due time).</summary>
public sealed record DuePost(Guid Id, string XPostId, DateTimeOffset PublishedAt, DateTimeOffset MetricsDueAt);

/// <summary>The X endpoints the collector reads, each rate-limited (and paused) per account on its own.</summary>
public enum XReadEndpoint
{
    /// <summary><c>GET /2/users/me</c>: snapshots.</summary>
    Users,

    /// <summary><c>GET /2/tweets</c>: post metrics.</summary>
    Tweets,
}

/// <summary>
/// The analytics collector's SQL: claims (<c>FOR UPDATE SKIP LOCKED</c> with a lease, as publishing claims posts), the
/// shared daily read budget, and the readings. Idempotent across replicas by construction: a snapshot is unique per
/// account and due time, a reading per post and kind, and both are inserted with <c>ON CONFLICT DO NOTHING</c>.
/// </summary>
public sealed class AnalyticsStore(NpgsqlDataSource dataSource, TimeProvider time)
{
    /// <summary>
    /// The account's snapshot due time at <c>$1</c>: the latest point of its schedule, which repeats every <c>$2</c>
    /// seconds from an offset taken from a hash of the account id (md5, the same in every process and PostgreSQL
    /// version), so that accounts are spread evenly over the interval.
    /// </summary>
    private const string SlotSql = """
        to_timestamp(((floor(extract(epoch FROM $1::timestamptz))::bigint - o.offset_seconds) / $2) * $2 + o.offset_seconds)
        """;

    private const string OffsetSql = """
        (('x' || substr(md5(s.x_account_id::text), 1, 8))::bit(32)::bigint % $2) AS offset_seconds
        """;

    /// <summary>Gives every connected account its collector row (accounts connected since the last call).</summary>
    public Task<int> AddNewAccountsAsync(CancellationToken cancellationToken) => ExecuteAsync("""
        INSERT INTO analytics_accounts (x_account_id)
        SELECT a.id FROM x_accounts AS a
        WHERE a.status = 'connected' AND NOT EXISTS (SELECT 1 FROM analytics_accounts AS s WHERE s.x_account_id = a.id)
        ON CONFLICT (x_account_id) DO NOTHING
        """, cancellationToken);

    /// <summary>
    /// Claims up to <paramref name="limit"/> connected accounts whose snapshot for their current due time is not taken,
    /// not claimed by a live worker, and whose <c>users</c> endpoint is not paused; the longest waiting first.
    /// </summary>
    public async Task<List<SnapshotClaim>> ClaimSnapshotsAsync(TimeSpan interval, int limit, TimeSpan lease, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand($"""
            WITH due AS (
                SELECT s.x_account_id, {SlotSql} AS slot_at
                FROM analytics_accounts AS s
                JOIN x_accounts AS a ON a.id = s.x_account_id
                CROSS JOIN LATERAL (SELECT {OffsetSql}) AS o
                WHERE a.status = 'connected'
                  AND (s.snapshot_lease_until IS NULL OR s.snapshot_lease_until < $1)
                  AND (s.users_paused_until IS NULL OR s.users_paused_until <= $1)
                  AND NOT EXISTS (SELECT 1 FROM follower_snapshots AS f WHERE f.x_account_id = s.x_account_id AND f.slot_at = {SlotSql})
                ORDER BY slot_at, s.x_account_id
                LIMIT $3
                FOR UPDATE OF s SKIP LOCKED
            )
            UPDATE analytics_accounts AS s SET snapshot_lease_until = $4
            FROM due WHERE s.x_account_id = due.x_account_id
            RETURNING s.x_account_id, due.slot_at
            """);
        command.Parameters.Add(Time(now));
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = (long)interval.TotalSeconds });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        command.Parameters.Add(Time(now + lease));
        var claims = new List<SnapshotClaim>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            claims.Add(new SnapshotClaim(reader.GetGuid(0), reader.GetFieldValue<DateTimeOffset>(1), now + lease));
        }

        return claims;
    }

    /// <summary>
    /// Claims up to <paramref name="limit"/> connected accounts with post metrics due, not claimed by a live worker and
    /// whose <c>tweets</c> endpoint is not paused: the accounts with the newest due posts first, so that a short budget
    /// goes to the newest posts.
    /// </summary>
    public async Task<List<PostsClaim>> ClaimPostsAsync(int limit, TimeSpan lease, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand("""
            WITH due AS (
                SELECT s.x_account_id
                FROM analytics_accounts AS s
                JOIN x_accounts AS a ON a.id = s.x_account_id
                CROSS JOIN LATERAL (
                    SELECT p.published_at AS newest FROM scheduled_posts AS p
                    WHERE p.x_account_id = s.x_account_id AND p.metrics_due_at IS NOT NULL AND p.metrics_due_at <= $1
                    ORDER BY p.published_at DESC LIMIT 1
                ) AS d
                WHERE a.status = 'connected'
                  AND (s.posts_lease_until IS NULL OR s.posts_lease_until < $1)
                  AND (s.tweets_paused_until IS NULL OR s.tweets_paused_until <= $1)
                ORDER BY d.newest DESC, s.x_account_id
                LIMIT $2
                FOR UPDATE OF s SKIP LOCKED
            )
            UPDATE analytics_accounts AS s SET posts_lease_until = $3
            FROM due WHERE s.x_account_id = due.x_account_id
            RETURNING s.x_account_id
            """);
        command.Parameters.Add(Time(now));
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        command.Parameters.Add(Time(now + lease));
        var claims = new List<PostsClaim>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            claims.Add(new PostsClaim(reader.GetGuid(0), now + lease));
        }

        return claims;
    }

    /// <summary>The account's posts whose reading is due, newest first, at most <see cref="XMetricsClient.MaxIdsPerRequest"/>.</summary>
    public async Task<List<DuePost>> DuePostsAsync(Guid accountId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT id, x_post_id, published_at, metrics_due_at FROM scheduled_posts
            WHERE x_account_id = $1 AND metrics_due_at IS NOT NULL AND metrics_due_at <= $2
              AND x_post_id IS NOT NULL AND published_at IS NOT NULL
            ORDER BY published_at DESC
            LIMIT $3
            """);
        command.Parameters.Add(Id(accountId));
        command.Parameters.Add(Time(time.GetUtcNow()));
        command.Parameters.Add(new NpgsqlParameter { Value = XMetricsClient.MaxIdsPerRequest });
        var posts = new List<DuePost>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            posts.Add(new DuePost(reader.GetGuid(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetFieldValue<DateTimeOffset>(3)));
        }

        return posts;
    }

    /// <summary>
    /// Reserves up to <paramref name="wanted"/> reads of today's (UTC) budget, for every replica together: answers how
    /// many were granted (0 when the day's budget is spent). The budget row is locked while it is read and raised, so
    /// concurrent reservations from any process never add up to more than <paramref name="maxPerDay"/>.
    /// </summary>
    public async Task<(int Granted, long Left)> ReserveReadsAsync(int wanted, long maxPerDay, CancellationToken cancellationToken)
    {
        var day = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        long reserved;
        await using (var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("INSERT INTO analytics_read_budget (day, reserved) VALUES ($1, 0) ON CONFLICT (day) DO NOTHING")
                {
                    Parameters = { new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Date, Value = day } },
                },
                new NpgsqlBatchCommand("SELECT reserved FROM analytics_read_budget WHERE day = $1 FOR UPDATE")
                {
                    Parameters = { new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Date, Value = day } },
                },
            },
        })
        {
            reserved = (long)(await batch.ExecuteScalarAsync(cancellationToken))!;
        }

        var granted = (int)Math.Clamp(maxPerDay - reserved, 0, wanted);
        if (granted > 0)
        {
            await using var update = new NpgsqlCommand("UPDATE analytics_read_budget SET reserved = reserved + $2 WHERE day = $1", connection, transaction);
            update.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Date, Value = day });
            update.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = (long)granted });
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return (granted, Math.Max(0, maxPerDay - reserved - granted));
    }

    /// <summary>Reads reserved so far today (UTC), by every replica.</summary>
    public async Task<long> ReservedTodayAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT reserved FROM analytics_read_budget WHERE day = $1");
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Date, Value = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime) });
        return await command.ExecuteScalarAsync(cancellationToken) is long reserved ? reserved : 0;
    }

    /// <summary>Accounts with an endpoint paused now (X's rate limit, or a back-off after a failure).</summary>
    public async Task<long> PausedAccountsAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT count(*) FROM analytics_accounts WHERE users_paused_until > $1 OR tweets_paused_until > $1");
        command.Parameters.Add(Time(time.GetUtcNow()));
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public Task<int> StoreSnapshotAsync(SnapshotClaim claim, XAccountMetrics metrics, CancellationToken cancellationToken) => ExecuteAsync("""
        INSERT INTO follower_snapshots (x_account_id, slot_at, taken_at, followers_count, following_count, tweet_count, listed_count)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (x_account_id, slot_at) DO NOTHING
        """, cancellationToken, Id(claim.XAccountId), Time(claim.SlotAt), Time(time.GetUtcNow()), Count(metrics.Followers),
        Count(metrics.Following), Count(metrics.Tweets), Count(metrics.Listed));

    /// <summary>
    /// Stores the readings of the posts X answered for and moves each to its next due time (none after the last), and
    /// marks the posts X no longer has as deleted on X, never to be read again. One transaction. A post whose due time
    /// changed meanwhile (another worker read it) is not moved again; its reading is not stored twice.
    /// </summary>
    public async Task RecordPostReadingsAsync(
        IReadOnlyList<(DuePost Post, PostMetricKind Kind, XPostMetrics Metrics)> readings, IReadOnlyList<DuePost> deleted, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var batch = dataSource.CreateBatch();
        if (readings.Count > 0)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                INSERT INTO post_metric_readings (scheduled_post_id, kind, due_at, read_at, impressions, likes, reposts, replies, quotes,
                    bookmarks, url_clicks, profile_clicks)
                SELECT r.id, r.kind, r.due_at, $12, r.impressions, r.likes, r.reposts, r.replies, r.quotes, r.bookmarks, r.url_clicks, r.profile_clicks
                FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],
                    $9::bigint[], $10::bigint[], $11::bigint[])
                    AS r(id, kind, due_at, impressions, likes, reposts, replies, quotes, bookmarks, url_clicks, profile_clicks)
                JOIN scheduled_posts AS p ON p.id = r.id
                ON CONFLICT (scheduled_post_id, kind) DO NOTHING
                """)
            {
                Parameters =
                {
                    Array(NpgsqlDbType.Uuid, readings.Select(r => r.Post.Id)),
                    Array(NpgsqlDbType.Text, readings.Select(r => SnakeCaseEnumConverter<PostMetricKind>.NameOf(r.Kind))),
                    Array(NpgsqlDbType.TimestampTz, readings.Select(r => PostMetricSchedule.DueAt(r.Post.PublishedAt, r.Kind))),
                    Array(NpgsqlDbType.Bigint, readings.Select(r => r.Metrics.Impressions)),
                    Array(NpgsqlDbType.Bigint, readings.Select(r => r.Metrics.Likes)),
                    Array(NpgsqlDbType.Bigint, readings.Select(r => r.Metrics.Reposts)),
                    Array(NpgsqlDbType.Bigint, readings.Select(r => r.Metrics.Replies)),
                    Array(NpgsqlDbType.Bigint, readings.Select(r => r.Metrics.Quotes)),
                    Array(NpgsqlDbType.Bigint, readings.Select(r => r.Metrics.Bookmarks)),
                    Array(NpgsqlDbType.Bigint, readings.Select(r => r.Metrics.UrlClicks)),
                    Array(NpgsqlDbType.Bigint, readings.Select(r => r.Metrics.ProfileClicks)),
                    Time(now),
                },
            });
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                UPDATE scheduled_posts AS p SET metrics_due_at = u.next_due_at
                FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS u(id, due_at, next_due_at)
                WHERE p.id = u.id AND p.metrics_due_at = u.due_at
                """)
            {
                Parameters =
                {
                    Array(NpgsqlDbType.Uuid, readings.Select(r => r.Post.Id)),
                    Array(NpgsqlDbType.TimestampTz, readings.Select(r => r.Post.MetricsDueAt)),
                    Array(NpgsqlDbType.TimestampTz, readings.Select(r => PostMetricSchedule.NextDueAt(r.Post.PublishedAt, r.Kind))),
                },
            });
        }

        if (deleted.Count > 0)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(
                "UPDATE scheduled_posts SET deleted_on_x_at = $2, metrics_due_at = NULL WHERE id = ANY($1) AND deleted_on_x_at IS NULL")
            {
                Parameters = { Array(NpgsqlDbType.Uuid, deleted.Select(p => p.Id)), Time(now) },
            });
        }

        if (batch.BatchCommands.Count > 0)
        {
            // A batch without a transaction of its own runs as one implicit transaction: all of it or nothing.
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Nothing is read from this account's <paramref name="endpoint"/> before <paramref name="until"/>.</summary>
    public Task<int> PauseAsync(Guid accountId, XReadEndpoint endpoint, DateTimeOffset until, CancellationToken cancellationToken) => ExecuteAsync(
        endpoint == XReadEndpoint.Users
            ? "UPDATE analytics_accounts SET users_paused_until = GREATEST(COALESCE(users_paused_until, $2), $2) WHERE x_account_id = $1"
            : "UPDATE analytics_accounts SET tweets_paused_until = GREATEST(COALESCE(tweets_paused_until, $2), $2) WHERE x_account_id = $1",
        cancellationToken, Id(accountId), Time(until));

    /// <summary>Gives the claim back (only if it is still this worker's: the lease it set identifies it).</summary>
    public Task<int> ReleaseAsync(SnapshotClaim claim, CancellationToken cancellationToken) => ExecuteAsync(
        "UPDATE analytics_accounts SET snapshot_lease_until = NULL WHERE x_account_id = $1 AND snapshot_lease_until = $2",
        cancellationToken, Id(claim.XAccountId), Time(claim.LeaseUntil));

    public Task<int> ReleaseAsync(PostsClaim claim, CancellationToken cancellationToken) => ExecuteAsync(
        "UPDATE analytics_accounts SET posts_lease_until = NULL WHERE x_account_id = $1 AND posts_lease_until = $2",
        cancellationToken, Id(claim.XAccountId), Time(claim.LeaseUntil));

    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params NpgsqlParameter[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddRange(parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static NpgsqlParameter Array<T>(NpgsqlDbType type, IEnumerable<T> values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | type, Value = values.ToArray() };

    private static NpgsqlParameter Count(long value) => new() { NpgsqlDbType = NpgsqlDbType.Bigint, Value = value };

    private static NpgsqlParameter Time(DateTimeOffset value) => new() { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = value };

    private static NpgsqlParameter Id(Guid value) => new() { NpgsqlDbType = NpgsqlDbType.Uuid, Value = value };
}
