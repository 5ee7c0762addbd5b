using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using XGrowth.Api.Auth;
using XGrowth.Api.Http;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Api.XAccounts;

/// <summary>The signed-in user's connected X accounts.</summary>
public static partial class XAccountsApi
{
    /// <summary>An X account as the frontend sees it.</summary>
    public sealed record XAccountResponse(Guid Id, string XUserId, string Username, XAccountStatus Status, DateTimeOffset ConnectedAt)
    {
        /// <summary>For EF Core projections: reads only the columns the response needs.</summary>
        public static readonly System.Linq.Expressions.Expression<Func<XAccount, XAccountResponse>> FromEntity =
            a => new XAccountResponse(a.Id, a.XUserId, a.Username, a.Status, a.ConnectedAt);
    }

    public sealed record XAccountList(IReadOnlyList<XAccountResponse> Items, string? NextCursor);

    public static RouteGroupBuilder MapXAccountsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/x-accounts").WithTags("X accounts").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        group.MapGet("/", ListAsync).WithName("listXAccounts").WithSummary("List X accounts")
            .WithDescription("The user's X accounts, connected or needing reconnection (`needs_reconnect`); disconnected ones are not listed.");
        group.MapDelete("/{id:guid}", DisconnectAsync).WithName("disconnectXAccount").WithWriteRateLimit()
            .WithSummary("Disconnect an X account")
            .WithDescription("Revokes XGrowth's access at X and cancels the account's posts that have not started publishing.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    internal static async Task<Ok<XAccountList>> ListAsync(ClaimsPrincipal principal, XGrowthDbContext db, CancellationToken cancellationToken)
    {
        var userId = principal.ClerkUserId();
        var accounts = await db.XAccounts.AsNoTracking()
            .Where(a => a.UserId == userId && a.Status != XAccountStatus.Disconnected)
            .OrderBy(a => a.ConnectedAt).ThenBy(a => a.Id)
            .Select(XAccountResponse.FromEntity)
            .ToListAsync(cancellationToken);
        // A user has a handful of accounts: one page always holds them all.
        return TypedResults.Ok(new XAccountList(accounts, null));
    }

    public sealed record DisconnectServices(XGrowthDbContext Db, TimeProvider Time, XOAuthClient X, XTokenProtector Protector, ILogger<XAccountResponse> Logger);

    internal static async Task<Results<NoContent, ProblemHttpResult>> DisconnectAsync(
        Guid id, ClaimsPrincipal principal, [AsParameters] DisconnectServices services, CancellationToken cancellationToken)
    {
        var (db, time) = (services.Db, services.Time);
        var userId = principal.ClerkUserId();
        var now = time.GetUtcNow();
        var tokens = await db.XAccounts.AsNoTracking().Where(a => a.Id == id && a.UserId == userId)
            .Select(a => new { a.AccessTokenProtected, a.RefreshTokenProtected }).SingleOrDefaultAsync(cancellationToken);
        // One transaction: the account is disconnected and its pending posts cancelled together, or neither.
        var strategy = db.Database.CreateExecutionStrategy();
        var found = await strategy.ExecuteAsync(async ct =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            var updated = await db.XAccounts
                .Where(a => a.Id == id && a.UserId == userId && a.Status != XAccountStatus.Disconnected)
                .ExecuteUpdateAsync(set => set.SetProperty(a => a.Status, XAccountStatus.Disconnected).SetProperty(a => a.UpdatedAt, now)
                    .SetProperty(a => a.AccessTokenProtected, (string?)null).SetProperty(a => a.RefreshTokenProtected, (string?)null)
                    // Its queue is emptied below: a reconnected account's queue starts again from its first free slot.
                    .SetProperty(a => a.QueueFilledThrough, (DateTimeOffset?)null), ct);
            if (updated == 0)
            {
                return false;
            }

            await db.ScheduledPosts
                .Where(p => p.XAccountId == id && p.Status == ScheduledPostStatus.Scheduled)
                .ExecuteUpdateAsync(set => set.SetProperty(p => p.Status, ScheduledPostStatus.Cancelled).SetProperty(p => p.UpdatedAt, now), ct);
            await transaction.CommitAsync(ct);
            return true;
        }, cancellationToken);
        if (!found)
        {
            return ApiProblems.NotFound("X account not found.");
        }

        // Best effort, after the disconnect is committed: X being down must not keep the user connected.
        var refreshToken = tokens?.RefreshTokenProtected ?? tokens?.AccessTokenProtected;
        if (refreshToken is not null && services.X.IsConfigured)
        {
            try
            {
                await services.X.RevokeAsync(services.Protector.Unprotect(refreshToken),
                    tokens!.RefreshTokenProtected is null ? "access_token" : "refresh_token", cancellationToken);
            }
            catch (Exception e) when (XFailures.IsTransient(e, cancellationToken) || e is System.Security.Cryptography.CryptographicException)
            {
                LogRevokeFailed(services.Logger, id, e.GetType().Name);
            }
        }

        return TypedResults.NoContent();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Revoking the X token of disconnected account {AccountId} failed: {Error}")]
    private static partial void LogRevokeFailed(ILogger logger, Guid accountId, string error);
}
