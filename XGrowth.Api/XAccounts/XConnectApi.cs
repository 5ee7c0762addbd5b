using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Api.Auth;
using XGrowth.Api.Http;
using XGrowth.X;
using System.Text.Json.Nodes;
using XGrowth.Api.OpenApi;

namespace XGrowth.Api.XAccounts;

/// <summary>Connecting an X account: OAuth 2.0 authorization code with PKCE (REFERENCE.md).</summary>
public static partial class XConnectApi
{
    public const string Scopes = "tweet.read tweet.write users.read offline.access media.write";
    public static readonly TimeSpan StateLifetime = TimeSpan.FromMinutes(10);

    /// <summary>Connections a user may have under way at once (started, not finished, not expired).</summary>
    public const int MaxOpenConnects = 10;

    public sealed record ConnectResponse(string AuthorizeUrl);

    /// <summary>What X put in the query string of the redirect to the frontend's callback page.</summary>
    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record CallbackRequest(string? State, string? Code = null, string? Error = null);

    public sealed record CallbackServices(
        NpgsqlDataSource DataSource, XOAuthClient X, XTokenProtector Protector, IOptions<XOptions> Options, TimeProvider Time,
        ILogger<CallbackRequest> Logger);

    public static RouteGroupBuilder MapXConnectApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/x-accounts").WithTags("X accounts").RequireAuthorization().WithJsonBodyLimit()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        group.MapPost("/connect", ConnectAsync).WithName("connectXAccount").WithWriteRateLimit()
            .WithSummary("Start connecting an X account")
            .WithDescription("Answers the X authorize URL to send the browser to. X then redirects to the frontend's callback " +
                "page (`X:RedirectUri`), which finishes with `completeXAccountConnection`. At most 10 connections under way per user.")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        group.MapPost("/callback", CallbackAsync).WithName("completeXAccountConnection").WithWriteRateLimit()
            .WithSummary("Finish connecting an X account")
            .WithDescription("The frontend's callback page sends what X put in its query string (`state` and `code`, or `state` and " +
                "`error`), as the signed-in user who started. Refusals carry a `code`: invalid_state, access_denied, x_error, token_exchange_failed.")
            .WithRequestExample(new JsonObject { ["state"] = "the state from the callback URL", ["code"] = "the code from the callback URL" })
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status502BadGateway).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return group;
    }

    internal static async Task<Results<Ok<ConnectResponse>, ProblemHttpResult>> ConnectAsync(
        ClaimsPrincipal principal, NpgsqlDataSource dataSource, XTokenProtector protector, IOptions<XOptions> options, TimeProvider time,
        HttpContext context, CancellationToken cancellationToken)
    {
        var x = options.Value;
        if (!x.IsConfigured)
        {
            return NotConfigured();
        }

        var state = Base64Url(RandomNumberGenerator.GetBytes(32));
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var now = time.GetUtcNow();
        var userId = principal.ClerkUserId();
        // At most MaxOpenConnects flows under way per user (each is a row until it expires); counted and inserted under
        // a per-user lock, so parallel calls cannot pass the limit.
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var userLock = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('x-connect:' || $1, 0))", connection, transaction))
        {
            userLock.Parameters.Add(new NpgsqlParameter { Value = userId });
            await userLock.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var open = new NpgsqlCommand(
            "SELECT count(*), min(expires_at) FROM x_oauth_states WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2", connection, transaction))
        {
            open.Parameters.Add(new NpgsqlParameter { Value = userId });
            open.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = now });
            await using var reader = await open.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            if (reader.GetInt64(0) >= MaxOpenConnects)
            {
                var wait = reader.GetFieldValue<DateTimeOffset>(1) - now;
                context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                return TypedResults.Problem(title: "Too many connections under way", statusCode: StatusCodes.Status429TooManyRequests,
                    detail: $"{MaxOpenConnects} connections started in the last {StateLifetime.TotalMinutes:0} minutes are not finished: finish one, or try again later.",
                    extensions: Code("too_many_connects"));
            }
        }

        await using (var command = new NpgsqlCommand("""
            INSERT INTO x_oauth_states (state_hash, user_id, code_verifier_protected, created_at, expires_at) VALUES ($1, $2, $3, $4, $5);
            """, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = StateHash(state) });
            command.Parameters.Add(new NpgsqlParameter { Value = userId });
            command.Parameters.Add(new NpgsqlParameter { Value = protector.Protect(verifier) });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = now });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = now + StateLifetime });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);

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

    /// <remarks>
    /// The flow ends where it started: with the signed-in user who asked for the authorize URL. X sends the browser to
    /// the frontend, which hands the code on with the user's session; a state started by someone else is refused. So
    /// an authorize URL sent to a victim (who approves on X) cannot link the victim's X account to the sender.
    /// </remarks>
    internal static async Task<Results<Ok<XAccountsApi.XAccountResponse>, ValidationProblem, ProblemHttpResult>> CallbackAsync(
        CallbackRequest request, ClaimsPrincipal principal, [AsParameters] CallbackServices services, CancellationToken cancellationToken)
    {
        if (!services.Options.Value.IsConfigured)
        {
            return NotConfigured();
        }

        if (string.IsNullOrEmpty(request.State) || request.State.Length > 512)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["state"] = ["state is required: pass on the state X returned."] });
        }

        // The state is taken whatever the outcome: a state is valid once.
        var userId = principal.ClerkUserId();
        var started = await TakeStateAsync(services, request.State, cancellationToken);
        if (started is null || started.Value.UserId != userId)
        {
            if (started is not null)
            {
                LogForeignState(services.Logger, userId);
            }

            return Refused("invalid_state", "The state is unknown, expired, already used, or was started by another user: start connecting again.");
        }

        if (!string.IsNullOrEmpty(request.Error))
        {
            return request.Error == "access_denied"
                ? Refused("access_denied", "The X account's owner did not authorize the app.")
                : Refused("x_error", "X did not authorize the app.");
        }

        if (string.IsNullOrEmpty(request.Code) || request.Code.Length > 1024)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["code"] = ["code is required: pass on the code X returned."] });
        }

        XTokens tokens;
        XUser xUser;
        try
        {
            tokens = await services.X.ExchangeCodeAsync(request.Code, services.Protector.Unprotect(started.Value.ProtectedVerifier), cancellationToken);
            xUser = await services.X.GetMeAsync(tokens.AccessToken!, cancellationToken);
        }
        catch (Exception e) when (e is XGrantRefusedException || XFailures.IsTransient(e, cancellationToken))
        {
            LogExchangeFailed(services.Logger, e.GetType().Name);
            return TypedResults.Problem(title: "X did not complete the connection", statusCode: StatusCodes.Status502BadGateway,
                detail: "Exchanging the code at X failed: start connecting again.", extensions: Code("token_exchange_failed"));
        }

        var account = await StoreAccountAsync(services, userId, xUser, tokens, cancellationToken);
        return account is null
            ? ApiProblems.NotFound("The user no longer exists.")
            : TypedResults.Ok(account);
    }

    private static ProblemHttpResult NotConfigured() => TypedResults.Problem(title: "X is not configured",
        detail: "Connecting X accounts needs X:ClientId and X:RedirectUri (see README).", statusCode: StatusCodes.Status503ServiceUnavailable);

    private static ProblemHttpResult Refused(string code, string detail) =>
        TypedResults.Problem(title: "The X account was not connected", detail: detail, statusCode: StatusCodes.Status400BadRequest, extensions: Code(code));

    /// <summary>A machine-readable reason next to the ProblemDetails' words, for the frontend to act on.</summary>
    private static Dictionary<string, object?> Code(string code) => new() { ["code"] = code };

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
    private static async Task<XAccountsApi.XAccountResponse?> StoreAccountAsync(
        CallbackServices services, string userId, XUser xUser, XTokens tokens, CancellationToken cancellationToken)
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
                                    access_token_expires_at, connected_at, updated_at, scopes)
            VALUES ($1, $2, $3, $4, 'connected', $5, $6, $7, $8, $8, $9)
            ON CONFLICT (user_id, x_user_id) DO UPDATE SET
                username = excluded.username, status = 'connected', access_token_protected = excluded.access_token_protected,
                refresh_token_protected = COALESCE(excluded.refresh_token_protected, x_accounts.refresh_token_protected),
                access_token_expires_at = excluded.access_token_expires_at, connected_at = excluded.connected_at,
                updated_at = excluded.updated_at, scopes = excluded.scopes
            RETURNING id, connected_at
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
        // What X granted, which can be less than asked (media.write for accounts connected before it was asked for).
        upsert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)tokens.Scope ?? DBNull.Value });
        Guid id;
        DateTimeOffset connectedAt;
        await using (var reader = await upsert.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            (id, connectedAt) = (reader.GetGuid(0), reader.GetFieldValue<DateTimeOffset>(1));
        }

        await transaction.CommitAsync(cancellationToken);
        return new XAccountsApi.XAccountResponse(id, xUser.Id, xUser.Username, Data.XAccountStatus.Connected, connectedAt);
    }

    /// <summary>States are stored hashed: reading the table does not let anyone finish a flow.</summary>
    private static string StateHash(string state) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(state)));

    private static string Base64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "User {UserId} sent a connection state that another user started (a phished authorize URL?): refused")]
    private static partial void LogForeignState(ILogger logger, string userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connecting an X account failed at X: {Error}")]
    private static partial void LogExchangeFailed(ILogger logger, string error);
}
