using System.Data;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Api.Posts;
using XGrowth.Api.XAccounts;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Api.Events;

/// <summary>The kinds of event, as the <c>user_events</c> triggers write them and as the stream names them.</summary>
public static class UserEventTypes
{
    public const string PostUpdated = "post.updated";
    public const string XAccountUpdated = "x-account.updated";
    public const string UserDeleted = "user.deleted";

    /// <summary>The first event of every stream: whether it resumed, and from when it is live.</summary>
    public const string Ready = "ready";
}

/// <summary>A row of <c>user_events</c>: something of <see cref="UserId"/>'s changed.</summary>
public sealed record UserEventRow(long Id, ulong TxXmin, string UserId, string Type, Guid? EntityId)
{
    /// <summary>The <c>NOTIFY</c> payload the trigger sends: <c>id tx_xmin type entity_id|- user_id</c>.</summary>
    public static UserEventRow? FromNotification(string payload)
    {
        var parts = payload.Split(' ', 5);
        return parts.Length == 5 && long.TryParse(parts[0], out var id) && ulong.TryParse(parts[1], out var txXmin)
            ? new UserEventRow(id, txXmin, parts[4], parts[2], Guid.TryParse(parts[3], out var entityId) ? entityId : null)
            : null;
    }
}

/// <summary>Reads <c>user_events</c> (hand-written SQL: xid8 and snapshots are beyond EF) and renders events as the API's JSON.</summary>
public sealed class UserEventStore(NpgsqlDataSource dataSource, IServiceScopeFactory scopes, IOptions<JsonOptions> json, XPostLinks links)
{
    /// <summary>The events after <paramref name="from"/> (of one user, or of all users when null) and the position they lead to.</summary>
    /// <remarks>
    /// "After" is "id &gt; N or tx &gt;= tx_xmin(N)" (see the UserEvents migration): nothing that committed later is
    /// left out. The returned position is taken in the same snapshot as the rows, so everything that commits after
    /// this read is after it, too. For one user, only the latest event of each post or account is returned: each
    /// event carries the entity's current state, so the earlier ones add nothing.
    /// </remarks>
    public async Task<(List<UserEventRow> Rows, (long EventId, ulong TxXmin) Now, bool Truncated)> ReadAfterAsync(
        string? userId, (long EventId, ulong TxXmin)? from, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for the position and the rows.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        (long, ulong) now;
        await using (var position = new NpgsqlCommand(
            "SELECT COALESCE(max(id), 0), pg_snapshot_xmin(pg_current_snapshot()) FROM user_events", connection, transaction))
        await using (var reader = await position.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            now = (reader.GetInt64(0), reader.GetFieldValue<ulong>(1));
        }

        var rows = new List<UserEventRow>();
        if (from is { } after)
        {
            var sql = userId is null
                ? """
                  SELECT id, tx_xmin, user_id, type, entity_id FROM user_events
                  WHERE id > $2 OR tx >= $3 ORDER BY id LIMIT $4
                  """
                : """
                  SELECT id, tx_xmin, user_id, type, entity_id FROM (
                      SELECT DISTINCT ON (type, entity_id) id, tx_xmin, user_id, type, entity_id FROM user_events
                      WHERE user_id = $1 AND (id > $2 OR tx >= $3) ORDER BY type, entity_id, id DESC
                  ) AS latest ORDER BY id LIMIT $4
                  """;
            await using var read = new NpgsqlCommand(sql, connection, transaction);
            read.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)userId ?? DBNull.Value });
            read.Parameters.Add(new NpgsqlParameter { Value = after.EventId });
            read.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Xid8, Value = after.TxXmin });
            read.Parameters.Add(new NpgsqlParameter { Value = limit + 1 });
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(new UserEventRow(reader.GetInt64(0), reader.GetFieldValue<ulong>(1), reader.GetString(2), reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetGuid(4)));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        var truncated = rows.Count > limit;
        if (truncated)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        return (rows, now, truncated);
    }

    /// <summary>
    /// The events as frames, in the order given, each with the entity's JSON exactly as <c>GET /api/posts/{id}</c> or
    /// <c>GET /api/x-accounts</c> answers it now (the same projection and serializer settings). An entity that no
    /// longer exists (its user was deleted) has no event.
    /// </summary>
    public async Task<List<(UserEventRow Row, ServerSentEvent Event)>> RenderAsync(
        IReadOnlyList<UserEventRow> rows, DateTimeOffset issuedAt, CancellationToken cancellationToken)
    {
        var postIds = rows.Where(r => r.Type == UserEventTypes.PostUpdated && r.EntityId is not null).Select(r => r.EntityId!.Value).Distinct().ToList();
        var accountIds = rows.Where(r => r.Type == UserEventTypes.XAccountUpdated && r.EntityId is not null).Select(r => r.EntityId!.Value).Distinct().ToList();
        Dictionary<Guid, PostResponse> posts = [];
        Dictionary<Guid, XAccountsApi.XAccountResponse> accounts = [];
        if (postIds.Count > 0 || accountIds.Count > 0)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<XGrowthDbContext>();
            if (postIds.Count > 0)
            {
                posts = await db.ScheduledPosts.AsNoTracking().Where(p => postIds.Contains(p.Id))
                    .Select(PostResponse.Rows).ToDictionaryAsync(p => p.Id, row => PostResponse.From(row, links), cancellationToken);
            }

            if (accountIds.Count > 0)
            {
                accounts = await db.XAccounts.AsNoTracking().Where(a => accountIds.Contains(a.Id))
                    .Select(XAccountsApi.XAccountResponse.FromEntity).ToDictionaryAsync(a => a.Id, cancellationToken);
            }
        }

        var options = json.Value.SerializerOptions;
        var rendered = new List<(UserEventRow, ServerSentEvent)>(rows.Count);
        foreach (var row in rows)
        {
            string? data = row.Type switch
            {
                UserEventTypes.PostUpdated when posts.TryGetValue(row.EntityId ?? Guid.Empty, out var post) =>
                    JsonSerializer.Serialize(post, options),
                UserEventTypes.XAccountUpdated when accounts.TryGetValue(row.EntityId ?? Guid.Empty, out var account) =>
                    JsonSerializer.Serialize(account, options),
                UserEventTypes.UserDeleted => "{}",
                _ => null,
            };
            if (data is not null)
            {
                rendered.Add((row, ServerSentEvent.Create(row.Type, data, new EventPosition(row.Id, row.TxXmin, issuedAt), row.Id)));
            }
        }

        return rendered;
    }

    /// <summary>
    /// Deletes the rows written before <paramref name="before"/>. One replica at a time does it (the others skip
    /// this round): replicas running the same delete at once would only wait on each other's row locks.
    /// </summary>
    public async Task<int> PurgeAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH turn AS (SELECT pg_try_advisory_xact_lock(hashtext('xgrowth_user_events_purge')) AS mine)
            DELETE FROM user_events WHERE created_at < $1 AND (SELECT mine FROM turn)
            """);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = before });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
