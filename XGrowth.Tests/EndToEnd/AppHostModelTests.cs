extern alias apphost;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using apphost::XGrowth.AppHost;

namespace XGrowth.Tests.EndToEnd;

/// <summary>The AppHost's resource graph as built for an environment, without starting anything.</summary>
public class AppHostModelTests
{
    private static async Task<IResource> ApiResourceAsync(string environment)
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Projects.XGrowth_AppHost>(
            ["Database:Mode=external", "ConnectionStrings:xgrowth=Host=localhost;Database=none"],
            (options, settings) =>
            {
                options.DisableDashboard = true;
                settings.EnvironmentName = environment;
            }, TestContext.Current.CancellationToken);
        await using var app = await builder.BuildAsync(TestContext.Current.CancellationToken);
        return app.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == "api");
    }

    private static string[] OurCommands(IResource api) =>
    [
        .. api.Annotations.OfType<ResourceCommandAnnotation>().Select(c => c.Name)
            .Where(name => name is DevelopmentCommands.SendTestUserCreated or DevelopmentCommands.IssueLocalToken
                or DevelopmentCommands.AddSandboxXAccount or DevelopmentCommands.ScheduleTestPost),
    ];

    [Fact]
    public async Task The_api_has_the_walkthrough_commands_in_development()
    {
        var api = await ApiResourceAsync("Development");
        Assert.Equal(
            [DevelopmentCommands.SendTestUserCreated, DevelopmentCommands.IssueLocalToken, DevelopmentCommands.AddSandboxXAccount, DevelopmentCommands.ScheduleTestPost],
            OurCommands(api));
    }

    [Theory]
    [InlineData("Production")]
    [InlineData("Staging")]
    public async Task The_api_has_no_walkthrough_commands_elsewhere(string environment)
    {
        Assert.Empty(OurCommands(await ApiResourceAsync(environment)));
    }
}
