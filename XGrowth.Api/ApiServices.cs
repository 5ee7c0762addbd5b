using XGrowth.Api.Webhooks;
using XGrowth.Data;

namespace XGrowth.Api;

/// <summary>Everything the API registers besides the service defaults.</summary>
public static class ApiServices
{
    public static WebApplicationBuilder AddApiServices(this WebApplicationBuilder builder)
    {
        builder.AddXGrowthDatabase();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi();
        builder.Services.AddClerkWebhooks();
        return builder;
    }
}
