using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Api.Auth;
using XGrowth.X;

namespace XGrowth.Api.XAccounts;

/// <summary>Connecting an X account: OAuth 2.0 authorization code with PKCE (REFERENCE.md).</summary>
public static partial class XConnectApi
{
    public const string Scopes = "tweet.read tweet.write users.read offline.access";
    public static readonly TimeSpan StateLifetime = TimeSpan.FromMinutes(10);

    public sealed record ConnectResponse(string AuthorizeUrl);

    public sealed record CallbackQuery(string? Code, string? State, string? Error);

    public sealed record CallbackServices(
        NpgsqlDataSource DataSource, XOAuthClient X, XTokenProtector Protector, IOptions<XOptions> Options, TimeProvider Time,
        ILogger<CallbackQuery> Logger);

    public static RouteGroupBuilder MapXConnectApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/x-accounts").WithTags("X accounts");
        group.MapPost("/connect", ConnectAsync).RequireAuthorization().WithName("ConnectXAccount")
            .WithSummary("Starts connecting an X account: answers the X authorize URL to send the browser to.")
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        group.MapGet("/callback", CallbackAsync).AllowAnonymous().WithName("XAccountCallback")
            .WithSummary("X's redirect after the user approved (or refused): stores the account and sends the browser back to the frontend.");
        return group;
    }

    internal static async Task<Results<Ok<ConnectResponse>, ProblemHttpResult>> ConnectAsync(
        ClaimsPrincipal principal, NpgsqlDataSource dataSource, XTokenProtector protector, IOptions<XOptions> options, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var x = options.Value;
        if (!x.IsConfigured)
        {
            return TypedResults.Problem(title: "X is not configured",
                detail: "Connecting X accounts needs X:ClientId, X:RedirectUri and X:FrontendReturnUrl (see README).",
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        var state = Base64Url(RandomNumberGenerator.GetBytes(32));
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand("""
            INSERT INTO x_oauth_states (state_hash, user_id, code_verifier_protected, created_at, expires_at) VALUES ($1, $2, $3, $4, $5);
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = StateHash(state) });
        command.Parameters.Add(new NpgsqlParameter { Value = principal.ClerkUserId() });
        command.Parameters.Add(new NpgsqlParameter { Value = protector.Protect(verifier) });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = now });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = now + StateLifetime });
        await command.ExecuteNonQueryAsync(cancellationToken);

        var url = QueryHelpers.AddQueryString(x.AuthorizeUrl, new Dictionary<string, string?>
        {
            ["response_type"] = "code",
            ["client_id"] = x.ClientId,
            ["redirect_uri"] = x.RedirectUri,
            ["scope"] = Scopes,
            ["state"] = state,
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
        });
        return TypedResults.Ok(new ConnectResponse(url));
    }

    internal static async Task<RedirectHttpResult> CallbackAsync(
        [AsParameters] CallbackQuery query, HttpContext context, [AsParameters] CallbackServices services, CancellationToken cancellationToken)
    {
        var options = services.Options.Value;
        RedirectHttpResult Back(string outcome, Guid? accountId = null) => TypedResults.Redirect(QueryHelpers.AddQueryString(
            options.FrontendReturnUrl ?? "/", new Dictionary<string, string?> { [accountId is null ? "xConnectError" : "xConnected"] = accountId?.ToString() ?? outcome }));

        if (!options.IsConfigured)
        {
            return Back("not_configured");
        }

        // The state is taken whatever the outcome: a state is valid once.
        var started = string.IsNullOrEmpty(query.State) ? null : await TakeStateAsync(services, query.State, cancellationToken);
        if (started is null)
        {
            return Back("invalid_state");
        }

        if (!string.IsNullOrEmpty(query.Error))
        {
            return Back(query.Error == "access_denied" ? "access_denied" : "x_error");
        }

        // A browser that is signed in as someone else must not finish this user's flow.
        var signedIn = await context.AuthenticateAsync();
        if (signedIn.Succeeded && signedIn.Principal.ClerkUserId() != started.Value.UserId)
        {
            return Back("invalid_state");
        }

        if (string.IsNullOrEmpty(query.Code))
        {
            return Back("x_error");
        }

        XTokens tokens;
        XUser xUser;
        try
        {
            tokens = await services.X.ExchangeCodeAsync(query.Code, services.Protector.Unprotect(started.Value.ProtectedVerifier), cancellationToken);
            xUser = await services.X.GetMeAsync(tokens.AccessToken!, cancellationToken);
        }
        catch (Exception e) when (e is XGrantRefusedException || XFailures.IsTransient(e, cancellationToken))
        {
            LogExchangeFailed(services.Logger, e.GetType().Name);
            return Back("token_exchange_failed");
        }

        var accountId = await StoreAccountAsync(services, started.Value.UserId, xUser, tokens, cancellationToken);
        return accountId is null ? Back("user_deleted") : Back("connected", accountId);
    }

    private static async Task<(string UserId, string ProtectedVerifier)?> TakeStateAsync(
        CallbackServices services, string state, CancellationToken cancellationToken)
    {
        await using var command = services.DataSource.CreateCommand("""
            UPDATE x_oauth_states SET used_at = $2
            WHERE state_hash = $1 AND used_at IS NULL AND expires_at > $2
            RETURNING user_id, code_verifier_protected
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = StateHash(state) });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = services.Time.GetUtcNow() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(0), reader.GetString(1)) : null;
    }

    /// <summary>
    /// One row per user and X user id: reconnecting updates the row (so its posts stay) and makes it usable again.
    /// The user row is locked so a concurrent <c>user.deleted</c> cannot leave an account behind.
    /// </summary>
    private static async Task<Guid?> StoreAccountAsync(CallbackServices services, string userId, XUser xUser, XTokens tokens, CancellationToken cancellationToken)
    {
        var now = services.Time.GetUtcNow();
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var user = new NpgsqlCommand("SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL FOR SHARE", connection, transaction))
        {
            user.Parameters.Add(new NpgsqlParameter { Value = userId });
            if (await user.ExecuteScalarAsync(cancellationToken) is null)
            {
                return null;
            }
        }

        await using var upsert = new NpgsqlCommand("""
            INSERT INTO x_accounts (id, user_id, x_user_id, username, status, access_token_protected, refresh_token_protected,
                                    access_token_expires_at, connected_at, updated_at)
            VALUES ($1, $2, $3, $4, 'connected', $5, $6, $7, $8, $8)
            ON CONFLICT (user_id, x_user_id) DO UPDATE SET
                username = excluded.username, status = 'connected', access_token_protected = excluded.access_token_protected,
                refresh_token_protected = COALESCE(excluded.refresh_token_protected, x_accounts.refresh_token_protected),
                access_token_expires_at = excluded.access_token_expires_at, connected_at = excluded.connected_at,
                updated_at = excluded.updated_at
            RETURNING id
            """, connection, transaction);
        upsert.Parameters.Add(new NpgsqlParameter { Value = Guid.CreateVersion7(now) });
        upsert.Parameters.Add(new NpgsqlParameter { Value = userId });
        upsert.Parameters.Add(new NpgsqlParameter { Value = xUser.Id });
        upsert.Parameters.Add(new NpgsqlParameter { Value = xUser.Username });
        upsert.Parameters.Add(new NpgsqlParameter { Value = services.Protector.Protect(tokens.AccessToken!) });
        upsert.Parameters.Add(new NpgsqlParameter
        {
            NpgsqlDbType = NpgsqlDbType.Text,
            Value = string.IsNullOrEmpty(tokens.RefreshToken) ? DBNull.Value : services.Protector.Protect(tokens.RefreshToken),
        });
        upsert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = XAccessTokens.ExpiresAt(tokens, now) });
        upsert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = now });
        var id = (Guid)(await upsert.ExecuteScalarAsync(cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        return id;
    }

    /// <summary>States are stored hashed: reading the table does not let anyone finish a flow.</summary>
    private static string StateHash(string state) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(state)));

    private static string Base64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connecting an X account failed at X: {Error}")]
    private static partial void LogExchangeFailed(ILogger logger, string error);
}
