using XGrowth.X;

namespace XGrowth.Worker.Publishing;

public static class PublishingRegistration
{
    public static WebApplicationBuilder AddPublishing(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<PublishingOptions>().BindConfiguration(PublishingOptions.Section).ValidateDataAnnotations()
            .Validate(settings => settings.Lookahead < settings.Lease,
                "PostPublishing:Lookahead must be shorter than PostPublishing:Lease: a post claimed ahead must be able to start within its lease.")
            .Validate<Microsoft.Extensions.Options.IOptions<HostOptions>>((settings, host) => settings.ShutdownGrace < host.Value.ShutdownTimeout,
                "PostPublishing:ShutdownGrace must be shorter than HostOptions:ShutdownTimeout: on stop the worker lets requests in flight finish, then gives back the claims it has not sent, all before the host gives up.")
            .ValidateOnStart();
        var requestTimeout = builder.Configuration.GetValue<TimeSpan?>($"{PublishingOptions.Section}:{nameof(PublishingOptions.RequestTimeout)}")
            ?? new PublishingOptions().RequestTimeout;
        builder.AddXPostClient(requestTimeout);
        // An image is up to 5 MB in one request, a GIF's piece 1 MiB: more time than a post's few hundred bytes.
        builder.AddXMediaClient(requestTimeout * 4);
        builder.Services.AddSingleton<DuePostClaimer>();
        builder.Services.AddSingleton<PostPublisher>();
        builder.Services.AddHostedService<PublishingService>();
        return builder;
    }
}
