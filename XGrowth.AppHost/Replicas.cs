using Microsoft.Extensions.Configuration;

namespace XGrowth.AppHost;

/// <summary>How many processes of a service run: <c>Api:Replicas</c>, <c>Worker:Replicas</c>.</summary>
public static class Replicas
{
    /// <summary>
    /// Runs <c>{key}</c> replicas of the service (default 1). Published, the count is also a parameter of the manifest
    /// (<c>api-replicas</c>, <c>worker-replicas</c>, with the configured count as its default): the manifest format
    /// has no replica count of its own, and the deployment's scale rule is set from it (docs/deploy.md).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithReplicas(this IResourceBuilder<ProjectResource> service, IDistributedApplicationBuilder builder, string key)
    {
        var replicas = builder.Configuration.GetValue(key, 1);
        if (replicas is < 1 or > 100)
        {
            throw new DistributedApplicationException($"{key} is {replicas}; it must be between 1 and 100.");
        }

        if (builder.ExecutionContext.IsPublishMode)
        {
            builder.AddParameter(ServiceSetting.ParameterNameOf(key), replicas.ToString(System.Globalization.CultureInfo.InvariantCulture), publishValueAsDefault: true)
                .WithDescription($"How many {service.Resource.Name} processes the deployment runs.");
        }

        return service.WithReplicas(replicas);
    }
}
