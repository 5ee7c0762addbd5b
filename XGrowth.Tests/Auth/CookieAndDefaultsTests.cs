using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Auth;

/// <summary>The session cookie cannot be used by another site to change anything, and authentication is the default.</summary>
public class CookieAndDefaultsTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A request carrying only the <c>__session</c> cookie, as a browser sends it, with the headers a browser adds.</summary>
    private async Task<HttpResponseMessage> WithCookieAsync(HttpMethod method, string path, string userId, string? origin, string? fetchSite, object? body = null)
    {
        using var client = api.CreateClient();
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add("Cookie", $"__session={api.Clerk.Mint(userId)}");
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        if (fetchSite is not null)
        {
            request.Headers.Add("Sec-Fetch-Site", fetchSite);
        }

        return await client.SendAsync(request, Ct);
    }

    private static object NewPost(Guid accountId) =>
        new { xAccountId = accountId, text = "cookie " + Guid.NewGuid(), scheduledAt = DateTimeOffset.UtcNow.AddHours(1) };

    [Theory]
    [InlineData("https://evil.example", null)]
    [InlineData("null", null)] // a sandboxed iframe or a file: page
    [InlineData(null, "cross-site")]
    [InlineData(null, "same-site")] // another port or subdomain of the same site is still another origin
    [InlineData(null, null)] // says nothing: not trusted with the cookie
    public async Task A_write_carrying_only_the_cookie_from_another_origin_is_refused_and_changes_nothing(string? origin, string? fetchSite)
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);

        using var created = await WithCookieAsync(HttpMethod.Post, "/api/posts", userId, origin, fetchSite, NewPost(accountId));
        using var connect = await WithCookieAsync(HttpMethod.Post, "/api/x-accounts/connect", userId, origin, fetchSite);
        using var disconnect = await WithCookieAsync(HttpMethod.Delete, $"/api/x-accounts/{accountId}", userId, origin, fetchSite);

        Assert.Equal(HttpStatusCode.Unauthorized, created.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, connect.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, disconnect.StatusCode);
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE x_account_id = $1", accountId));
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM x_oauth_states WHERE user_id = $1", userId));
        Assert.Equal("connected", await api.ScalarAsync<string>("SELECT status FROM x_accounts WHERE id = $1", accountId));
    }

    [Theory]
    [InlineData(ApiFactory.Frontend, null)]
    [InlineData(ApiFactory.Frontend + "/", "cross-site")] // the frontend on its own origin calling the API's
    [InlineData(null, "same-origin")]
    public async Task A_write_carrying_only_the_cookie_from_the_frontend_works(string? origin, string? fetchSite)
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);

        using var created = await WithCookieAsync(HttpMethod.Post, "/api/posts", userId, origin, fetchSite, NewPost(accountId));

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    [Fact]
    public async Task Reads_with_the_cookie_work_from_anywhere_and_a_bearer_write_needs_no_origin()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);

        // A read changes nothing, and CORS keeps another site from reading the answer.
        using var read = await WithCookieAsync(HttpMethod.Get, "/api/me", userId, "https://evil.example", "cross-site");
        using var bearer = api.ClientFor(userId);
        bearer.DefaultRequestHeaders.Add("Origin", "https://evil.example"); // a header a page can only set with CORS's consent
        using var written = await bearer.PostAsJsonAsync("/api/posts", NewPost(accountId), Ct);

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(HttpStatusCode.Created, written.StatusCode);
    }

    [Fact]
    public async Task Authentication_is_the_default_for_every_endpoint_that_does_not_opt_out()
    {
        var fallback = api.Services.GetRequiredService<IOptions<AuthorizationOptions>>().Value.FallbackPolicy;
        using var anonymous = api.CreateClient();
        using var unknownPath = await anonymous.GetAsync("/api/not-a-route", Ct);
        using var health = await anonymous.GetAsync("/health", Ct);
        using var openApi = await anonymous.GetAsync("/openapi/v1.json", Ct);

        Assert.NotNull(fallback);
        Assert.Contains(fallback.Requirements, r => r is DenyAnonymousAuthorizationRequirement);
        Assert.Equal(HttpStatusCode.Unauthorized, unknownPath.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, openApi.StatusCode);
    }

    [Fact]
    public void A_published_example_webhook_secret_is_accepted_in_development_only()
    {
        using var development = api.WithWebHostBuilder(builder => builder.UseEnvironment("Development")
            .UseSetting("Clerk:WebhookSecret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));

        using var client = development.CreateClient(); // starts: no exception
        Assert.NotNull(client);
    }
}
