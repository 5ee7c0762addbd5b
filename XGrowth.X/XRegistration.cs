using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Hosting;
using Polly;
using XGrowth.Data;

namespace XGrowth.X;

public static class XRegistration
{
    /// <summary>
    /// Registers what both services need to act for X accounts: the <c>X</c> options, Data Protection with its key
    /// ring in PostgreSQL (one ring for every replica, encrypted with <c>DataProtection:Certificate</c>), the OAuth
    /// client and the access token service.
    /// </summary>
    public static TBuilder AddXAccountTokens<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<XOptions>().BindConfiguration(XOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddDataProtection().SetApplicationName("XGrowth").PersistKeysToDbContext<XGrowthDbContext>()
            .ProtectKeysWithConfiguredCertificate(builder.Configuration, builder.Environment);
        builder.Services.AddSingleton<XTokenProtector>();
        builder.Services.AddSingleton<XPostLinks>();
        // A token request must not be retried blindly: a refresh token is single-use, so a retry after a lost answer
        // would present a dead token and log the account out. (RemoveAllResilienceHandlers is marked experimental; it
        // is how the resilience package replaces the service defaults for one client.)
#pragma warning disable EXTEXP0001
        builder.Services.AddHttpClient<XOAuthClient>().RemoveAllResilienceHandlers().AddStandardResilienceHandler(resilience =>
#pragma warning restore EXTEXP0001
        {
            resilience.Retry.DisableForUnsafeHttpMethods();
            resilience.AttemptTimeout.Timeout = TimeSpan.FromSeconds(10);
            resilience.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(20);
        });
        builder.Services.AddScoped<XAccessTokens>();
        return builder;
    }

    /// <summary>
    /// Registers <see cref="XPostClient"/>. Its requests are never retried: X has no idempotency key, so a retried
    /// POST could publish twice; the caller classifies every failure itself. <paramref name="requestTimeout"/> bounds
    /// one request.
    /// </summary>
    public static TBuilder AddXPostClient<TBuilder>(this TBuilder builder, TimeSpan requestTimeout) where TBuilder : IHostApplicationBuilder
    {
#pragma warning disable EXTEXP0001 // RemoveAllResilienceHandlers: see AddXAccountTokens.
        builder.Services.AddHttpClient<XPostClient>().RemoveAllResilienceHandlers().AddStandardResilienceHandler(resilience =>
#pragma warning restore EXTEXP0001
        {
            resilience.Retry.MaxRetryAttempts = 1;
            resilience.Retry.DisableForUnsafeHttpMethods();
            resilience.AttemptTimeout.Timeout = requestTimeout;
            resilience.TotalRequestTimeout.Timeout = requestTimeout + TimeSpan.FromSeconds(5);
            resilience.CircuitBreaker.SamplingDuration = (requestTimeout * 2) + TimeSpan.FromSeconds(10);
        });
        return builder;
    }

    /// <summary>
    /// Registers <see cref="XMediaClient"/>: one attempt per request, bounded by <paramref name="requestTimeout"/> (an
    /// image's upload is a request of up to 5 MB). It is not retried here: its body is read from the database as it is
    /// sent, and the worker retries a failed upload later, with back-off, since no post exists yet.
    /// </summary>
    public static TBuilder AddXMediaClient<TBuilder>(this TBuilder builder, TimeSpan requestTimeout) where TBuilder : IHostApplicationBuilder
    {
#pragma warning disable EXTEXP0001 // RemoveAllResilienceHandlers: see AddXAccountTokens.
        builder.Services.AddHttpClient<XMediaClient>().RemoveAllResilienceHandlers()
#pragma warning restore EXTEXP0001
            .AddResilienceHandler("x-media", pipeline => pipeline.AddTimeout(requestTimeout));
        return builder;
    }

    /// <summary>
    /// Registers <see cref="XMetricsClient"/>: one attempt per request, bounded by <paramref name="requestTimeout"/>,
    /// never retried (every read is billed and was reserved in the daily budget before it left).
    /// </summary>
    public static TBuilder AddXMetricsClient<TBuilder>(this TBuilder builder, TimeSpan requestTimeout) where TBuilder : IHostApplicationBuilder
    {
#pragma warning disable EXTEXP0001 // RemoveAllResilienceHandlers: see AddXAccountTokens.
        builder.Services.AddHttpClient<XMetricsClient>().RemoveAllResilienceHandlers()
#pragma warning restore EXTEXP0001
            .AddResilienceHandler("x-metrics", pipeline => pipeline.AddTimeout(requestTimeout));
        return builder;
    }
}
