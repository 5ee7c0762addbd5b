using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Http;

/// <summary>What a developer meets on a first run: no false errors, links that lead somewhere, a 401 that says what to do.</summary>
public class FirstRunTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Migrating_a_fresh_database_logs_no_error()
    {
        // The factory's database was empty when the API started and migrated it.
        Assert.DoesNotContain(api.Logs.Lines, line => line.StartsWith("Error", StringComparison.Ordinal) || line.StartsWith("Critical", StringComparison.Ordinal));
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM pg_tables WHERE tablename = 'scheduled_posts'"));
    }

    [Fact]
    public async Task In_development_a_401_says_how_to_get_a_token_from_the_local_clerk()
    {
        await using var development = api.WithWebHostBuilder(builder => builder.UseEnvironment("Development"));
        using var client = development.CreateClient();

        using var none = await client.GetAsync("/api/me", Ct);
        var problem = (await none.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        using var bad = new HttpRequestMessage(HttpMethod.Get, "/api/me") { Headers = { { "Authorization", "Bearer not-a-token" } } };
        using var rejected = await client.SendAsync(bad, Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Bearer", none.Headers.WwwAuthenticate.ToString());
        Assert.Equal("application/problem+json", none.Content.Headers.ContentType?.MediaType);
        Assert.Contains("No session token was sent", (string?)problem["detail"], StringComparison.Ordinal);
        Assert.Contains(api.Clerk.Issuer + "/tokens", (string?)problem["detail"], StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, rejected.StatusCode);
        Assert.Contains("was not accepted", await rejected.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Outside_development_a_401_says_nothing_about_tokens()
    {
        using var client = api.CreateClient();

        using var none = await client.GetAsync("/api/me", Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Bearer", none.Headers.WwwAuthenticate.ToString());
        // The generic status page only: nothing on how tokens are made or why this one failed.
        var body = await none.Content.ReadAsStringAsync(Ct);
        Assert.DoesNotContain("token", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(api.Clerk.Issuer, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_api_description_opens_with_what_a_frontend_needs_first()
    {
        using var client = api.CreateClient();

        var document = (await client.GetFromJsonAsync<JsonObject>("/openapi/v1.json", Ct))!;

        Assert.Equal("XGrowth API", (string?)document["info"]!["title"]);
        var introduction = (string?)document["info"]!["description"];
        foreach (var topic in new[] { "Authentication", "Errors", "Times", "Limits", "/clerk/tokens" })
        {
            Assert.Contains(topic, introduction, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task In_development_the_root_leads_to_the_api_reference()
    {
        await using var development = api.WithWebHostBuilder(builder => builder.UseEnvironment("Development"));
        using var client = development.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        using var root = await client.GetAsync("/", Ct);
        using var reference = await client.GetAsync("/scalar/v1", Ct);

        Assert.Equal(HttpStatusCode.Redirect, root.StatusCode);
        Assert.Equal("/scalar/v1", root.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.OK, reference.StatusCode);
    }
}
