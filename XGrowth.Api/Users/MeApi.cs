using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using XGrowth.Api.Auth;
using XGrowth.Api.Http;
using XGrowth.Data;

namespace XGrowth.Api.Users;

/// <summary><c>GET /api/me</c>: the signed-in user's profile, as the Clerk webhooks last described it.</summary>
public static class MeApi
{
    public sealed record UserResponse(string Id, string? Email, string? FirstName, string? LastName, string? Username, string? ImageUrl);

    public static RouteGroupBuilder MapMeApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/me").WithTags("Users").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        group.MapGet("/", GetAsync).WithName("getCurrentUser").WithSummary("Get the signed-in user")
            .WithDescription("The signed-in user's profile from Clerk; its fields are null until Clerk's user.created webhook has arrived.");
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
}
