using Microsoft.Extensions.Configuration;

namespace XGrowth.AppHost;

/// <summary>Hands the AppHost's settings for outside systems (Clerk, X) to the services that use them.</summary>
public static class OutsideSettings
{
    /// <summary>Keys whose values are credentials: passed as secret parameters, masked in the dashboard.</summary>
    private static readonly HashSet<string> SecretKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "Clerk:WebhookSecret",
        "Clerk:SecretKey",
        "X:ClientSecret",
    };

    /// <summary>
    /// Passes every key of the named configuration sections (from user secrets, appsettings or environment
    /// variables such as <c>Clerk__WebhookSecret</c>) to the resource as a parameter. A key that is not set is not
    /// passed, so the application still starts on a fresh clone and the service decides what a missing key means.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithOutsideSettings(
        this IResourceBuilder<ProjectResource> resource, IDistributedApplicationBuilder builder, params string[] sections)
    {
        foreach (var section in sections)
        {
            foreach (var setting in builder.Configuration.GetSection(section).AsEnumerable(makePathsRelative: false))
            {
                if (setting.Value is null)
                {
                    continue;
                }

                var parameterName = setting.Key.Replace(':', '-').ToLowerInvariant();
                var parameter = builder.Resources.OfType<ParameterResource>().FirstOrDefault(p => p.Name == parameterName) is { } existing
                    ? builder.CreateResourceBuilder(existing)
                    : builder.AddParameterFromConfiguration(parameterName, setting.Key, secret: SecretKeys.Contains(setting.Key));
                resource.WithEnvironment(setting.Key.Replace(":", "__", StringComparison.Ordinal), parameter);
            }
        }

        return resource;
    }
}
