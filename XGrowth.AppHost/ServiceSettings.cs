using Microsoft.Extensions.Configuration;

namespace XGrowth.AppHost;

/// <summary>
/// A setting a service reads, as the AppHost hands it over: a parameter of the model, so that a deployment tool asks
/// for it (masked when <paramref name="Secret"/>) or takes <paramref name="Default"/>.
/// </summary>
public sealed record ServiceSetting(string Key, string Description, bool Secret = false, string? Default = null)
{
    /// <summary>The parameter's name in the model and the manifest: the key in lower case, <c>:</c> as <c>-</c> (<c>clerk-webhooksecret</c>).</summary>
    public string ParameterName => ParameterNameOf(Key);

    public static string ParameterNameOf(string key) => key.Replace(':', '-').ToLowerInvariant();
}

/// <summary>The settings the API and the worker need in production, and how the AppHost passes them on.</summary>
public static class ServiceSettings
{
    private static readonly ServiceSetting XClientId = new("X:ClientId", "The X app's OAuth 2.0 client id (X developer portal, Keys and tokens).");
    private static readonly ServiceSetting XClientSecret = new("X:ClientSecret", "The X app's OAuth 2.0 client secret.", Secret: true);

    private static readonly ServiceSetting KeyRingCertificate = new("DataProtection:Certificate",
        "A certificate with its private key, PKCS#12 (.pfx, no password) in base64, that encrypts the Data Protection key ring stored in PostgreSQL (the keys that encrypt X tokens). Required in Production. See docs/deploy.md.",
        Secret: true);

    private static readonly ServiceSetting ShutdownTimeout = new("HostOptions:ShutdownTimeout",
        "How long a stopping process may take to finish its work (hh:mm:ss); keep it below the platform's grace period (30 s on Kubernetes and Azure Container Apps).",
        Default: "00:00:25");

    private static readonly ServiceSetting MaxPoolSize = new("ConnectionPool:MaxSize",
        "The most PostgreSQL connections one process opens. (API replicas + worker replicas) x this must stay below the server's max_connections (docs/deploy.md).",
        Default: "40");

    /// <summary>What the API needs: Clerk, the X app, the key ring's certificate, the proxies it trusts, its limits.</summary>
    public static readonly IReadOnlyList<ServiceSetting> Api =
    [
        new("Clerk:Issuer", "The Clerk instance's Frontend API URL (Clerk dashboard, API keys), e.g. https://clerk.example.com: the issuer of the session tokens the API accepts."),
        new("Clerk:AuthorizedParties", "The frontend's origins, comma- or space-separated (e.g. https://app.example.com): the allowed azp of session tokens and the CORS origins."),
        new("Clerk:WebhookSecret", "The Clerk webhook endpoint's signing secret, whsec_...; while rotating, the new and the old separated by a space.", Secret: true),
        XClientId,
        XClientSecret,
        new("X:RedirectUri", "The callback URL registered with the X app: the frontend's page that finishes connecting an account, e.g. https://app.example.com/x/callback."),
        KeyRingCertificate,
        new("ForwardedHeaders:KnownNetworks",
            "The proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: addresses or CIDR networks, comma- or space-separated (e.g. the platform ingress's subnet, 10.0.0.0/16). Empty: loopback only.",
            Default: ""),
        new("RateLimits:WritesPerMinute", "Changes (POST, PATCH, DELETE) one user may make per minute on one API replica.", Default: "120"),
        MaxPoolSize,
        ShutdownTimeout,
    ];

    /// <summary>What the worker needs: the X app (it refreshes tokens), the key ring's certificate, its publishing and analytics tuning.</summary>
    public static readonly IReadOnlyList<ServiceSetting> Worker =
    [
        XClientId,
        XClientSecret,
        KeyRingCertificate,
        new("PostPublishing:PollInterval", "How often a worker looks for due posts when nothing wakes it.", Default: "00:00:01"),
        new("PostPublishing:Lookahead", "Posts due this soon are claimed ahead and fired on a timer; shorter than the lease.", Default: "00:00:02"),
        new("PostPublishing:Lease", "How long a claim lasts unless its worker renews it; a dead worker's claims are recovered after it.", Default: "00:02:00"),
        new("PostPublishing:BatchSize", "Most posts one claim query takes.", Default: "200"),
        new("PostPublishing:MaxConcurrency", "Posts one worker holds at once (waiting for their time or in flight).", Default: "128"),
        new("PostPublishing:MaxAttempts", "Attempts before a post that X could not be reached for fails.", Default: "6"),
        new("PostPublishing:MissedAfter", "How late is too late to publish a post: it becomes missed.", Default: "01:00:00"),
        new("PostPublishing:ShutdownGrace", "On stop, how long requests in flight may finish; shorter than HostOptions:ShutdownTimeout.", Default: "00:00:10"),
        new("Analytics:SnapshotInterval", "How often each connected account's follower counts are read from X (accounts spread over it).", Default: "06:00:00"),
        new("Analytics:MaxReadsPerDay", "Reads of X per UTC day for analytics, all worker replicas together (X bills reads).", Default: "50000"),
        MaxPoolSize,
        ShutdownTimeout,
    ];

    /// <summary>
    /// Passes <paramref name="declared"/> settings to the service as parameters, and every other key that is set in
    /// the same configuration sections (user secrets, appsettings, environment variables such as
    /// <c>Clerk__WebhookSecret</c>). Run, only what is set is passed, so the application starts on a fresh clone and
    /// the service decides what a missing key means. Published, every declared setting is a parameter of the
    /// manifest, so the deployment asks for it (or takes its default); no value of a secret is ever written there.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithSettings(
        this IResourceBuilder<ProjectResource> service, IDistributedApplicationBuilder builder, IReadOnlyList<ServiceSetting> declared)
    {
        var byKey = declared.ToDictionary(setting => setting.Key, StringComparer.OrdinalIgnoreCase);
        var keys = new List<string>();
        if (builder.ExecutionContext.IsPublishMode)
        {
            keys.AddRange(declared.Select(setting => setting.Key));
        }

        foreach (var section in declared.Select(setting => setting.Key.Split(':')[0]).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            keys.AddRange(builder.Configuration.GetSection(section).AsEnumerable(makePathsRelative: false)
                .Where(setting => setting.Value is not null)
                .Select(setting => setting.Key));
        }

        foreach (var key in keys.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            var setting = byKey.GetValueOrDefault(key) ?? new ServiceSetting(key, $"{key} (set in the AppHost's configuration).", Secret: LooksSecret(key));
            service.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), ParameterFor(builder, setting));
        }

        return service;
    }

    /// <summary>The setting's parameter, made once and shared by every service that reads the setting.</summary>
    private static IResourceBuilder<ParameterResource> ParameterFor(IDistributedApplicationBuilder builder, ServiceSetting setting)
    {
        if (builder.Resources.OfType<ParameterResource>().FirstOrDefault(p => p.Name == setting.ParameterName) is { } existing)
        {
            return builder.CreateResourceBuilder(existing);
        }

        var parameter = setting.Default is { } defaultValue && !setting.Secret
            // A tuning value: the deployment takes the configured value, or the service's own default, unless told otherwise.
            ? builder.AddParameter(setting.ParameterName, builder.Configuration[setting.Key] ?? defaultValue, publishValueAsDefault: true)
            : builder.AddParameterFromConfiguration(setting.ParameterName, setting.Key, secret: setting.Secret);
        return parameter.WithDescription(setting.Description);
    }

    private static bool LooksSecret(string key) =>
        key.Contains("Secret", StringComparison.OrdinalIgnoreCase) || key.Contains("Password", StringComparison.OrdinalIgnoreCase)
        || key.Contains("Certificate", StringComparison.OrdinalIgnoreCase);
}
