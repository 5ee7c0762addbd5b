using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.XAccounts;

public class XAccountsApiTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string InAnHour => DateTimeOffset.UtcNow.AddHours(1).ToString("O", CultureInfo.InvariantCulture);

    [Fact]
    public async Task List_shows_only_the_users_own_accounts_with_the_agreed_fields()
    {
        var userId = ApiFactory.NewUserId();
        var first = await api.AddXAccountAsync(userId);
        var second = await api.AddXAccountAsync(userId, "needs_reconnect");
        await api.AddXAccountAsync(ApiFactory.NewUserId());
        using var client = api.ClientFor(userId);

        var list = (await client.GetFromJsonAsync<JsonObject>("/api/x-accounts", Ct))!;

        var items = list["items"]!.AsArray();
        Assert.Equal(2, items.Count);
        Assert.Equal(new[] { first.ToString(), second.ToString() }.Order(), items.Select(i => (string)i!["id"]!).Order());
        var account = items.Single(i => (string)i!["id"]! == second.ToString())!;
        Assert.Equal("needs_reconnect", (string?)account["status"]);
        foreach (var field in new[] { "xUserId", "username", "connectedAt" })
        {
            Assert.False(string.IsNullOrEmpty((string?)account[field]), field);
        }

        Assert.True(list.ContainsKey("nextCursor"));
    }

    [Fact]
    public async Task Disconnect_cancels_pending_posts_and_hides_the_account()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        using var created = await client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, text = "pending", scheduledAt = InAnHour }, Ct);
        var postId = (string)(await created.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!;
        await using (var published = api.Database.CreateCommand("""
            WITH post AS (
                INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, x_post_id, created_at, updated_at)
                VALUES (gen_random_uuid(), $1, now() - interval '1 day', 'published', '1799', now(), now()) RETURNING id)
            INSERT INTO post_parts (post_id, position, text, x_post_id) SELECT id, 0, 'already out', '1799' FROM post
            """))
        {
            published.Parameters.Add(new() { Value = accountId });
            await published.ExecuteNonQueryAsync(Ct);
        }

        using var response = await client.DeleteAsync($"/api/x-accounts/{accountId}", Ct);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("cancelled", (string?)(await client.GetFromJsonAsync<JsonObject>($"/api/posts/{postId}", Ct))!["status"]);
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE x_account_id = $1 AND status = 'published'", accountId));
        Assert.Empty((await client.GetFromJsonAsync<JsonObject>("/api/x-accounts", Ct))!["items"]!.AsArray());
        using var newPost = await client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, text = "more", scheduledAt = InAnHour }, Ct);
        Assert.Equal(HttpStatusCode.NotFound, newPost.StatusCode);
        using var again = await client.DeleteAsync($"/api/x-accounts/{accountId}", Ct);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task Another_users_account_cannot_be_disconnected()
    {
        var owner = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(owner);
        using var intruder = api.ClientFor(ApiFactory.NewUserId());

        using var response = await intruder.DeleteAsync($"/api/x-accounts/{accountId}", Ct);
        using var unknown = await intruder.DeleteAsync($"/api/x-accounts/{Guid.NewGuid()}", Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("connected", await api.ScalarAsync<string>("SELECT status FROM x_accounts WHERE id = $1", accountId));
    }
}
