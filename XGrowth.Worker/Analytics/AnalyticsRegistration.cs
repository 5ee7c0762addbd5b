using XGrowth.X;

namespace XGrowth.Worker.Analytics;

public static class AnalyticsRegistration
{
    /// <summary>The analytics collector: a second background service beside publishing, with its own X client.</summary>
    public static WebApplicationBuilder AddAnalytics(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<AnalyticsOptions>().BindConfiguration(AnalyticsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var requestTimeout = builder.Configuration.GetValue<TimeSpan?>($"{AnalyticsOptions.Section}:{nameof(AnalyticsOptions.RequestTimeout)}")
            ?? new AnalyticsOptions().RequestTimeout;
        builder.AddXMetricsClient(requestTimeout);
        builder.Services.AddSingleton<AnalyticsStore>();
        builder.Services.AddSingleton<MetricsCollection>();
        builder.Services.AddHostedService<AnalyticsCollector>();
        return builder;
    }
}
