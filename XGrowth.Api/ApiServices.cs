using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;
using XGrowth.Api.Auth;
using XGrowth.Api.Events;
using XGrowth.Api.Http;
using XGrowth.Api.Media;
using XGrowth.Api.OpenApi;
using XGrowth.Api.Webhooks;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Api;

/// <summary>Everything the API registers besides the service defaults.</summary>
public static class ApiServices
{
    public const string FrontendCorsPolicy = "frontend";

    public static WebApplicationBuilder AddApiServices(this WebApplicationBuilder builder)
    {
        builder.AddXGrowthDatabase();
        builder.AddXAccountTokens();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddOptions<Posts.PostLimitsOptions>().BindConfiguration(Posts.PostLimitsOptions.Section)
            .ValidateDataAnnotations().ValidateOnStart();

        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<BadRequestExceptionHandler>();
        // Unreadable requests throw, so that BadRequestExceptionHandler can say what was wrong in a ProblemDetails.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.Configure<JsonOptions>(options =>
        {
            options.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default);
            options.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
            // A number is a JSON number: "5" is refused (the web default reads it), and the OpenAPI document says integer, not integer-or-string.
            options.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });

        builder.Services.AddOpenApi(options => options.AddDocumentTransformer<BearerSecuritySchemeTransformer>().AddIntroduction().AddContractRules());

        builder.AddClerkAuthentication();
        var origins = builder.Configuration.GetSection(ClerkAuthOptions.Section).Get<ClerkAuthOptions>()?.AuthorizedPartyList() ?? [];
        builder.Services.AddCors(cors => cors.AddPolicy(FrontendCorsPolicy, policy => policy
            .WithOrigins([.. origins])
            .WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
            .WithHeaders("Authorization", "Content-Type", "Last-Event-ID")
            .AllowCredentials()));

        builder.Services.AddClerkWebhooks(builder.Environment);
        builder.AddWriteRateLimits();
        builder.AddUserEvents();
        builder.AddMedia();
        return builder;
    }
}
