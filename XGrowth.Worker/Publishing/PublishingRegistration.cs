using Microsoft.Extensions.Http.Resilience;
using XGrowth.Data.X;

namespace XGrowth.Worker.Publishing;

public static class PublishingRegistration
{
    public static WebApplicationBuilder AddPublishing(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<PublishingOptions>().BindConfiguration(PublishingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var environment = builder.Environment;
        builder.Services.AddOptions<XOptions>()
            .Validate(x => x.SandboxApiBaseUrl is null || environment.IsDevelopment(),
                $"X:SandboxApiBaseUrl is set, but the environment is {environment.EnvironmentName}: the X sandbox is for Development only. Remove the setting.")
            .ValidateOnStart();
        // No retries: X has no idempotency key, so a retried POST could publish twice. The worker classifies every
        // failure itself. (RemoveAllResilienceHandlers is marked experimental; it replaces the service defaults here.)
#pragma warning disable EXTEXP0001
        var requestTimeout = builder.Configuration.GetValue<TimeSpan?>($"{PublishingOptions.Section}:{nameof(PublishingOptions.RequestTimeout)}")
            ?? new PublishingOptions().RequestTimeout;
        builder.Services.AddHttpClient<XPostClient>().RemoveAllResilienceHandlers().AddStandardResilienceHandler(resilience =>
#pragma warning restore EXTEXP0001
        {
            resilience.Retry.MaxRetryAttempts = 1;
            resilience.Retry.DisableForUnsafeHttpMethods();
            resilience.AttemptTimeout.Timeout = requestTimeout;
            resilience.TotalRequestTimeout.Timeout = requestTimeout + TimeSpan.FromSeconds(5);
            resilience.CircuitBreaker.SamplingDuration = (requestTimeout * 2) + TimeSpan.FromSeconds(10);
        });
        builder.Services.AddSingleton<DuePostClaimer>();
        builder.Services.AddSingleton<PostPublisher>();
        builder.Services.AddHostedService<PublishingService>();
        return builder;
    }
}
