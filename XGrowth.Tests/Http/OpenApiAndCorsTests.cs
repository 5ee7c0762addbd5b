using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Http;

public class OpenApiAndCorsTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OpenApi_document_describes_every_endpoint_its_answers_and_the_bearer_scheme()
    {
        using var client = api.CreateClient();
        var document = (await client.GetFromJsonAsync<JsonObject>("/openapi/v1.json", Ct))!;
        var paths = document["paths"]!.AsObject();

        foreach (var (path, method) in new[]
        {
            ("/api/me", "get"), ("/api/x-accounts", "get"), ("/api/x-accounts/{id}", "delete"), ("/api/posts", "post"),
            ("/api/posts", "get"), ("/api/posts/{id}", "get"), ("/api/posts/{id}", "patch"), ("/api/posts/{id}", "delete"),
            ("/api/calendar", "get"), ("/api/webhooks/clerk", "post"),
        })
        {
            Assert.True(paths[path]?[method] is not null, $"{method} {path} is not described");
        }

        var patch = paths["/api/posts/{id}"]!["patch"]!;
        foreach (var status in new[] { "200", "400", "401", "404", "409" })
        {
            Assert.True(patch["responses"]?[status] is not null, $"PATCH /api/posts/{{id}} lacks {status}");
        }

        Assert.Equal("bearer", (string?)document["components"]!["securitySchemes"]!["Bearer"]!["scheme"]);
        Assert.NotNull(paths["/api/posts"]!["post"]!["security"]);
        Assert.Null(paths["/api/webhooks/clerk"]!["post"]!["security"]);
    }

    [Fact]
    public async Task Cors_allows_the_authorized_frontend_with_the_authorization_header_and_no_one_else()
    {
        using var client = api.CreateClient();
        async Task<HttpResponseMessage> Preflight(string origin)
        {
            using var request = new HttpRequestMessage(HttpMethod.Options, "/api/posts");
            request.Headers.Add("Origin", origin);
            request.Headers.Add("Access-Control-Request-Method", "POST");
            request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
            return await client.SendAsync(request, Ct);
        }

        using var allowed = await Preflight(ApiFactory.Frontend);
        using var refused = await Preflight("https://evil.example");

        Assert.Equal(ApiFactory.Frontend, allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("authorization", string.Join(',', allowed.Headers.GetValues("Access-Control-Allow-Headers")), StringComparison.OrdinalIgnoreCase);
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Unknown_routes_and_methods_are_4xx()
    {
        using var client = api.ClientFor(ApiFactory.NewUserId());
        using var unknown = await client.GetAsync("/api/nothing-here", Ct);
        using var wrongMethod = await client.PutAsync("/api/me", null, Ct);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
    }
}
