using Microsoft.AspNetCore.DataProtection;
using Npgsql;
using NpgsqlTypes;

namespace XGrowth.X;

/// <summary>
/// Hands out a valid X access token for an account, refreshing it when less than <see cref="RefreshMargin"/> remains.
/// Used by the API and the worker alike.
/// </summary>
/// <remarks>
/// X's refresh tokens are single-use: two refreshes racing would leave one side with a dead token and log the account
/// out. So a refresh happens under the account row's lock (<c>SELECT ... FOR UPDATE</c>), which holds across every
/// process that shares the database; whoever gets the lock second finds the fresh token and does not refresh again.
/// The rotated pair is written in the same transaction, and an empty refresh token never replaces a stored one.
/// </remarks>
public sealed class XAccessTokens(NpgsqlDataSource dataSource, XOAuthClient x, XTokenProtector protector, TimeProvider time)
{
    public static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(2);

    /// <summary>The access token, or null when the account is not connected (or X refused the refresh: it then needs reconnecting).</summary>
    /// <exception cref="HttpRequestException">X could not be reached; try again later.</exception>
    public Task<string?> GetAsync(Guid accountId, CancellationToken cancellationToken) => GetCoreAsync(accountId, null, cancellationToken);

    /// <summary>
    /// A new access token after X answered 401 to <paramref name="rejectedToken"/>: refreshes once, however many
    /// requests saw the same 401 (a token that changed meanwhile is simply returned).
    /// </summary>
    public Task<string?> RefreshRejectedAsync(Guid accountId, string rejectedToken, CancellationToken cancellationToken) =>
        GetCoreAsync(accountId, rejectedToken, cancellationToken);

    private async Task<string?> GetCoreAsync(Guid accountId, string? rejectedToken, CancellationToken cancellationToken)
    {
        if (rejectedToken is null)
        {
            var current = await ReadAsync(dataSource.CreateCommand(SelectSql), accountId, cancellationToken);
            if (current is null || current.Status != "connected" || current.AccessToken is null)
            {
                return null;
            }

            if (current.ExpiresAt - time.GetUtcNow() > RefreshMargin)
            {
                return protector.Unprotect(current.AccessToken);
            }
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var locked = await ReadAsync(new NpgsqlCommand(SelectSql + " FOR UPDATE", connection, transaction), accountId, cancellationToken);
        if (locked is null || locked.Status != "connected" || locked.AccessToken is null)
        {
            return null;
        }

        if (locked.ExpiresAt - time.GetUtcNow() > RefreshMargin
            && (rejectedToken is null || protector.Unprotect(locked.AccessToken) != rejectedToken))
        {
            // Another request or process refreshed while this one waited for the lock.
            await transaction.CommitAsync(cancellationToken);
            return protector.Unprotect(locked.AccessToken);
        }

        if (locked.RefreshToken is null)
        {
            await MarkNeedsReconnectAsync(connection, transaction, accountId, cancellationToken);
            return null;
        }

        XTokens tokens;
        try
        {
            tokens = await x.RefreshAsync(protector.Unprotect(locked.RefreshToken), cancellationToken);
        }
        catch (XGrantRefusedException)
        {
            await MarkNeedsReconnectAsync(connection, transaction, accountId, cancellationToken);
            return null;
        }

        await using var update = new NpgsqlCommand("""
            UPDATE x_accounts SET access_token_protected = $2, refresh_token_protected = COALESCE($3, refresh_token_protected),
                access_token_expires_at = $4, updated_at = $5, scopes = COALESCE($6, scopes)
            WHERE id = $1
            """, connection, transaction);
        var now = time.GetUtcNow();
        update.Parameters.Add(new NpgsqlParameter { Value = accountId });
        update.Parameters.Add(new NpgsqlParameter { Value = protector.Protect(tokens.AccessToken!) });
        update.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = string.IsNullOrEmpty(tokens.RefreshToken) ? DBNull.Value : protector.Protect(tokens.RefreshToken) });
        update.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = ExpiresAt(tokens, now) });
        update.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = now });
        update.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)tokens.Scope ?? DBNull.Value });
        await update.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return tokens.AccessToken;
    }

    /// <summary>When tokens X just issued run out (X's access tokens live 2 hours when it does not say).</summary>
    public static DateTimeOffset ExpiresAt(XTokens tokens, DateTimeOffset issuedAt) =>
        issuedAt.AddSeconds(tokens.ExpiresIn is > 0 ? tokens.ExpiresIn.Value : 7200);

    private const string SelectSql =
        "SELECT status, access_token_protected, refresh_token_protected, access_token_expires_at FROM x_accounts WHERE id = $1";

    private sealed record StoredTokens(string Status, string? AccessToken, string? RefreshToken, DateTimeOffset ExpiresAt);

    private static async Task<StoredTokens?> ReadAsync(NpgsqlCommand command, Guid accountId, CancellationToken cancellationToken)
    {
        await using (command)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = accountId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            return new StoredTokens(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? DateTimeOffset.MinValue : reader.GetFieldValue<DateTimeOffset>(3));
        }
    }

    /// <summary>X refused the account's token even after a refresh: it must be connected again; nothing acts for it until then.</summary>
    public async Task MarkNeedsReconnectAsync(Guid accountId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE x_accounts SET status = 'needs_reconnect', updated_at = $2 WHERE id = $1 AND status = 'connected'");
        command.Parameters.Add(new NpgsqlParameter { Value = accountId });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = time.GetUtcNow() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task MarkNeedsReconnectAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "UPDATE x_accounts SET status = 'needs_reconnect', updated_at = $2 WHERE id = $1", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = accountId });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = time.GetUtcNow() });
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }
}

/// <summary>Encrypts X tokens (and PKCE verifiers) at rest with Data Protection; the key ring lives in PostgreSQL.</summary>
public sealed class XTokenProtector(IDataProtectionProvider provider)
{
    private readonly IDataProtector _protector = provider.CreateProtector("XGrowth.XTokens.v1");

    public string Protect(string plaintext) => _protector.Protect(plaintext);

    public string Unprotect(string protectedText) => _protector.Unprotect(protectedText);
}
