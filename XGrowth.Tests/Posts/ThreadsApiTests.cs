using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Posts;

/// <summary>Posts of several parts through the API: what is stored, what every endpoint answers, and what is refused.</summary>
public class ThreadsApiTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string At(TimeSpan fromNow) => DateTimeOffset.UtcNow.Add(fromNow).ToString("yyyy-MM-ddTHH:mm:ss.fffzzz", CultureInfo.InvariantCulture);

    private async Task<(HttpClient Client, Guid AccountId)> NewUserWithAccount()
    {
        var userId = ApiFactory.NewUserId();
        return (api.ClientFor(userId), await api.AddXAccountAsync(userId));
    }

    private static object Parts(params string[] texts) => texts.Select(text => new { text }).ToArray();

    private static string[] TextsOf(JsonNode post) => [.. post["parts"]!.AsArray().Select(p => (string)p!["text"]!)];

    private async Task<string[]> StoredTexts(Guid postId)
    {
        await using var command = api.Database.CreateCommand("SELECT text FROM post_parts WHERE post_id = $1 ORDER BY position");
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = postId });
        var texts = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            texts.Add(reader.GetString(0));
        }

        return [.. texts];
    }

    private Task<long> PostCount(Guid accountId) => api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE x_account_id = $1", accountId);

    private Task<long> PartCount(Guid accountId) => api.CountAsync(
        "SELECT count(*) FROM post_parts AS pp JOIN scheduled_posts AS p ON p.id = pp.post_id WHERE p.x_account_id = $1", accountId);

    [Fact]
    public async Task A_thread_is_stored_in_order_and_every_endpoint_shows_its_parts()
    {
        var (client, accountId) = await NewUserWithAccount();
        var scheduledAt = DateTimeOffset.UtcNow.AddHours(3);
        using var response = await client.PostAsJsonAsync("/api/posts", new
        {
            xAccountId = accountId, parts = Parts("First, the hook", "cafe\u0301 second", "third"), scheduledAt = scheduledAt.ToString("O"),
        }, Ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        var id = Guid.Parse((string)created["id"]!);
        Assert.Equal(["First, the hook", "café second", "third"], TextsOf(created));
        Assert.Equal("First, the hook", (string?)created["text"]);
        foreach (var part in created["parts"]!.AsArray())
        {
            Assert.Empty(part!["media"]!.AsArray());
            Assert.Null(part["xPostId"]);
            Assert.Null(part["xPostUrl"]);
        }

        Assert.Equal(["First, the hook", "café second", "third"], await StoredTexts(id));

        await PostAnswers.AssertTheSameEverywhereAsync(client, created, scheduledAt);
    }

    [Fact]
    public async Task Text_alone_is_a_one_part_post()
    {
        var (client, accountId) = await NewUserWithAccount();
        using var response = await client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, text = "just one", scheduledAt = At(TimeSpan.FromHours(1)) }, Ct);
        var post = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.Equal(["just one"], TextsOf(post));
        Assert.Equal(["just one"], await StoredTexts(Guid.Parse((string)post["id"]!)));
    }

    public static TheoryData<string, string, string> BadThreads => new()
    {
        { "text and parts", "\"text\":\"a\",\"parts\":[{\"text\":\"b\"}]", "parts" },
        { "no parts", "\"parts\":[]", "parts" },
        { "26 parts", "\"parts\":[" + string.Join(',', Enumerable.Range(0, 26).Select(i => $"{{\"text\":\"part {i}\"}}")) + "]", "parts" },
        { "a part too long", "\"parts\":[{\"text\":\"fine\"},{\"text\":\"" + new string('a', 281) + "\"}]", "parts[1].text" },
        { "an empty part", "\"parts\":[{\"text\":\"fine\"},{\"text\":\"  \"}]", "parts[1].text" },
        { "a part without text", "\"parts\":[{\"text\":\"fine\"},{}]", "parts[1].text" },
        { "a null part", "\"parts\":[{\"text\":\"fine\"},null]", "parts[1]" },
        { "neither text nor parts", "", "text" },
    };

    [Theory]
    [MemberData(nameof(BadThreads))]
    public async Task Bad_threads_are_400_and_write_nothing(string description, string fields, string key)
    {
        var (client, accountId) = await NewUserWithAccount();
        var json = $"{{\"xAccountId\":\"{accountId}\",{fields}{(fields == "" ? "" : ",")}\"scheduledAt\":\"{At(TimeSpan.FromHours(1))}\"}}";
        using var response = await client.PostAsync("/api/posts", new StringContent(json, Encoding.UTF8, "application/json"), Ct);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{description}: {response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.True(problem["errors"]?[key] is not null, $"{description}: {problem.ToJsonString()}");

        Assert.Equal(0, await PostCount(accountId));
        Assert.Equal(0, await PartCount(accountId));
    }

    [Fact]
    public async Task Editing_parts_replaces_them_and_a_bad_edit_changes_nothing()
    {
        var (client, accountId) = await NewUserWithAccount();
        using var response = await client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, parts = Parts("a", "b", "c"), scheduledAt = At(TimeSpan.FromHours(1)) }, Ct);
        var id = Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!);

        using var shorter = await client.PatchAsJsonAsync($"/api/posts/{id}", new { parts = Parts("A", "B") }, Ct);
        Assert.Equal(HttpStatusCode.OK, shorter.StatusCode);
        Assert.Equal(["A", "B"], TextsOf((await shorter.Content.ReadFromJsonAsync<JsonObject>(Ct))!));
        Assert.Equal(["A", "B"], await StoredTexts(id));

        using var longer = await client.PatchAsJsonAsync($"/api/posts/{id}", new { parts = Parts("1", "2", "3", "4") }, Ct);
        Assert.Equal(["1", "2", "3", "4"], TextsOf((await longer.Content.ReadFromJsonAsync<JsonObject>(Ct))!));
        Assert.Equal(["1", "2", "3", "4"], await StoredTexts(id));

        using var single = await client.PatchAsJsonAsync($"/api/posts/{id}", new { text = "only" }, Ct);
        Assert.Equal(["only"], await StoredTexts(id));

        using var bad = await client.PatchAsJsonAsync($"/api/posts/{id}", new { parts = Parts("fine", new string('x', 300)) }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var both = await client.PatchAsJsonAsync($"/api/posts/{id}", new { text = "t", parts = Parts("p") }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, both.StatusCode);
        Assert.Equal(["only"], await StoredTexts(id));
    }

    [Fact]
    public async Task Parts_already_on_x_cannot_be_edited_but_the_time_can()
    {
        var (client, accountId) = await NewUserWithAccount();
        using var response = await client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, parts = Parts("a", "b"), scheduledAt = At(TimeSpan.FromHours(1)) }, Ct);
        var id = Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!);
        // As after a thread interrupted by X's rate limit: the first part is on X, the post waits to go on.
        await api.ScalarAsync<object>("UPDATE post_parts SET x_post_id = '1866778899001122334', published_at = now() WHERE post_id = $1 AND position = 0", id);

        using var edit = await client.PatchAsJsonAsync($"/api/posts/{id}", new { parts = Parts("x", "y") }, Ct);
        Assert.Equal(HttpStatusCode.Conflict, edit.StatusCode);
        Assert.Equal(["a", "b"], await StoredTexts(id));

        using var move = await client.PatchAsJsonAsync($"/api/posts/{id}", new { scheduledAt = At(TimeSpan.FromHours(2)) }, Ct);
        Assert.Equal(HttpStatusCode.OK, move.StatusCode);
        var post = (await move.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.Equal("1866778899001122334", (string?)post["parts"]![0]!["xPostId"]);
        Assert.Equal("1866778899001122334", (string?)post["xPostId"]);
        Assert.EndsWith("/i/web/status/1866778899001122334", (string?)post["xPostUrl"], StringComparison.Ordinal);
        Assert.Null(post["parts"]![1]!["xPostId"]);
    }
}
