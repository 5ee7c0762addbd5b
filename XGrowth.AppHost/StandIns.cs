using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace XGrowth.AppHost;

/// <summary>
/// Development only: the local stand-ins for Clerk and X (<c>XGrowth.DevStandIns</c>), added for whichever of the two
/// is not configured, and the settings that point the API and the worker at them. The services cannot tell: they are
/// given an issuer, a webhook secret, an X app and X's addresses, as they would be in production.
/// </summary>
public static class StandIns
{
    public const string ResourceName = "stand-ins";

    /// <summary>Whether the AppHost runs stand-ins: in Development, unless both Clerk and X are configured.</summary>
    public static bool AreNeeded(IDistributedApplicationBuilder builder) =>
        builder.ExecutionContext.IsRunMode && builder.Environment.IsDevelopment()
        && (!IsSet(builder, "Clerk:Issuer") || !IsSet(builder, "X:ClientId"));

    public static IResourceBuilder<ProjectResource> AddStandIns(this IDistributedApplicationBuilder builder,
        IResourceBuilder<ProjectResource> api, IResourceBuilder<ProjectResource> worker)
    {
        // Secrets the stand-ins and the services must agree on, kept across restarts so that webhooks, stored X tokens
        // and the signing key stay valid (the stand-ins keep their key and X's state in the same directory).
        var dataDirectory = builder.Configuration["StandIns:DataDirectory"] is { Length: > 0 } configured ? configured : DefaultDataDirectory();
        var standIns = builder.AddProject<Projects.XGrowth_DevStandIns>(ResourceName)
            .WithEnvironment("StandIns__DataDirectory", dataDirectory)
            .WithHttpHealthCheck("/health")
            .WithUrlForEndpoint("http", url => { url.Url = "/x/"; url.DisplayText = "Local X: latest posts"; });
        var self = standIns.GetEndpoint("http");
        var apiUrl = api.GetEndpoint("http");
        standIns.WithEnvironment("StandIns__BaseUrl", self).WithEnvironment("StandIns__ApiUrl", apiUrl);

        if (!IsSet(builder, "Clerk:Issuer"))
        {
            var secret = builder.Configuration["Clerk:WebhookSecret"] is { Length: > 0 } webhookSecret
                ? webhookSecret
                : LocalSecrets.ReadOrCreate(dataDirectory, "clerk-webhook-secret", LocalSecrets.NewWebhookSecret);
            standIns
                .WithEnvironment("StandIns__Clerk__WebhookUrl", ReferenceExpression.Create($"{apiUrl}/api/webhooks/clerk"))
                .WithEnvironment("StandIns__Clerk__WebhookSecret", secret)
                .WithEnvironment("StandIns__Clerk__SigningKeyPem", LocalSecrets.ReadOrCreate(dataDirectory, "clerk-signing-key.pem", LocalSecrets.NewSigningKeyPem));
            api.WithEnvironment("Clerk__Issuer", ReferenceExpression.Create($"{self}/clerk"))
                .WithEnvironment("Clerk__WebhookSecret", secret);
        }

        if (!IsSet(builder, "X:ClientId"))
        {
            var clientSecret = LocalSecrets.ReadOrCreate(dataDirectory, "x-client-secret", () => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)));
            // X sends the browser back to the frontend; locally the stand-ins' page plays the frontend's part.
            var redirectUri = ReferenceExpression.Create($"{self}/app/x-callback");
            standIns
                .WithEnvironment("StandIns__X__ClientId", LocalXClientId)
                .WithEnvironment("StandIns__X__ClientSecret", clientSecret)
                .WithEnvironment("StandIns__X__RedirectUri", redirectUri);
            foreach (var service in new[] { api, worker })
            {
                service
                    .WithEnvironment("X__ClientId", LocalXClientId)
                    .WithEnvironment("X__ClientSecret", clientSecret)
                    .WithEnvironment("X__ApiBaseUrl", ReferenceExpression.Create($"{self}/x"))
                    .WithEnvironment("X__WebUrl", ReferenceExpression.Create($"{self}/x"))
                    .WithEnvironment("X__AuthorizeUrl", ReferenceExpression.Create($"{self}/x/i/oauth2/authorize"))
                    .WithEnvironment("X__RedirectUri", redirectUri);
            }
        }

        // The API fetches the stand-in Clerk's keys when the first token arrives, and the worker publishes to the
        // stand-in X: both start once it answers.
        api.WaitFor(standIns);
        worker.WaitFor(standIns);
        return standIns;
    }

    public const string LocalXClientId = "xgrowth-local";

    public static string DefaultDataDirectory() => Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify),
        "xgrowth", "stand-ins");

    private static bool IsSet(IDistributedApplicationBuilder builder, string key) => !string.IsNullOrWhiteSpace(builder.Configuration[key]);
}
