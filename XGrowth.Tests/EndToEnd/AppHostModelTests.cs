extern alias apphost;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using apphost::XGrowth.AppHost;

namespace XGrowth.Tests.EndToEnd;

/// <summary>The AppHost's resource graph as built for an environment and settings, without starting anything.</summary>
public class AppHostModelTests
{
    private static async Task<IReadOnlyList<IResource>> ResourcesAsync(string environment, params string[] settings)
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Projects.XGrowth_AppHost>(
            ["Database:Mode=external", "ConnectionStrings:xgrowth=Host=localhost;Database=none", $"StandIns:DataDirectory={Path.GetTempPath()}xgrowth-model-{Guid.NewGuid():N}", .. settings],
            (options, hostSettings) =>
            {
                options.DisableDashboard = true;
                hostSettings.EnvironmentName = environment;
            }, TestContext.Current.CancellationToken);
        await using var app = await builder.BuildAsync(TestContext.Current.CancellationToken);
        return [.. app.Services.GetRequiredService<DistributedApplicationModel>().Resources];
    }

    private static async Task<Dictionary<string, string>> EnvironmentOfAsync(IResource resource)
    {
        var values = new Dictionary<string, string>();
        var context = new EnvironmentCallbackContext(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Run));
        foreach (var callback in resource.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            await callback.Callback(context);
        }

        foreach (var (key, value) in context.EnvironmentVariables)
        {
            values[key] = value switch
            {
                string text => text,
                IManifestExpressionProvider expression => expression.ValueExpression,
                _ => value?.ToString() ?? "",
            };
        }

        return values;
    }

    [Fact]
    public async Task Development_without_clerk_or_x_runs_the_stand_ins_with_the_walkthrough_commands_and_points_the_services_at_them()
    {
        var resources = await ResourcesAsync("Development");

        var standIns = Assert.Single(resources, r => r.Name == StandIns.ResourceName);
        Assert.Equal(DevelopmentCommands.All, standIns.Annotations.OfType<ResourceCommandAnnotation>().Select(c => c.Name).Where(DevelopmentCommands.All.Contains));
        var api = await EnvironmentOfAsync(resources.Single(r => r.Name == "api"));
        Assert.Contains("stand-ins", api["Clerk__Issuer"], StringComparison.Ordinal);
        Assert.StartsWith("whsec_", api["Clerk__WebhookSecret"], StringComparison.Ordinal);
        Assert.Equal(StandIns.LocalXClientId, api["X__ClientId"]);
        Assert.Contains("stand-ins", api["X__ApiBaseUrl"], StringComparison.Ordinal);
        var worker = await EnvironmentOfAsync(resources.Single(r => r.Name == "worker"));
        Assert.Contains("stand-ins", worker["X__ApiBaseUrl"], StringComparison.Ordinal);
        Assert.Equal(api["X__ClientSecret"], worker["X__ClientSecret"]);
    }

    [Fact]
    public async Task Development_with_clerk_and_x_configured_has_no_stand_ins()
    {
        var resources = await ResourcesAsync("Development",
            "Clerk:Issuer=https://example-42.clerk.accounts.dev", "X:ClientId=real-client", "X:RedirectUri=http://localhost:8002/api/x-accounts/callback");

        Assert.DoesNotContain(resources, r => r.Name == StandIns.ResourceName);
        var api = await EnvironmentOfAsync(resources.Single(r => r.Name == "api"));
        // The configured settings are passed as parameters, not pointed at a stand-in.
        Assert.Equal("{clerk-issuer.value}", api["Clerk__Issuer"]);
        Assert.DoesNotContain("X__ApiBaseUrl", api.Keys);
    }

    [Fact]
    public async Task Development_with_only_clerk_configured_stands_in_for_x_alone()
    {
        var resources = await ResourcesAsync("Development", "Clerk:Issuer=https://example-42.clerk.accounts.dev");

        Assert.Contains(resources, r => r.Name == StandIns.ResourceName);
        var api = await EnvironmentOfAsync(resources.Single(r => r.Name == "api"));
        Assert.Equal("{clerk-issuer.value}", api["Clerk__Issuer"]);
        Assert.DoesNotContain("Clerk__WebhookSecret", api.Keys);
        Assert.Contains("stand-ins", api["X__ApiBaseUrl"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Production")]
    [InlineData("Staging")]
    public async Task Outside_development_there_are_no_stand_ins_and_nothing_points_at_them(string environment)
    {
        var resources = await ResourcesAsync(environment);

        Assert.DoesNotContain(resources, r => r.Name == StandIns.ResourceName);
        Assert.DoesNotContain(resources.SelectMany(r => r.Annotations.OfType<ResourceCommandAnnotation>()), c => DevelopmentCommands.All.Contains(c.Name));
        foreach (var name in new[] { "api", "worker" })
        {
            var environmentVariables = await EnvironmentOfAsync(resources.Single(r => r.Name == name));
            Assert.DoesNotContain(environmentVariables.Values, value => value.Contains("stand-ins", StringComparison.Ordinal));
        }
    }
}
