using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using XGrowth.Api.Auth;
using XGrowth.Api.Http;
using XGrowth.Api.OpenApi;
using XGrowth.Api.Queue;
using XGrowth.Data;

namespace XGrowth.Api.Users;

/// <summary><c>/api/me</c>: the signed-in user's profile (as the Clerk webhooks last described it) and settings.</summary>
public static class MeApi
{
    public sealed record UserResponse(string Id, string? Email, string? FirstName, string? LastName, string? Username, string? ImageUrl);

    /// <summary>The user's settings: <c>timeZone</c> (IANA, default UTC) is the zone of the default posting schedule.</summary>
    public sealed record SettingsResponse(string TimeZone);

    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record SettingsRequest(string? TimeZone);

    public static RouteGroupBuilder MapMeApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/me").WithTags("Users").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        group.MapGet("/", GetAsync).WithName("getCurrentUser").WithSummary("Get the signed-in user")
            .WithDescription("The signed-in user's profile from Clerk; its fields are null until Clerk's user.created webhook has arrived.");
        group.MapGet("/settings", GetSettingsAsync).WithName("getSettings").WithSummary("Get the user's settings")
            .WithDescription("The IANA time zone of the default posting schedule (`UTC` until set).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPut("/settings", PutSettingsAsync).WithName("setSettings").WithWriteRateLimit().WithJsonBodyLimit()
            .WithSummary("Set the user's settings")
            .WithDescription("Sets the user's IANA time zone; the queued posts of accounts on the default schedule are placed again in its slots.")
            .WithRequestExample(new System.Text.Json.Nodes.JsonObject { ["timeZone"] = "Europe/Berlin" })
            .ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    internal static async Task<Results<Ok<UserResponse>, ProblemHttpResult>> GetAsync(
        ClaimsPrincipal principal, XGrowthDbContext db, CancellationToken cancellationToken)
    {
        var userId = principal.ClerkUserId();
        var user = await db.Users.AsNoTracking()
            .Where(u => u.Id == userId && u.DeletedAt == null)
            .Select(u => new UserResponse(u.Id, u.Email, u.FirstName, u.LastName, u.Username, u.ImageUrl))
            .SingleOrDefaultAsync(cancellationToken);
        // Authentication made the row; it is gone only if the user was deleted in the meantime.
        return user is null ? ApiProblems.NotFound("User not found.") : TypedResults.Ok(user);
    }

    internal static async Task<Results<Ok<SettingsResponse>, ProblemHttpResult>> GetSettingsAsync(
        ClaimsPrincipal principal, XGrowthDbContext db, CancellationToken cancellationToken)
    {
        var userId = principal.ClerkUserId();
        var timeZone = await db.Users.AsNoTracking().Where(u => u.Id == userId && u.DeletedAt == null)
            .Select(u => u.TimeZone).SingleOrDefaultAsync(cancellationToken);
        return timeZone is null ? ApiProblems.NotFound("User not found.") : TypedResults.Ok(new SettingsResponse(timeZone));
    }

    internal static async Task<Results<Ok<SettingsResponse>, ValidationProblem, ProblemHttpResult>> PutSettingsAsync(
        SettingsRequest request, ClaimsPrincipal principal, XGrowthDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        if (PostingWeek.FindZone(request.TimeZone) is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["timeZone"] = [request.TimeZone is null ? "timeZone is required (an IANA time zone such as Europe/Berlin)."
                    : $"'{request.TimeZone}' is not an IANA time zone such as Europe/Berlin."],
            });
        }

        var userId = principal.ClerkUserId();
        var (saved, notFound) = await db.InTransactionAsync(async ct =>
        {
            var updated = await db.Users.Where(u => u.Id == userId && u.DeletedAt == null)
                .ExecuteUpdateAsync(set => set.SetProperty(u => u.TimeZone, request.TimeZone!), ct);
            if (updated == 0)
            {
                return ((SettingsResponse?)null, (ProblemHttpResult?)ApiProblems.NotFound("User not found."));
            }

            // The default schedule is in the user's time zone: its slots moved, and the queues on it follow.
            var onDefault = await db.XAccounts.Where(a => a.UserId == userId && a.Status != XAccountStatus.Disconnected && a.Schedule == null)
                .OrderBy(a => a.Id).Select(a => a.Id).ToListAsync(ct);
            foreach (var accountId in onDefault)
            {
                await QueueApi.PlaceAgainAsync(db, accountId, userId, time.GetUtcNow(), ct);
            }

            return (new SettingsResponse(request.TimeZone!), null);
        }, cancellationToken);
        return saved is not null ? TypedResults.Ok(saved) : notFound!;
    }
}
