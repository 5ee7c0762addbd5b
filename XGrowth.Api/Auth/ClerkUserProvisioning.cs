using Microsoft.Extensions.Caching.Memory;
using Npgsql;
using NpgsqlTypes;

namespace XGrowth.Api.Auth;

/// <summary>
/// Makes the row of a signed-in user whose <c>user.created</c> webhook has not arrived yet (the webhook fills in the
/// profile later), and tells whether the user was deleted.
/// </summary>
/// <remarks>
/// A user found active is remembered for <see cref="ActiveUserCacheTime"/>, so that a signed-in frontend's calls do not
/// each cost a database round trip. A <c>user.deleted</c> handled by this process forgets the user at once; another
/// replica may still accept the user's tokens for at most that long, which is less than the minute a Clerk session
/// token stays valid anyway.
/// </remarks>
public sealed class ClerkUserProvisioning(NpgsqlDataSource dataSource, TimeProvider time)
{
    public static readonly TimeSpan ActiveUserCacheTime = TimeSpan.FromSeconds(30);

    // Bounded: only users with a valid token get in, but memory must not grow with them without limit.
    private readonly MemoryCache _activeUsers = new(new MemoryCacheOptions { SizeLimit = 100_000, Clock = new TimeProviderClock(time) });

    // Deletions handled by this process so far. A request remembers a user only if no deletion was handled between its
    // database check and its remembering (checked and set under the lock that Forget takes): otherwise a request that
    // looked just before a deletion would put the deleted user back for 30 s.
    private readonly Lock _remembering = new();
    private long _deletionsHandled;

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
        if (_activeUsers.TryGetValue(userId, out _))
        {
            return true;
        }

        var deletionsBefore = Volatile.Read(ref _deletionsHandled);
        if (await EnsureInDatabaseAsync(userId, cancellationToken))
        {
            if (AfterDatabaseCheck is { } hook)
            {
                await hook(userId);
            }

            lock (_remembering)
            {
                if (_deletionsHandled == deletionsBefore)
                {
                    _activeUsers.Set(userId, true, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = ActiveUserCacheTime });
                }
            }

            return true;
        }

        return false;
    }

    /// <summary>Tests only: runs between the database check and remembering the user, to force a race there.</summary>
    internal Func<string, Task>? AfterDatabaseCheck { get; set; }

    /// <summary>The user was deleted: their next call checks the database again.</summary>
    public void Forget(string userId)
    {
        lock (_remembering)
        {
            _deletionsHandled++;
            _activeUsers.Remove(userId);
        }
    }

    private async Task<bool> EnsureInDatabaseAsync(string userId, CancellationToken cancellationToken)
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

/// <summary>The cache's clock is the application's <see cref="TimeProvider"/>, so that tests can move time.</summary>
internal sealed class TimeProviderClock(TimeProvider time) : Microsoft.Extensions.Internal.ISystemClock
{
    public DateTimeOffset UtcNow => time.GetUtcNow();
}
