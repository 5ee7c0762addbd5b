using Npgsql;
using NpgsqlTypes;

namespace XGrowth.Worker.Publishing;

/// <summary>A post this worker has claimed: it alone may publish it, under <see cref="AttemptId"/>.</summary>
/// <remarks>
/// The account's encrypted access token comes with the claim, so that a post whose token is fresh needs no further read.
/// <see cref="Attempts"/> is the count before this attempt (see <see cref="DuePostClaimer"/> for what counts).
/// </remarks>
public sealed record ClaimedPost(Guid Id, Guid XAccountId, DateTimeOffset ScheduledAt, DateTimeOffset? NotBefore, Guid AttemptId, int Attempts,
    string? AccessTokenProtected = null, DateTimeOffset? AccessTokenExpiresAt = null, string? CreationTraceParent = null, string? Scopes = null)
{
    /// <summary>X granted the account <c>media.write</c>, or it is not known (accounts connected before scopes were kept).</summary>
    public bool MayUploadMedia => Scopes is null || Scopes.Split(' ').Contains("media.write");

    /// <summary>When the request should leave: the scheduled time, or later after a back-off.</summary>
    public DateTimeOffset FireAt => NotBefore > ScheduledAt ? NotBefore.Value : ScheduledAt;
}

/// <summary>A part of a claimed post: <see cref="XPostId"/> is set when it is on X already (sent by an earlier attempt).</summary>
public sealed record ClaimedPart(int Position, string Text, string? XPostId, IReadOnlyList<ClaimedMedia> Media);

/// <summary>A media item of a claimed part, in the part's order; its bytes are read piece by piece when uploaded.</summary>
public sealed record ClaimedMedia(Guid Id, bool IsGif, string ContentType, long Bytes, string? AltText, bool ContentRemoved);

/// <summary>
/// The publishing state machine in SQL: claims due posts (<c>FOR UPDATE SKIP LOCKED</c>, so any number of workers
/// share them), and records each step. Every step after the claim names the attempt, so a worker that lost its claim
/// (its lease expired and another worker recovered the post) changes nothing. The worker renews the leases of the
/// claims it holds (<see cref="RenewLeasesAsync"/>), so a lease runs out only when its worker died or hung.
/// </summary>
/// <remarks>
/// <c>attempts</c> counts the attempts that asked X something for the post: one whose request may have left
/// (counted when <see cref="MarkSentAsync"/> commits that it is leaving), or one that ended with an outcome (a
/// failed token refresh among them). A claim taken and then given back or recovered before anything was asked of X
/// (the worker stopped, died or lost its lease while the post waited) does not count.
/// </remarks>
public sealed class DuePostClaimer(NpgsqlDataSource dataSource, TimeProvider time)
{
    private const string ClaimSql = """
        WITH due AS (
            SELECT p.id FROM scheduled_posts AS p
            JOIN x_accounts AS a ON a.id = p.x_account_id
            WHERE p.status = 'scheduled' AND p.scheduled_at <= $1 AND (p.not_before IS NULL OR p.not_before <= $1)
              AND a.status = 'connected' AND (a.rate_limited_until IS NULL OR a.rate_limited_until <= $1)
            ORDER BY p.scheduled_at, p.id
            LIMIT $2
            FOR UPDATE OF p SKIP LOCKED
        )
        UPDATE scheduled_posts AS p SET status = 'publishing', attempt_id = gen_random_uuid(),
            claimed_by = $3, lease_until = $4, request_sent_at = NULL, updated_at = $5
        FROM due, x_accounts AS a WHERE p.id = due.id AND a.id = p.x_account_id
        RETURNING p.id, p.x_account_id, p.scheduled_at, p.not_before, p.attempt_id, p.attempts,
                  a.access_token_protected, a.access_token_expires_at, p.creation_trace_parent, a.scopes
        """;

    /// <summary>Claims up to <paramref name="limit"/> posts due by <paramref name="dueBy"/>.</summary>
    public async Task<List<ClaimedPost>> ClaimAsync(DateTimeOffset dueBy, int limit, string workerId, TimeSpan lease, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand(ClaimSql);
        command.Parameters.Add(Time(dueBy));
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        command.Parameters.Add(new NpgsqlParameter { Value = workerId });
        command.Parameters.Add(Time(now + lease));
        command.Parameters.Add(Time(now));
        var claimed = new List<ClaimedPost>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            claimed.Add(new ClaimedPost(reader.GetGuid(0), reader.GetGuid(1), reader.GetFieldValue<DateTimeOffset>(2),
                reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3), reader.GetGuid(4), reader.GetInt32(5),
                reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
                reader.IsDBNull(8) ? null : reader.GetString(8), reader.IsDBNull(9) ? null : reader.GetString(9)));
        }

        return claimed;
    }

    /// <summary>The post's parts in publishing order, with the X ids of those already on X, and each part's media (metadata only).</summary>
    public async Task<List<ClaimedPart>> ReadPartsAsync(Guid postId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT pp.position, pp.text, pp.x_post_id, m.id, m.type, m.content_type, m.bytes, m.alt_text, m.content_removed_at IS NOT NULL
            FROM post_parts AS pp
            LEFT JOIN post_part_media AS l ON l.post_id = pp.post_id AND l.part_position = pp.position
            LEFT JOIN media AS m ON m.id = l.media_id
            WHERE pp.post_id = $1
            ORDER BY pp.position, l.position
            """);
        command.Parameters.Add(Id(postId));
        var parts = new List<ClaimedPart>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var position = reader.GetInt32(0);
            if (parts.Count == 0 || parts[^1].Position != position)
            {
                parts.Add(new ClaimedPart(position, reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), new List<ClaimedMedia>()));
            }

            if (!reader.IsDBNull(3))
            {
                ((List<ClaimedMedia>)parts[^1].Media).Add(new ClaimedMedia(reader.GetGuid(3), reader.GetString(4) == "gif", reader.GetString(5),
                    reader.GetInt64(6), reader.IsDBNull(7) ? null : reader.GetString(7), reader.GetBoolean(8)));
            }
        }

        return parts;
    }

    /// <summary>
    /// A media item's bytes in order, one stored piece (<see cref="XGrowth.Data.MediaChunk.Size"/>) per query, so that an
    /// upload holds one piece in memory and no connection while its request is on the wire.
    /// </summary>
    public async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadMediaPiecesAsync(Guid mediaId,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var index = 0; ; index++)
        {
            byte[]? piece;
            await using (var command = dataSource.CreateCommand("SELECT data FROM media_contents WHERE media_id = $1 AND index = $2"))
            {
                command.Parameters.Add(Id(mediaId));
                command.Parameters.Add(new NpgsqlParameter { Value = index });
                piece = await command.ExecuteScalarAsync(cancellationToken) as byte[];
            }

            if (piece is null)
            {
                yield break;
            }

            yield return piece;
        }
    }

    /// <summary>Posts more than <paramref name="missedAfter"/> past their time (no worker ran) become <c>missed</c>, not published late.</summary>
    public Task<int> MarkMissedAsync(TimeSpan missedAfter, CancellationToken cancellationToken) => ExecuteAsync("""
        UPDATE scheduled_posts SET status = 'missed', updated_at = $2,
            error = 'Not published: no worker could publish it within the allowed delay after its time. Retry it to publish now.'
        WHERE status = 'scheduled' AND scheduled_at < $1 AND COALESCE(not_before, scheduled_at) < $1
        """, cancellationToken, Time(time.GetUtcNow() - missedAfter), Time(time.GetUtcNow()));

    /// <summary>
    /// Claims whose lease ran out (their worker crashed or hung): back to <c>scheduled</c> if the request never left,
    /// <c>unconfirmed</c> if it may have (the user checks X and retries or dismisses).
    /// </summary>
    public Task<int> RecoverExpiredClaimsAsync(CancellationToken cancellationToken) => ExecuteAsync("""
        UPDATE scheduled_posts SET
            status = CASE WHEN request_sent_at IS NULL THEN 'scheduled' ELSE 'unconfirmed' END,
            error = CASE WHEN request_sent_at IS NULL THEN error
                         ELSE 'Publishing was interrupted after the request was sent to X: check X, then retry or dismiss.' END,
            attempt_id = NULL, claimed_by = NULL, lease_until = NULL, updated_at = $1
        WHERE status = 'publishing' AND lease_until < $1
        """, cancellationToken, Time(time.GetUtcNow()));

    /// <summary>On shutdown: gives back this worker's claims whose request has not left.</summary>
    public Task<int> ReleaseUnsentAsync(string workerId, CancellationToken cancellationToken) => ExecuteAsync("""
        UPDATE scheduled_posts SET status = 'scheduled', attempt_id = NULL, claimed_by = NULL, lease_until = NULL, updated_at = $2
        WHERE status = 'publishing' AND claimed_by = $1 AND request_sent_at IS NULL
        """, cancellationToken, new NpgsqlParameter { Value = workerId }, Time(time.GetUtcNow()));

    /// <summary>
    /// Extends the lease of the claims this worker still holds (by attempt: a claim another worker recovered, or that
    /// this worker took again, is not touched). Returns how many were extended.
    /// </summary>
    public Task<int> RenewLeasesAsync(string workerId, IReadOnlyCollection<Guid> attemptIds, TimeSpan lease, CancellationToken cancellationToken) => ExecuteAsync("""
        UPDATE scheduled_posts SET lease_until = $3
        WHERE claimed_by = $1 AND attempt_id = ANY($2) AND status = 'publishing'
        """, cancellationToken, new NpgsqlParameter { Value = workerId },
        new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid, Value = attemptIds.ToArray() },
        Time(time.GetUtcNow() + lease));

    /// <summary>
    /// Records, and commits, that the request of the part at <paramref name="position"/> is about to leave: the attempt
    /// counts from its first such request (<paramref name="firstOfAttempt"/>), and the lease starts afresh. False: the
    /// claim was lost, or the part is on X already (recorded by a worker whose claim was lost meanwhile): do not send.
    /// </summary>
    /// <remarks>The part's row is locked as it is checked, so that its X id cannot be recorded between the check and the commit.</remarks>
    public async Task<bool> MarkSentAsync(ClaimedPost post, int position, bool firstOfAttempt, TimeSpan lease, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return await ExecuteAsync("""
            UPDATE scheduled_posts SET request_sent_at = $3, attempts = attempts + $5, lease_until = $4, updated_at = $3
            WHERE id = $1 AND attempt_id = $2 AND status = 'publishing'
              AND EXISTS (SELECT 1 FROM post_parts WHERE post_id = $1 AND position = $6 AND x_post_id IS NULL FOR UPDATE)
            """, cancellationToken, Id(post.Id), Id(post.AttemptId), Time(now), Time(now + lease),
            new NpgsqlParameter { Value = firstOfAttempt ? 1 : 0 }, new NpgsqlParameter { Value = position }) == 1;
    }

    /// <summary>
    /// Commits the X id of a part X confirmed, before anything else is sent: a crash from here on resumes after this
    /// part. The id is kept even when the claim was lost meanwhile (the part is on X whatever became of the claim);
    /// only while the claim is held does the post leave "request in the air". The first part's id is also the post's.
    /// Returns whether the claim is still held (false: stop, the post is someone else's now).
    /// </summary>
    public async Task<bool> PartPublishedAsync(ClaimedPost post, int position, string xPostId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH part AS (
                UPDATE post_parts SET x_post_id = $3, published_at = $4
                WHERE post_id = $1 AND position = $2 AND x_post_id IS NULL
            )
            UPDATE scheduled_posts SET
                x_post_id = CASE WHEN $2 = 0 THEN $3 ELSE x_post_id END,
                request_sent_at = CASE WHEN attempt_id = $5 AND status = 'publishing' THEN NULL ELSE request_sent_at END,
                updated_at = $4
            WHERE id = $1
            RETURNING COALESCE(attempt_id = $5 AND status = 'publishing', false)
            """);
        command.Parameters.AddRange(new NpgsqlParameter[]
        {
            Id(post.Id), new() { Value = position }, new() { Value = xPostId }, Time(time.GetUtcNow()), Id(post.AttemptId),
        });
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>
    /// Every part is on X: the post is published, and its first metrics reading is due
    /// <see cref="XGrowth.Data.PostMetricSchedule.First"/> later (Analytics).
    /// </summary>
    public Task<int> PublishedAsync(ClaimedPost post, CancellationToken cancellationToken) => Finish(post, """
        status = 'published', published_at = $3, metrics_due_at = $3 + $5, error = NULL
        """, cancellationToken, new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Interval, Value = XGrowth.Data.PostMetricSchedule.First });

    public Task<int> FailedAsync(ClaimedPost post, string reason, CancellationToken cancellationToken) =>
        Finish(post, "status = 'failed', error = $5", cancellationToken, new NpgsqlParameter { Value = reason });

    public Task<int> UnconfirmedAsync(ClaimedPost post, string reason, CancellationToken cancellationToken) =>
        Finish(post, "status = 'unconfirmed', error = $5", cancellationToken, new NpgsqlParameter { Value = reason });

    /// <summary>Back to <c>scheduled</c>, not before <paramref name="notBefore"/> (the request never left, or X said wait).</summary>
    public Task<int> RescheduleAsync(ClaimedPost post, DateTimeOffset notBefore, string reason, CancellationToken cancellationToken) =>
        Finish(post, "status = 'scheduled', not_before = $5, error = $6, request_sent_at = NULL", cancellationToken,
            Time(notBefore), new NpgsqlParameter { Value = reason });

    public Task<int> RateLimitAccountAsync(Guid accountId, DateTimeOffset until, CancellationToken cancellationToken) => ExecuteAsync(
        "UPDATE x_accounts SET rate_limited_until = GREATEST(COALESCE(rate_limited_until, $2), $2) WHERE id = $1",
        cancellationToken, Id(accountId), Time(until));

    /// <summary>
    /// Records the attempt's outcome (<paramref name="set"/> names its own values from <c>$5</c>; <c>$3</c> is now). The
    /// attempt counts, once: <see cref="MarkSentAsync"/> has counted it already if its request left.
    /// </summary>
    private Task<int> Finish(ClaimedPost post, string set, CancellationToken cancellationToken, params NpgsqlParameter[] values) => ExecuteAsync(
        $"UPDATE scheduled_posts SET {set}, attempts = GREATEST(attempts, $4), attempt_id = NULL, claimed_by = NULL, lease_until = NULL, " +
        "updated_at = $3 WHERE id = $1 AND attempt_id = $2 AND status = 'publishing'",
        cancellationToken, [Id(post.Id), Id(post.AttemptId), Time(time.GetUtcNow()), new NpgsqlParameter { Value = post.Attempts + 1 }, .. values]);

    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params NpgsqlParameter[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddRange(parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static NpgsqlParameter Time(DateTimeOffset value) => new() { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = value };

    private static NpgsqlParameter Id(Guid value) => new() { NpgsqlDbType = NpgsqlDbType.Uuid, Value = value };
}
