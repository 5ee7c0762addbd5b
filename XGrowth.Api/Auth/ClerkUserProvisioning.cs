using Npgsql;
using NpgsqlTypes;

namespace XGrowth.Api.Auth;

/// <summary>
/// Makes the row of a signed-in user whose <c>user.created</c> webhook has not arrived yet (the webhook fills in the
/// profile later), and tells whether the user was deleted.
/// </summary>
public sealed class ClerkUserProvisioning(NpgsqlDataSource dataSource, TimeProvider time)
{
    // One round trip: the insert does nothing for a known user, whose row the second branch reads.
    private const string EnsureSql = """
        WITH inserted AS (
            INSERT INTO users (id, created_at, updated_at) VALUES ($1, $2, $2)
            ON CONFLICT (id) DO NOTHING
            RETURNING false AS deleted
        )
        SELECT deleted FROM inserted
        UNION ALL
        SELECT deleted_at IS NOT NULL FROM users WHERE id = $1
        """;

    /// <summary>True when the user exists (now) and is not deleted.</summary>
    public async Task<bool> EnsureActiveUserAsync(string userId, CancellationToken cancellationToken)
    {
        // A second try covers the row being inserted concurrently (by a webhook) after this statement's snapshot.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            await using var command = dataSource.CreateCommand(EnsureSql);
            command.Parameters.Add(new NpgsqlParameter { Value = userId });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = time.GetUtcNow() });
            if (await command.ExecuteScalarAsync(cancellationToken) is bool deleted)
            {
                return !deleted;
            }
        }

        return false;
    }
}
