using XGrowth.X;

namespace XGrowth.Worker.Publishing;

public static class PublishingRegistration
{
    public static WebApplicationBuilder AddPublishing(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<PublishingOptions>().BindConfiguration(PublishingOptions.Section).ValidateDataAnnotations()
            .Validate(settings => settings.Lookahead < settings.Lease,
                "Publishing:Lookahead must be shorter than Publishing:Lease: a post claimed ahead must be able to start within its lease.")
            .ValidateOnStart();
        var requestTimeout = builder.Configuration.GetValue<TimeSpan?>($"{PublishingOptions.Section}:{nameof(PublishingOptions.RequestTimeout)}")
            ?? new PublishingOptions().RequestTimeout;
        builder.AddXPostClient(requestTimeout);
        builder.Services.AddSingleton<DuePostClaimer>();
        builder.Services.AddSingleton<PostPublisher>();
        builder.Services.AddHostedService<PublishingService>();
        return builder;
    }
}
