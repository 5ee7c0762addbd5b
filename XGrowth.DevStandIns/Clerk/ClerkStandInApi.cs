using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace XGrowth.DevStandIns.Clerk;

/// <summary>The Clerk stand-in's HTTP face: its JWKS, a token endpoint for a user id, and a webhook sender.</summary>
public static partial class ClerkStandInApi
{
    

    public sealed record TokenRequest(string? UserId, int? ExpiresInMinutes);

    public sealed record IssuedToken(string Token, string UserId, DateTimeOffset ExpiresAt);

    public sealed record WebhookRequest(string? Type, string? UserId, string? Email, string? FirstName, string? LastName, string? Username);

    public sealed record SentWebhook(string Type, string UserId, string SvixId, int WebhookStatus, JsonNode? Response);

    public static void MapClerkStandIn(this IEndpointRouteBuilder endpoints)
    {
        var clerk = endpoints.MapGroup(ClerkStandIn.PathBase);
        clerk.MapGet("/.well-known/jwks.json", (ClerkStandIn standIn) => Results.Text(standIn.JwksJson(), "application/json"));
        clerk.MapPost("/tokens", IssueToken);
        clerk.MapPost("/webhooks", SendWebhookAsync);
    }

    internal static Results<Ok<IssuedToken>, ValidationProblem> IssueToken(TokenRequest request, ClerkStandIn clerk)
    {
        var errors = new Dictionary<string, string[]>();
        ValidateUserId(request.UserId, errors);
        var maxMinutes = (int)ClerkStandIn.MaxTokenLifetime.TotalMinutes;
        if (request.ExpiresInMinutes is < 1 || request.ExpiresInMinutes > maxMinutes)
        {
            errors["expiresInMinutes"] = [$"expiresInMinutes must be between 1 and {maxMinutes}."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var lifetime = request.ExpiresInMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : ClerkStandIn.DefaultTokenLifetime;
        return TypedResults.Ok(new IssuedToken(clerk.Mint(request.UserId!, lifetime), request.UserId!, DateTimeOffset.UtcNow + lifetime));
    }

    internal static async Task<Results<Ok<SentWebhook>, ValidationProblem, ProblemHttpResult>> SendWebhookAsync(
        WebhookRequest request, IOptions<StandInsOptions> options, IHttpClientFactory httpClients, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        ValidateUserId(request.UserId, errors);
        var type = request.Type ?? "user.created";
        if (type is not ("user.created" or "user.updated" or "user.deleted"))
        {
            errors["type"] = ["type must be user.created, user.updated or user.deleted."];
        }

        var settings = options.Value.Clerk;
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        if (string.IsNullOrWhiteSpace(settings.WebhookUrl) || string.IsNullOrWhiteSpace(settings.WebhookSecret))
        {
            return TypedResults.Problem(title: "Nowhere to send webhooks", statusCode: StatusCodes.Status503ServiceUnavailable,
                detail: "StandIns:Clerk:WebhookUrl and StandIns:Clerk:WebhookSecret must be set (the AppHost sets them).");
        }

        var userId = request.UserId!;
        var now = DateTimeOffset.UtcNow;
        var body = type == "user.deleted"
            ? ClerkSampleEvents.UserDeleted(userId, now)
            : ClerkSampleEvents.UserEvent(type, userId, request.Email ?? $"{userId}@example.com", now,
                request.FirstName ?? "Dev", request.LastName ?? "User", request.Username);
        var svixId = "msg_local_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        using var message = new HttpRequestMessage(HttpMethod.Post, settings.WebhookUrl) { Content = new ByteArrayContent(body) };
        message.Content.Headers.ContentType = new("application/json");
        foreach (var (name, value) in ClerkSampleEvents.SignedHeaders(settings.WebhookSecret, svixId, body, now))
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await httpClients.CreateClient(StandInsApp.OutgoingHttpClient).SendAsync(message, cancellationToken);
        JsonNode? answer;
        try
        {
            answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        }
        catch (System.Text.Json.JsonException)
        {
            answer = null;
        }

        return TypedResults.Ok(new SentWebhook(type, userId, svixId, (int)response.StatusCode, answer));
    }

    private static void ValidateUserId(string? userId, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrEmpty(userId))
        {
            errors["userId"] = ["userId is required, e.g. \"user_local_dev\"."];
        }
        else if (!UserId().IsMatch(userId))
        {
            errors["userId"] = ["userId must be 1 to 64 letters, digits, '_' or '-', e.g. \"user_local_dev\"."];
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex UserId();
}
