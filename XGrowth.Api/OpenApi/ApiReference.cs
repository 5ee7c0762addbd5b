using Microsoft.AspNetCore.OpenApi;
using Scalar.AspNetCore;

namespace XGrowth.Api.OpenApi;

/// <summary>The OpenAPI document's introduction, and the interactive reference (Development) set up for this API.</summary>
public static class ApiReference
{
    /// <summary>What a frontend developer needs before the first call; the README says the same at more length.</summary>
    public const string Introduction = """
        The backend of XGrowth for its frontend.

        **Authentication.** Every call except the Clerk webhook receiver needs the signed-in user's Clerk session token:
        `Authorization: Bearer <token>` (from `getToken()`), or the `__session` cookie on the same origin (changes with
        the cookie only from the frontend's origin). Locally, without Clerk, get one from the Clerk stand-in:
        `curl -X POST http://localhost:8003/clerk/tokens -H 'content-type: application/json' -d '{"userId":"user_local_dev"}'`,
        then use **Authorize** (Bearer) here.

        **Errors** are ProblemDetails (`application/problem+json`); validation errors carry `errors` by field, refusals a
        `code` (`limit_reached`, `invalid_state`, ...). Another user's data answers 404, like missing data.

        **Times** are ISO 8601 with an offset (`2026-12-01T09:00:00+01:00`); the calendar groups by local day in an IANA
        time zone (`tz`, default UTC).

        **Limits.** 120 changes a minute per user (429 with Retry-After), 1,000 pending posts per X account and 5,000 per
        user, 10 X connections under way, 64 KiB bodies, 280 characters per post as X counts them.
        """;

    public static OpenApiOptions AddIntroduction(this OpenApiOptions options) =>
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "XGrowth API";
            document.Info.Description = Introduction;
            return Task.CompletedTask;
        });

    /// <summary>Scalar at <c>/scalar/v1</c>: the bearer scheme preselected, curl first, every tag open, no promotional toolbar or buttons, no AI agent, no telemetry.</summary>
    public static IEndpointConventionBuilder MapApiReference(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapScalarApiReference(options => options
            .WithTitle("XGrowth API")
            .AddPreferredSecuritySchemes([BearerSecuritySchemeTransformer.SchemeName])
            .EnablePersistentAuthentication()
            .WithDefaultHttpClient(ScalarTarget.Shell, ScalarClient.Curl)
            .HideClientButton()
            .HideDeveloperTools() // Configure, Share, Generate SDK, Deploy: Scalar's, not this API's
            .DisableTelemetry()
            .ExpandAllTags() // fifteen operations: all in view beats a click per tag
            .DisableAgent()
            .DisableMcp());
}
