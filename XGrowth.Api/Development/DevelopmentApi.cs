using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using XGrowth.Api.Auth;
using XGrowth.Api.Http;
using XGrowth.Api.Webhooks;
using XGrowth.Api.XAccounts;
using XGrowth.Data;
using XGrowth.Data.X;

namespace XGrowth.Api.Development;

/// <summary>
/// <c>/dev/...</c>: what a developer needs to try the whole flow without a Clerk instance or an X app: local session
/// tokens, a signed test <c>user.created</c>, sandbox X accounts and the X sandbox they publish to. Mapped only in
/// Development, and answered only to requests made on this machine (never through a tunnel such as ngrok).
/// </summary>
public static partial class DevelopmentApi
{
    /// <summary>The client the API sends test webhooks to itself with, through its real HTTP pipeline.</summary>
    public const string SelfHttpClient = "xgrowth-self";

    public static WebApplicationBuilder AddDevelopmentApi(this WebApplicationBuilder builder)
    {
        if (!builder.Environment.IsDevelopment())
        {
            return builder;
        }

        builder.Services.AddSingleton<XSandbox>();
        builder.Services.AddHttpClient(SelfHttpClient, (services, client) =>
        {
            if (OwnAddress(services.GetRequiredService<IServer>()) is { } address)
            {
                client.BaseAddress = address;
            }
        });
        return builder;
    }

    public static void MapDevelopmentApi(this WebApplication app)
    {
        if (!app.Environment.IsDevelopment())
        {
            return;
        }

        var group = app.MapGroup("/dev").WithTags("Development").WithJsonBodyLimit().AddEndpointFilter(OnlyFromThisMachine);
        group.MapPost("/tokens", IssueToken).WithName("IssueLocalToken").AllowAnonymous()
            .WithSummary("Issues a local session token for a user id (local sign-in: Development without Clerk:Issuer).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/clerk/user-created", SendUserCreatedAsync).WithName("SendTestUserCreated").AllowAnonymous()
            .WithSummary("Signs a test user.created event with the webhook secret and sends it to /api/webhooks/clerk.")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        group.MapPost("/sandbox/x-accounts", AddSandboxAccountAsync).WithName("AddSandboxXAccount").RequireAuthorization()
            .WithSummary("Adds (or returns) a sandbox X account of the signed-in user: its posts go to the local X sandbox, not X.")
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        XSandbox.Map(group.MapGroup("/x-sandbox"));
    }

    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record IssueTokenRequest(string? UserId, int? ExpiresInMinutes);

    public sealed record IssuedToken(string Token, string UserId, DateTimeOffset ExpiresAt);

    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record SendUserCreatedRequest(string? UserId, string? Email, string? FirstName, string? LastName, string? Username);

    public sealed record SentWebhook(string UserId, string SvixId, int WebhookStatus, string? Outcome);

    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record AddSandboxAccountRequest(string? Username);

    internal static Results<Ok<IssuedToken>, ValidationProblem, ProblemHttpResult> IssueToken(IssueTokenRequest request, LocalClerk local)
    {
        if (!local.IssuesTokens)
        {
            return ApiProblems.NotFound(local.WhyNoTokens!);
        }

        var errors = new Dictionary<string, string[]>();
        ValidateUserId(request.UserId, errors);
        var maxMinutes = (int)LocalClerk.MaxTokenLifetime.TotalMinutes;
        if (request.ExpiresInMinutes is < 1 || request.ExpiresInMinutes > maxMinutes)
        {
            errors["expiresInMinutes"] = [$"expiresInMinutes must be between 1 and {maxMinutes}."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var lifetime = request.ExpiresInMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : LocalClerk.DefaultTokenLifetime;
        var (token, expiresAt) = local.IssueSessionToken(request.UserId!, lifetime);
        return TypedResults.Ok(new IssuedToken(token, request.UserId!, expiresAt));
    }

    public sealed record WebhookSenders(
        LocalClerk Local, IOptions<ClerkWebhookOptions> Options, IHttpClientFactory HttpClients, TimeProvider Time);

    internal static async Task<Results<Ok<SentWebhook>, ValidationProblem, ProblemHttpResult>> SendUserCreatedAsync(
        SendUserCreatedRequest request, [AsParameters] WebhookSenders services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        ValidateUserId(request.UserId, errors);
        foreach (var (name, value) in new[] { ("email", request.Email), ("firstName", request.FirstName), ("lastName", request.LastName), ("username", request.Username) })
        {
            if (value is { Length: > 200 })
            {
                errors[name] = [$"{name} must be at most 200 characters."];
            }
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var secret = services.Local.SignsWebhooks ? services.Local.WebhookSecret : services.Options.Value.WebhookSecret;
        var client = services.HttpClients.CreateClient(SelfHttpClient);
        if (string.IsNullOrWhiteSpace(secret) || client.BaseAddress is null)
        {
            return TypedResults.Problem(title: "Cannot send a test webhook", statusCode: StatusCodes.Status503ServiceUnavailable,
                detail: string.IsNullOrWhiteSpace(secret)
                    ? "No webhook secret: set Clerk:WebhookSecret, or turn Clerk:Local on for a local one."
                    : "The API does not know its own address.");
        }

        var userId = request.UserId!;
        var body = ClerkSampleEvents.UserEvent("user.created", userId, request.Email ?? $"{userId}@example.com", services.Time.GetUtcNow(),
            request.FirstName ?? "Dev", request.LastName ?? "User", request.Username);
        var svixId = "msg_local_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        using var message = new HttpRequestMessage(HttpMethod.Post, "/api/webhooks/clerk") { Content = new ByteArrayContent(body) };
        message.Content.Headers.ContentType = new("application/json");
        foreach (var (name, value) in ClerkSampleEvents.SignedHeaders(secret, svixId, body, services.Time.GetUtcNow()))
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await client.SendAsync(message, cancellationToken);
        string? outcome = null;
        if (response.IsSuccessStatusCode)
        {
            var receipt = await response.Content.ReadFromJsonAsync(ApiJsonContext.Default.WebhookReceipt, cancellationToken);
            outcome = receipt?.Outcome;
        }

        return TypedResults.Ok(new SentWebhook(userId, svixId, (int)response.StatusCode, outcome));
    }

    public sealed record SandboxServices(XGrowthDbContext Db, XTokenProtector Protector, TimeProvider Time);

    internal static async Task<Results<Created<XAccountsApi.XAccountResponse>, Ok<XAccountsApi.XAccountResponse>, ValidationProblem>> AddSandboxAccountAsync(
        AddSandboxAccountRequest? request, ClaimsPrincipal principal, [AsParameters] SandboxServices services, CancellationToken cancellationToken)
    {
        var username = request?.Username ?? "sandbox_dev";
        if (!XUsername().IsMatch(username))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["username"] = ["username must be 1 to 15 letters, digits or underscores, as on X."],
            });
        }

        var userId = principal.ClerkUserId();
        var xUserId = "sandbox:" + username.ToLowerInvariant();
        var now = services.Time.GetUtcNow();
        // A random token the sandbox accepts; stored encrypted like a real one, and far from expiring, so that the
        // worker never tries to refresh it at X.
        var token = services.Protector.Protect(XSandbox.TokenPrefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)));
        // One statement: a new account, or the existing one (reconnected if it was disconnected) with a fresh token.
        var existed = await services.Db.XAccounts.AnyAsync(a => a.UserId == userId && a.XUserId == xUserId && a.Status != XAccountStatus.Disconnected, cancellationToken);
        await services.Db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO x_accounts (id, user_id, x_user_id, username, status, sandbox, access_token_protected, access_token_expires_at, connected_at, updated_at)
            VALUES ({Guid.CreateVersion7(now)}, {userId}, {xUserId}, {username}, 'connected', true, {token}, {now.AddYears(100)}, {now}, {now})
            ON CONFLICT (user_id, x_user_id) DO UPDATE SET
                status = 'connected', sandbox = true, access_token_protected = EXCLUDED.access_token_protected,
                access_token_expires_at = EXCLUDED.access_token_expires_at, refresh_token_protected = NULL,
                connected_at = CASE WHEN x_accounts.status = 'disconnected' THEN EXCLUDED.connected_at ELSE x_accounts.connected_at END,
                updated_at = EXCLUDED.updated_at
            """, cancellationToken);
        var account = await services.Db.XAccounts.AsNoTracking()
            .Where(a => a.UserId == userId && a.XUserId == xUserId)
            .Select(XAccountsApi.XAccountResponse.FromEntity)
            .SingleAsync(cancellationToken);
        return existed ? TypedResults.Ok(account) : TypedResults.Created("/api/x-accounts", account);
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

    /// <summary>
    /// The development endpoints mint tokens for anyone: they answer only requests made on this machine, and not those
    /// relayed by a tunnel (which connects from this machine too, but says where the request came from).
    /// </summary>
    private static async ValueTask<object?> OnlyFromThisMachine(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var remote = http.Connection.RemoteIpAddress;
        var relayed = http.Request.Headers.ContainsKey("X-Forwarded-For") || http.Request.Headers.ContainsKey("Forwarded")
            || http.Request.Headers.ContainsKey("X-Forwarded-Host");
        var localHost = http.Request.Host.Host is "localhost" or "127.0.0.1" or "[::1]" or "::1";
        if ((remote is not null && !IPAddress.IsLoopback(remote)) || relayed || !localHost)
        {
            return ApiProblems.NotFound("Not found.");
        }

        return await next(context);
    }

    /// <summary>This API's own HTTP address (a wildcard host becomes localhost); null when not listening on a socket (tests).</summary>
    private static Uri? OwnAddress(IServer server)
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var address = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.FirstOrDefault();
        if (address is null)
        {
            return null;
        }

        var uri = new UriBuilder(address.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal));
        if (uri.Host is "0.0.0.0" or "[::]" or "::")
        {
            uri.Host = "localhost";
        }

        return uri.Uri;
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex UserId();

    [GeneratedRegex("^[A-Za-z0-9_]{1,15}$")]
    private static partial Regex XUsername();
}
