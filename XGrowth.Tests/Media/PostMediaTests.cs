using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using XGrowth.DevStandIns.Clerk;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Media;

/// <summary>Posts whose parts carry media: what is stored, what every endpoint shows, what is refused, and what deleting does.</summary>
public class PostMediaTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string At(TimeSpan fromNow) => DateTimeOffset.UtcNow.Add(fromNow).ToString("yyyy-MM-ddTHH:mm:ss.fffzzz", CultureInfo.InvariantCulture);

    private async Task<(HttpClient Client, Guid AccountId, string UserId)> NewUserWithAccount()
    {
        var userId = ApiFactory.NewUserId();
        return (api.ClientFor(userId), await api.AddXAccountAsync(userId), userId);
    }

    private static async Task<string> Upload(HttpClient client, byte[] file, string? altText = null)
    {
        using var form = TestImages.Form(file, altText: altText);
        using var response = await client.PostAsync("/api/media", form, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!;
    }

    private static Task<string> Image(HttpClient client, int seed = 1, string? altText = null) => Upload(client, TestImages.Png(8, 8, seed), altText);

    private static Task<string> Gif(HttpClient client) => Upload(client, TestImages.Gif(8, 8));

    private static Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string url, string json) =>
        client.SendAsync(new HttpRequestMessage(method, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") }, Ct);

    private static string PostJson(Guid accountId, string parts, TimeSpan? at = null) =>
        $"{{\"xAccountId\":\"{accountId}\",\"parts\":{parts},\"scheduledAt\":\"{At(at ?? TimeSpan.FromHours(2))}\"}}";

    private static async Task<JsonObject> Created(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, body);
        return JsonNode.Parse(body)!.AsObject();
    }

    private static string[][] MediaOf(JsonNode post) =>
        [.. post["parts"]!.AsArray().Select(part => part!["media"]!.AsArray().Select(m => (string)m!["id"]!).ToArray())];

    private Task<long> LinkCount(Guid accountId) => api.CountAsync(
        "SELECT count(*) FROM post_part_media AS l JOIN scheduled_posts AS p ON p.id = l.post_id WHERE p.x_account_id = $1", accountId);

    private Task<long> PostCount(Guid accountId) => api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE x_account_id = $1", accountId);

    [Fact]
    public async Task A_thread_with_media_shows_it_in_every_answer()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var images = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            images.Add(await Image(client, i, altText: i == 0 ? "The first" : null));
        }

        var gif = await Gif(client);
        var scheduledAt = DateTimeOffset.UtcNow.AddHours(3);
        using var response = await Send(client, HttpMethod.Post, "/api/posts",
            $"{{\"xAccountId\":\"{accountId}\",\"scheduledAt\":\"{scheduledAt:O}\",\"parts\":[" +
            $"{{\"text\":\"Four images\",\"mediaIds\":[\"{string.Join("\",\"", images)}\"]}}," +
            $"{{\"text\":\"No media\"}}," +
            $"{{\"text\":\"  \",\"mediaIds\":[\"{gif}\"]}}]}}");
        var created = await Created(response);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        Assert.Equal([[.. images], [], [gif]], MediaOf(created));
        var first = created["parts"]![0]!["media"]![0]!;
        Assert.Equal("image", (string?)first["type"]);
        Assert.Equal("The first", (string?)first["altText"]);
        Assert.Null(created["parts"]![0]!["media"]![1]!["altText"]);
        Assert.Equal("gif", (string?)created["parts"]![2]!["media"]![0]!["type"]);
        Assert.Equal("", (string?)created["parts"]![2]!["text"]);
        Assert.Equal(5, await LinkCount(accountId));

        var id = (string)created["id"]!;
        // A new post is one event, however many media its parts have.
        Assert.Equal(1, await Events(Guid.Parse(id)));
        await PostAnswers.AssertTheSameEverywhereAsync(client, created, scheduledAt);

        // The same thread in its account's queue: the queue's page shows it as every other answer does.
        using var queuedResponse = await Send(client, HttpMethod.Post, "/api/posts",
            $"{{\"xAccountId\":\"{accountId}\",\"queue\":true,\"parts\":[" +
            $"{{\"text\":\"Four images, queued\",\"mediaIds\":[\"{string.Join("\",\"", images)}\"]}}," +
            $"{{\"text\":\"No media\"}},{{\"text\":\"\",\"mediaIds\":[\"{gif}\"]}}]}}");
        var queued = await Created(queuedResponse);
        var queue = (await client.GetFromJsonAsync<JsonArray>($"/api/x-accounts/{accountId}/queue?count=5", Ct))!;
        var inQueue = queue.Single(slot => (string?)slot!["post"]?["id"] == (string)queued["id"]!)!["post"]!;
        Assert.True(JsonNode.DeepEquals(queued, inQueue), inQueue.ToJsonString());
        Assert.Equal([[.. images], [], [gif]], MediaOf(inQueue));

        // A draft with media, in the calendar's drafts.
        using var draft = await Send(client, HttpMethod.Post, "/api/posts",
            $"{{\"xAccountId\":\"{accountId}\",\"parts\":[{{\"text\":\"\",\"mediaIds\":[\"{images[0]}\"]}}]}}");
        var draftPost = await Created(draft);
        var day = DateOnly.FromDateTime(scheduledAt.UtcDateTime).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var withDrafts = (await client.GetFromJsonAsync<JsonObject>($"/api/calendar?from={day}&to={day}&includeDrafts=true", Ct))!;
        Assert.True(JsonNode.DeepEquals(draftPost["parts"], withDrafts["drafts"]!.AsArray().Single()!["parts"]), withDrafts.ToJsonString());
    }

    public static TheoryData<string, string, string?> BadParts => new()
    {
        { "5 images in a part", "[{\"text\":\"a\",\"mediaIds\":[IMG0,IMG1,IMG2,IMG3,IMG4]}]", null },
        { "a GIF and an image in a part", "[{\"text\":\"a\",\"mediaIds\":[IMG0,GIF0]}]", null },
        { "two GIFs in a part", "[{\"text\":\"a\",\"mediaIds\":[GIF0,GIF1]}]", null },
        { "the same image twice in a part", "[{\"text\":\"a\",\"mediaIds\":[IMG0,IMG0]}]", null },
        { "an unknown media id", "[{\"text\":\"a\"},{\"text\":\"b\",\"mediaIds\":[IMG0,\"UNKNOWN\"]}]", "unknown_media" },
        { "another user's media", "[{\"text\":\"a\",\"mediaIds\":[OTHER]}]", "unknown_media" },
        { "media whose contents were removed", "[{\"text\":\"a\",\"mediaIds\":[REMOVED]}]", "unknown_media" },
        { "an empty text without media", "[{\"text\":\"a\",\"mediaIds\":[IMG0]},{\"text\":\" \",\"mediaIds\":[]}]", null },
        { "mediaIds as a string", "[{\"text\":\"a\",\"mediaIds\":IMG0}]", null },
        { "a media id that is not a uuid", "[{\"text\":\"a\",\"mediaIds\":[\"not-a-uuid\"]}]", null },
        { "a media id as a number", "[{\"text\":\"a\",\"mediaIds\":[5]}]", null },
        { "a null media id", "[{\"text\":\"a\",\"mediaIds\":[null]}]", null },
        { "media as objects", "[{\"text\":\"a\",\"media\":[{\"id\":IMG0}]}]", null },
    };

    [Theory]
    [MemberData(nameof(BadParts))]
    public async Task Bad_media_in_parts_are_400_and_write_nothing(string description, string parts, string? code)
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var (other, _, _) = await NewUserWithAccount();
        var removed = await Image(client, 99);
        await api.ExecuteAsync("UPDATE media SET content_removed_at = now() WHERE id = $1::uuid", removed);
        var unknown = Guid.NewGuid().ToString();
        var json = parts.Replace("\"UNKNOWN\"", $"\"{unknown}\"", StringComparison.Ordinal)
            .Replace("OTHER", $"\"{await Image(other)}\"", StringComparison.Ordinal)
            .Replace("REMOVED", $"\"{removed}\"", StringComparison.Ordinal);
        for (var i = 0; i < 5; i++)
        {
            if (json.Contains($"IMG{i}", StringComparison.Ordinal))
            {
                json = json.Replace($"IMG{i}", $"\"{await Image(client, i)}\"", StringComparison.Ordinal);
            }

            if (json.Contains($"GIF{i}", StringComparison.Ordinal))
            {
                json = json.Replace($"GIF{i}", $"\"{await Gif(client)}\"", StringComparison.Ordinal);
            }
        }

        using var response = await Send(client, HttpMethod.Post, "/api/posts", PostJson(accountId, json));
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{description}: {response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!.AsObject();
        Assert.Equal(code, (string?)problem["code"]);
        if (description == "an unknown media id")
        {
            Assert.Contains(unknown, problem["errors"]!["parts[1].mediaIds[1]"]![0]!.ToString(), StringComparison.Ordinal);
        }

        Assert.Equal(0, await PostCount(accountId));
        Assert.Equal(0, await LinkCount(accountId));

        // The same parts in an edit of an existing post change nothing either.
        using var existing = await Send(client, HttpMethod.Post, "/api/posts", PostJson(accountId, "[{\"text\":\"as it was\"}]"));
        var post = await Created(existing);
        using var edit = await Send(client, HttpMethod.Patch, $"/api/posts/{post["id"]}", $"{{\"parts\":{json}}}");
        Assert.True(edit.StatusCode == HttpStatusCode.BadRequest, $"{description}: {edit.StatusCode}");
        var after = (await client.GetFromJsonAsync<JsonObject>($"/api/posts/{post["id"]}", Ct))!;
        Assert.True(JsonNode.DeepEquals(post["parts"], after["parts"]), after.ToJsonString());
        Assert.Equal(0, await LinkCount(accountId));
    }

    [Fact]
    public async Task An_edit_replaces_a_parts_media_and_sends_a_live_update()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var (a, b, c) = (await Image(client, 1), await Image(client, 2), await Image(client, 3));
        using var response = await Send(client, HttpMethod.Post, "/api/posts",
            PostJson(accountId, $"[{{\"text\":\"one\",\"mediaIds\":[\"{a}\",\"{b}\"]}},{{\"text\":\"two\"}}]"));
        var post = await Created(response);
        var id = Guid.Parse((string)post["id"]!);
        await api.ExecuteAsync("UPDATE media SET updated_at = now() - interval '3 days' WHERE id = $1::uuid", a);
        var events = await Events(id);

        // Only the media change: the texts stay as they are.
        using var edit = await Send(client, HttpMethod.Patch, $"/api/posts/{id}",
            $"{{\"parts\":[{{\"text\":\"one\",\"mediaIds\":[\"{c}\",\"{b}\"]}},{{\"text\":\"two\",\"mediaIds\":[\"{a}\"]}}]}}");
        var edited = await Created(edit);
        Assert.Equal([[c, b], [a]], MediaOf(edited));
        Assert.True(await Events(id) > events, "a change of media is news of the post");
        // Media taken out of a post (or moved) counts as just used: it is not cleaned up as unused for another day.
        Assert.True(await api.ScalarAsync<DateTime>("SELECT updated_at FROM media WHERE id = $1::uuid", a) > DateTime.UtcNow.AddMinutes(-1));

        // A new alt text shows in the posts that use the media, and is news of them too.
        events = await Events(id);
        using var described = await client.PatchAsJsonAsync($"/api/media/{b}", new { altText = "Now described" }, Ct);
        described.EnsureSuccessStatusCode();
        Assert.Equal("Now described", (string?)(await client.GetFromJsonAsync<JsonObject>($"/api/posts/{id}", Ct))!["parts"]![0]!["media"]![1]!["altText"]);
        Assert.True(await Events(id) > events);

        using var cleared = await Send(client, HttpMethod.Patch, $"/api/posts/{id}", "{\"parts\":[{\"text\":\"one\"}]}");
        Assert.Equal([[]], MediaOf(await Created(cleared)));
        Assert.Equal(0, await LinkCount(accountId));
    }

    private Task<long> Events(Guid postId) => api.CountAsync("SELECT count(*) FROM user_events WHERE entity_id = $1 AND type = 'post.updated'", postId);

    [Fact]
    public async Task Media_a_live_post_uses_cannot_be_deleted_until_the_post_is_final()
    {
        var (client, accountId, userId) = await NewUserWithAccount();
        var image = await Image(client);
        using var response = await Send(client, HttpMethod.Post, "/api/posts", PostJson(accountId, $"[{{\"text\":\"x\",\"mediaIds\":[\"{image}\"]}}]"));
        var post = await Created(response);

        using var refused = await client.DeleteAsync($"/api/media/{image}", Ct);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        var problem = (await refused.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.Equal("media_in_use", (string?)problem["code"]);
        Assert.Contains((string)post["id"]!, (string?)problem["detail"], StringComparison.Ordinal);
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM media WHERE user_id = $1", userId));

        foreach (var status in new[] { "failed", "missed", "unconfirmed", "draft" })
        {
            await api.ExecuteAsync($"UPDATE scheduled_posts SET status = '{status}', scheduled_at = CASE WHEN '{status}' = 'draft' THEN NULL ELSE scheduled_at END WHERE id = $1::uuid", (string)post["id"]!);
            using var stillRefused = await client.DeleteAsync($"/api/media/{image}", Ct);
            Assert.True(stillRefused.StatusCode == HttpStatusCode.Conflict, status);
        }

        using var cancelled = await client.DeleteAsync($"/api/posts/{post["id"]}", Ct);
        Assert.Equal(HttpStatusCode.NoContent, cancelled.StatusCode);
        using var deleted = await client.DeleteAsync($"/api/media/{image}", Ct);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM media WHERE user_id = $1", userId));
        Assert.Equal(0, await LinkCount(accountId));
        Assert.Equal([[]], MediaOf((await client.GetFromJsonAsync<JsonObject>($"/api/posts/{post["id"]}", Ct))!));
    }

    [Fact]
    public async Task Deleting_the_user_deletes_their_media()
    {
        var (client, accountId, userId) = await NewUserWithAccount();
        var image = await Image(client);
        var loose = await Upload(client, TestImages.Png(1_100, 1_000));
        using var response = await Send(client, HttpMethod.Post, "/api/posts", PostJson(accountId, $"[{{\"text\":\"x\",\"mediaIds\":[\"{image}\"]}}]"));
        await Created(response);
        var (other, _, otherId) = await NewUserWithAccount();
        await Image(other);

        using var deleted = await api.PostSignedWebhookAsync(ClerkSampleEvents.UserDeleted(userId, DateTimeOffset.UtcNow));
        deleted.EnsureSuccessStatusCode();

        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM media WHERE user_id = $1", userId));
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM media_contents WHERE media_id IN ($1::uuid, $2::uuid)", image, loose));
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM media WHERE user_id = $1", otherId));
    }
}
