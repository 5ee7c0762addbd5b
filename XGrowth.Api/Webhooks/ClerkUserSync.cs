using Npgsql;
using NpgsqlTypes;

namespace XGrowth.Api.Webhooks;

/// <summary>What a webhook delivery did.</summary>
public enum WebhookOutcome
{
    /// <summary>The user was created, updated or deleted.</summary>
    Applied,

    /// <summary>This <c>svix-id</c> was handled before; nothing changed.</summary>
    Duplicate,

    /// <summary>
    /// The event's <c>updated_at</c> is older than the stored profile's, or the event has none and the stored profile
    /// has one; nothing changed.
    /// </summary>
    Stale,

    /// <summary>The user was deleted before; a late create or update does not bring it back.</summary>
    UserDeleted,

    /// <summary>An event type XGrowth does not use.</summary>
    Ignored,
}

/// <summary>
/// Writes Clerk user events to <c>users</c>. Each event is one SQL statement, so it is atomic, needs one round trip,
/// and records its <c>svix-id</c> in the same step as its effect: concurrent deliveries of one message wait on the
/// <c>clerk_webhook_deliveries</c> key and all but one find it taken.
/// </summary>
public sealed class ClerkUserSync(NpgsqlDataSource dataSource, TimeProvider time, Auth.ClerkUserProvisioning users)
{
    // An event without updated_at cannot be ordered: it fills in a profile no dated event has written yet (a row made
    // by a signed-in call, or by another undated event) and is stale against any dated one.
    // The last column reads the row as it was before this statement (one snapshot for the whole statement), which
    // tells a stale event from one about a deleted user.
    private const string UpsertSql = """
        WITH delivery AS (
            INSERT INTO clerk_webhook_deliveries (svix_id, event_type, received_at) VALUES ($1, $2, $3)
            ON CONFLICT (svix_id) DO NOTHING
            RETURNING 1
        ), upserted AS (
            INSERT INTO users (id, email, first_name, last_name, username, image_url, clerk_updated_at, created_at, updated_at)
            SELECT $4, $5, $6, $7, $8, $9, $10, $3, $3 WHERE EXISTS (SELECT 1 FROM delivery)
            ON CONFLICT (id) DO UPDATE SET
                email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name,
                username = excluded.username, image_url = excluded.image_url,
                clerk_updated_at = excluded.clerk_updated_at, updated_at = excluded.updated_at
            WHERE users.deleted_at IS NULL
              AND (users.clerk_updated_at IS NULL OR excluded.clerk_updated_at >= users.clerk_updated_at)
            RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM delivery), EXISTS (SELECT 1 FROM upserted),
               COALESCE((SELECT deleted_at IS NOT NULL FROM users WHERE id = $4), false)
        """;

    // The row stays as a tombstone with its profile erased; the user's X accounts go, and their posts with them
    // (foreign keys cascade).
    private const string DeleteSql = """
        WITH delivery AS (
            INSERT INTO clerk_webhook_deliveries (svix_id, event_type, received_at) VALUES ($1, $2, $3)
            ON CONFLICT (svix_id) DO NOTHING
            RETURNING 1
        ), tombstone AS (
            INSERT INTO users (id, created_at, updated_at, deleted_at)
            SELECT $4, $3, $3, $3 WHERE EXISTS (SELECT 1 FROM delivery)
            ON CONFLICT (id) DO UPDATE SET
                email = NULL, first_name = NULL, last_name = NULL, username = NULL, image_url = NULL,
                deleted_at = COALESCE(users.deleted_at, excluded.deleted_at), updated_at = excluded.updated_at
            RETURNING 1
        ), removed_accounts AS (
            DELETE FROM x_accounts WHERE user_id = $4 AND EXISTS (SELECT 1 FROM tombstone)
            RETURNING 1
        ), removed_media AS (
            DELETE FROM media WHERE user_id = $4 AND EXISTS (SELECT 1 FROM tombstone)
            RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM delivery), EXISTS (SELECT 1 FROM tombstone), false
        """;

    public Task<WebhookOutcome> UpsertAsync(string svixId, string eventType, ClerkProfile profile, CancellationToken cancellationToken) =>
        ExecuteAsync(UpsertSql, svixId, eventType, profile.Id, cancellationToken,
            Text(profile.Email), Text(profile.FirstName), Text(profile.LastName), Text(profile.Username), Text(profile.ImageUrl),
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = (object?)profile.UpdatedAt ?? DBNull.Value });

    /// <remarks>
    /// The user's row is locked first, in a statement of its own: work that holds it (an X account being stored for
    /// the user, which takes it <c>FOR SHARE</c>) finishes before the deletion reads the user's accounts, so the
    /// deletion's statement sees, and removes, what that work added. One statement alone would read the accounts as
    /// they were when it began, before it waited for the lock.
    /// </remarks>
    public async Task<WebhookOutcome> DeleteAsync(string svixId, string eventType, string userId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockUser = new NpgsqlCommand("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", connection, transaction))
        {
            lockUser.Parameters.Add(new NpgsqlParameter { Value = userId });
            await lockUser.ExecuteNonQueryAsync(cancellationToken);
        }

        var outcome = await ExecuteAsync(new NpgsqlCommand(DeleteSql, connection, transaction), svixId, eventType, userId, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        users.Forget(userId);
        return outcome;
    }

    private Task<WebhookOutcome> ExecuteAsync(
        string sql, string svixId, string eventType, string userId, CancellationToken cancellationToken, params NpgsqlParameter[] extra) =>
        ExecuteAsync(dataSource.CreateCommand(sql), svixId, eventType, userId, cancellationToken, extra);

    private async Task<WebhookOutcome> ExecuteAsync(
        NpgsqlCommand command, string svixId, string eventType, string userId, CancellationToken cancellationToken, params NpgsqlParameter[] extra)
    {
        await using var _ = command;
        command.Parameters.Add(new NpgsqlParameter { Value = svixId });
        command.Parameters.Add(new NpgsqlParameter { Value = eventType });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = time.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        command.Parameters.AddRange(extra);

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var recorded = reader.GetBoolean(0);
        var written = reader.GetBoolean(1);
        var wasDeleted = reader.GetBoolean(2);
        return (recorded, written, wasDeleted) switch
        {
            (false, _, _) => WebhookOutcome.Duplicate,
            (true, true, _) => WebhookOutcome.Applied,
            (true, false, true) => WebhookOutcome.UserDeleted,
            _ => WebhookOutcome.Stale,
        };
    }

    private static NpgsqlParameter Text(string? value) =>
        new() { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value };
}
