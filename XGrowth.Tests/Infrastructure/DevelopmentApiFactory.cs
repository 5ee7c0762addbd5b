using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using XGrowth.Api.Development;

namespace XGrowth.Tests.Infrastructure;

/// <summary>
/// The API as a developer runs it on a fresh clone: Development, no Clerk instance and no webhook secret configured,
/// the local Clerk stand-in on, its key and secret in a directory of its own.
/// </summary>
public class DevelopmentApiFactory(TestPostgres postgres) : ApiFactory(postgres)
{
    public string LocalDataDirectory { get; } = Path.Combine(Path.GetTempPath(), "xgrowth-local-clerk-" + Guid.NewGuid().ToString("N")[..12]);

    protected override string? ConfiguredWebhookSecret => null;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseEnvironment("Development");
        builder.UseSetting("Clerk:Issuer", "");
        builder.UseSetting("Clerk:Local", "true");
        builder.UseSetting("Clerk:LocalDataDirectory", LocalDataDirectory);
        builder.UseSetting("Clerk:AuthorizedParties", "http://localhost:3000");
        // The API sends its test webhooks to itself over HTTP; in a test its "network" is the test server.
        builder.ConfigureTestServices(services => services.AddHttpClient(DevelopmentApi.SelfHttpClient)
            .ConfigureHttpClient(client => client.BaseAddress = new Uri("http://localhost"))
            .ConfigurePrimaryHttpMessageHandler(() => Server.CreateHandler()));
    }

    /// <summary>A client signed in with a token from the API's own <c>POST /dev/tokens</c>.</summary>
    public async Task<HttpClient> LocalClientForAsync(string userId)
    {
        var client = CreateClient();
        using var response = await client.PostAsync("/dev/tokens", System.Net.Http.Json.JsonContent.Create(new { userId }), TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        var token = (string)(await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>(
            response.Content, TestContext.Current.CancellationToken))!["token"]!;
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try
        {
            Directory.Delete(LocalDataDirectory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }

        GC.SuppressFinalize(this);
    }
}
