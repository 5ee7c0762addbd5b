using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Media;

/// <summary>
/// The media endpoints attacked from outside: malformed forms, odd JSON, other users' ids, races with deletion and
/// conditional requests. Every refusal is a 4xx ProblemDetails that wrote nothing.
/// </summary>
public class MediaAttackTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string At(TimeSpan fromNow) => DateTimeOffset.UtcNow.Add(fromNow).ToString("yyyy-MM-ddTHH:mm:ss.fffzzz", CultureInfo.InvariantCulture);

    private (HttpClient Client, string UserId) NewUser()
    {
        var userId = ApiFactory.NewUserId();
        return (api.ClientFor(userId), userId);
    }

    private async Task<(HttpClient Client, Guid AccountId, string UserId)> NewUserWithAccount()
    {
        var userId = ApiFactory.NewUserId();
        return (api.ClientFor(userId), await api.AddXAccountAsync(userId), userId);
    }

    private Task<long> MediaCount(string userId) => api.CountAsync("SELECT count(*) FROM media WHERE user_id = $1", userId);

    private Task<long> PieceCount(string userId) => api.CountAsync(
        "SELECT count(*) FROM media_contents AS c JOIN media AS m ON m.id = c.media_id WHERE m.user_id = $1", userId);

    private Task<long> PostCount(Guid accountId) => api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE x_account_id = $1", accountId);

    private Task<long> LinkCount(Guid accountId) => api.CountAsync(
        "SELECT count(*) FROM post_part_media AS l JOIN scheduled_posts AS p ON p.id = l.post_id WHERE p.x_account_id = $1", accountId);

    private static async Task<string> Upload(HttpClient client, byte[] file, string? altText = null)
    {
        using var form = TestImages.Form(file, altText: altText);
        using var response = await client.PostAsync("/api/media", form, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return (string)JsonNode.Parse(body)!["id"]!;
    }

    private static Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string url, string json) =>
        client.SendAsync(new HttpRequestMessage(method, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") }, Ct);

    private static async Task<JsonObject> AssertProblem(HttpResponseMessage response, params HttpStatusCode[] statuses)
    {
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(statuses.Contains(response.StatusCode), $"{(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!.AsObject();
        Assert.Equal((int)response.StatusCode, (int)problem["status"]!);
        return problem;
    }

    /// <summary>A hand-written multipart body, sent as is, with the Content-Type given.</summary>
    private static async Task<HttpResponseMessage> PostRaw(HttpClient client, string contentType, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return await client.PostAsync("/api/media", content, Ct);
    }

    private static byte[] Bytes(params object[] pieces)
    {
        using var stream = new MemoryStream();
        foreach (var piece in pieces)
        {
            stream.Write(piece is string text ? Encoding.UTF8.GetBytes(text) : (byte[])piece);
        }

        return stream.ToArray();
    }

    private const string B = "XyZBoundary";

    private static readonly byte[] Png = TestImages.Png(8, 8);

    public static TheoryData<string, string, byte[]> MalformedUploads => new()
    {
        { "no boundary", "multipart/form-data", Bytes($"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n", Png, $"\r\n--{B}--\r\n") },
        { "boundary over 70 characters", $"multipart/form-data; boundary={new string('b', 200)}", Bytes($"--{new string('b', 200)}--\r\n") },
        { "other boundary in the body", $"multipart/form-data; boundary={B}", Bytes("--Other\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n", Png, "\r\n--Other--\r\n") },
        { "no closing boundary", $"multipart/form-data; boundary={B}", Bytes($"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n", Png) },
        { "empty body", $"multipart/form-data; boundary={B}", [] },
        { "huge part header", $"multipart/form-data; boundary={B}", Bytes($"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nX-Big: {new string('h', 40_000)}\r\n\r\n", Png, $"\r\n--{B}--\r\n") },
        { "file part with no filename", $"multipart/form-data; boundary={B}", Bytes($"--{B}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n", Png, $"\r\n--{B}--\r\n") },
        { "empty file", $"multipart/form-data; boundary={B}", Bytes($"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\r\n--{B}--\r\n") },
        { "file field repeated", $"multipart/form-data; boundary={B}", Bytes(
            $"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n", Png,
            $"\r\n--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.png\"\r\n\r\n", Png, $"\r\n--{B}--\r\n") },
        { "altText sent as a file", $"multipart/form-data; boundary={B}", Bytes(
            $"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n", Png,
            $"\r\n--{B}\r\nContent-Disposition: form-data; name=\"altText\"; filename=\"alt.txt\"\r\n\r\nA description\r\n--{B}--\r\n") },
        { "NUL in altText", $"multipart/form-data; boundary={B}", Bytes(
            $"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n", Png,
            $"\r\n--{B}\r\nContent-Disposition: form-data; name=\"altText\"\r\n\r\nA\0B\r\n--{B}--\r\n") },
        { "altText of 1 MB", $"multipart/form-data; boundary={B}", Bytes(
            $"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n", Png,
            $"\r\n--{B}\r\nContent-Disposition: form-data; name=\"altText\"\r\n\r\n{new string('a', 1024 * 1024)}\r\n--{B}--\r\n") },
        { "20 fields", $"multipart/form-data; boundary={B}", Bytes(
            $"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n", Png, "\r\n",
            string.Concat(Enumerable.Range(0, 20).Select(i => $"--{B}\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nx\r\n")), $"--{B}--\r\n") },
        { "HTML that says it is a PNG", $"multipart/form-data; boundary={B}", Bytes($"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n<html><script>alert(1)</script></html>\r\n--{B}--\r\n") },
        { "SVG", $"multipart/form-data; boundary={B}", Bytes($"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.svg\"\r\nContent-Type: image/svg+xml\r\n\r\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>\r\n--{B}--\r\n") },
        { "url-encoded form", "application/x-www-form-urlencoded", Encoding.UTF8.GetBytes("file=abc&altText=x") },
    };

    [Theory]
    [MemberData(nameof(MalformedUploads))]
    public async Task A_malformed_upload_is_a_4xx_problem_and_stores_nothing(string name, string contentType, byte[] body)
    {
        var (client, userId) = NewUser();
        using var response = await PostRaw(client, contentType, body);
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest, HttpStatusCode.RequestEntityTooLarge, HttpStatusCode.UnsupportedMediaType);
        Assert.False(string.IsNullOrEmpty((string?)problem["title"]), name);
        Assert.Equal(0, await MediaCount(userId));
        Assert.Equal(0, await PieceCount(userId));
    }

    [Fact]
    public async Task Alt_text_that_is_not_UTF_8_is_stored_with_replacement_characters()
    {
        var (client, _) = NewUser();
        using var response = await PostRaw(client, $"multipart/form-data; boundary={B}", Bytes(
            $"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n", Png,
            $"\r\n--{B}\r\nContent-Disposition: form-data; name=\"altText\"\r\n\r\nA", new byte[] { 0xFF, 0xC0, 0xED, 0xA0, 0x80 }, $"B\r\n--{B}--\r\n"));
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        var alt = (string)JsonNode.Parse(body)!["altText"]!;
        Assert.StartsWith("A", alt, StringComparison.Ordinal);
        Assert.EndsWith("B", alt, StringComparison.Ordinal);
        Assert.DoesNotContain(alt, c => char.IsSurrogate(c));
    }

    public static TheoryData<string> BadAltTextBodies => new()
    {
        "{\"altText\":\"\\ud800\"}",
        "{\"altText\":\"\\u0000\"}",
        "{\"altText\":12}",
        "{\"altText\":\"" + new string('a', 1_001) + "\"}",
        "{\"altText\":\"" + new string('a', 200_000) + "\"}",
    };

    [Theory]
    [MemberData(nameof(BadAltTextBodies))]
    public async Task Bad_alt_text_in_a_patch_is_a_4xx_problem_and_changes_nothing(string json)
    {
        var (client, _) = NewUser();
        var id = await Upload(client, Png, altText: "Before");
        using var response = await Send(client, HttpMethod.Patch, $"/api/media/{id}", json);
        await AssertProblem(response, HttpStatusCode.BadRequest, HttpStatusCode.RequestEntityTooLarge, HttpStatusCode.UnsupportedMediaType);
        var media = await client.GetFromJsonAsync<JsonObject>($"/api/media/{id}", Ct);
        Assert.Equal("Before", (string?)media!["altText"]);
    }

    [Fact]
    public async Task Another_users_media_cannot_be_attached_nor_their_post_given_mine()
    {
        var (owner, ownerAccount, _) = await NewUserWithAccount();
        var (attacker, attackerAccount, _) = await NewUserWithAccount();
        var theirs = await Upload(owner, Png);
        var mine = await Upload(attacker, TestImages.Png(8, 8, seed: 2));

        using var create = await Send(attacker, HttpMethod.Post, "/api/posts",
            $"{{\"xAccountId\":\"{attackerAccount}\",\"parts\":[{{\"text\":\"x\",\"mediaIds\":[\"{theirs}\"]}}],\"scheduledAt\":\"{At(TimeSpan.FromHours(2))}\"}}");
        Assert.Equal("unknown_media", (string?)(await AssertProblem(create, HttpStatusCode.BadRequest))["code"]);
        Assert.Equal(0, await PostCount(attackerAccount));

        // Mine on their account, their media on their account from me: both unknown to me.
        using var onTheirAccount = await Send(attacker, HttpMethod.Post, "/api/posts",
            $"{{\"xAccountId\":\"{ownerAccount}\",\"parts\":[{{\"text\":\"x\",\"mediaIds\":[\"{mine}\"]}}],\"scheduledAt\":\"{At(TimeSpan.FromHours(2))}\"}}");
        await AssertProblem(onTheirAccount, HttpStatusCode.NotFound);

        using var theirPostResponse = await Send(owner, HttpMethod.Post, "/api/posts",
            $"{{\"xAccountId\":\"{ownerAccount}\",\"parts\":[{{\"text\":\"x\",\"mediaIds\":[\"{theirs}\"]}}],\"scheduledAt\":\"{At(TimeSpan.FromHours(2))}\"}}");
        Assert.Equal(HttpStatusCode.Created, theirPostResponse.StatusCode);
        var theirPost = (string)(await theirPostResponse.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!;
        using var patch = await Send(attacker, HttpMethod.Patch, $"/api/posts/{theirPost}", $"{{\"parts\":[{{\"text\":\"x\",\"mediaIds\":[\"{mine}\"]}}]}}");
        await AssertProblem(patch, HttpStatusCode.NotFound);
        Assert.Equal(1, await LinkCount(ownerAccount));
        Assert.Equal(0, await LinkCount(attackerAccount));

        // Their media, through every media endpoint: 404, and unchanged.
        foreach (var (method, url) in new[] { ("GET", $"/api/media/{theirs}"), ("GET", $"/api/media/{theirs}/content"), ("DELETE", $"/api/media/{theirs}") })
        {
            using var response = await attacker.SendAsync(new HttpRequestMessage(new HttpMethod(method), url), Ct);
            await AssertProblem(response, HttpStatusCode.NotFound);
        }

        using var alt = await Send(attacker, HttpMethod.Patch, $"/api/media/{theirs}", "{\"altText\":\"pwned\"}");
        await AssertProblem(alt, HttpStatusCode.NotFound);
        Assert.Null((await owner.GetFromJsonAsync<JsonObject>($"/api/media/{theirs}", Ct))!["altText"]);
    }

    public static TheoryData<string> BadMediaIds => new()
    {
        "123",
        "[[\"00000000-0000-0000-0000-000000000001\"]]",
        "[\"not-a-guid\"]",
        "[null]",
        "[\"00000000-0000-0000-0000-000000000001\",\"00000000-0000-0000-0000-000000000001\"]",
        "[" + string.Join(",", Enumerable.Range(0, 5).Select(i => $"\"{Guid.NewGuid()}\"")) + "]",
        "[" + string.Join(",", Enumerable.Range(0, 10_000).Select(i => $"\"{Guid.NewGuid()}\"")) + "]",
    };

    [Theory]
    [MemberData(nameof(BadMediaIds))]
    public async Task Odd_mediaIds_are_a_4xx_problem_and_write_nothing(string mediaIds)
    {
        var (client, accountId, _) = await NewUserWithAccount();
        using var create = await Send(client, HttpMethod.Post, "/api/posts",
            $"{{\"xAccountId\":\"{accountId}\",\"parts\":[{{\"text\":\"x\",\"mediaIds\":{mediaIds}}}],\"scheduledAt\":\"{At(TimeSpan.FromHours(2))}\"}}");
        await AssertProblem(create, HttpStatusCode.BadRequest, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(0, await PostCount(accountId));

        using var draft = await Send(client, HttpMethod.Post, "/api/posts", $"{{\"xAccountId\":\"{accountId}\",\"parts\":[{{\"text\":\"x\"}}],\"scheduledAt\":\"{At(TimeSpan.FromHours(2))}\"}}");
        Assert.Equal(HttpStatusCode.Created, draft.StatusCode);
        var postId = (string)(await draft.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!;
        using var patch = await Send(client, HttpMethod.Patch, $"/api/posts/{postId}", $"{{\"parts\":[{{\"text\":\"y\",\"mediaIds\":{mediaIds}}}]}}");
        await AssertProblem(patch, HttpStatusCode.BadRequest, HttpStatusCode.RequestEntityTooLarge);
        var post = await client.GetFromJsonAsync<JsonObject>($"/api/posts/{postId}", Ct);
        Assert.Equal("x", (string?)post!["parts"]![0]!["text"]);
        Assert.Equal(0, await LinkCount(accountId));
    }

    [Fact]
    public async Task Media_of_a_draft_is_in_use_and_a_patch_that_detaches_it_frees_it()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var id = await Upload(client, Png);
        using var draft = await Send(client, HttpMethod.Post, "/api/posts", $"{{\"xAccountId\":\"{accountId}\",\"parts\":[{{\"text\":\"\",\"mediaIds\":[\"{id}\"]}}]}}");
        var body = await draft.Content.ReadAsStringAsync(Ct);
        Assert.True(draft.StatusCode == HttpStatusCode.Created, body);
        var postId = (string)JsonNode.Parse(body)!["id"]!;
        Assert.Equal("draft", (string?)JsonNode.Parse(body)!["status"]);

        using var inUse = await client.DeleteAsync($"/api/media/{id}", Ct);
        await AssertProblem(inUse, HttpStatusCode.Conflict);

        using var detach = await Send(client, HttpMethod.Patch, $"/api/posts/{postId}", "{\"parts\":[{\"text\":\"now text\",\"mediaIds\":null}]}");
        Assert.True(detach.StatusCode == HttpStatusCode.OK, await detach.Content.ReadAsStringAsync(Ct));
        using var deleted = await client.DeleteAsync($"/api/media/{id}", Ct);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(0, await LinkCount(accountId));
    }

    [Fact]
    public async Task A_deletion_racing_a_post_that_uses_the_media_never_leaves_the_post_pointing_at_nothing()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        for (var round = 0; round < 12; round++)
        {
            var id = await Upload(client, TestImages.Png(8, 8, seed: round));
            var create = Send(client, HttpMethod.Post, "/api/posts",
                $"{{\"xAccountId\":\"{accountId}\",\"parts\":[{{\"text\":\"r{round}\",\"mediaIds\":[\"{id}\"]}}],\"scheduledAt\":\"{At(TimeSpan.FromHours(2))}\"}}");
            var delete = client.DeleteAsync($"/api/media/{id}", Ct);
            using var created = await create;
            using var deleted = await delete;
            Assert.NotEqual(HttpStatusCode.InternalServerError, created.StatusCode);
            Assert.NotEqual(HttpStatusCode.InternalServerError, deleted.StatusCode);
            if (created.StatusCode == HttpStatusCode.Created)
            {
                Assert.Equal(HttpStatusCode.Conflict, deleted.StatusCode);
                using var content = await client.GetAsync($"/api/media/{id}/content", Ct);
                Assert.Equal(HttpStatusCode.OK, content.StatusCode);
            }
            else
            {
                Assert.Equal(HttpStatusCode.BadRequest, created.StatusCode);
                Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
            }
        }

        var dangling = await api.CountAsync(
            "SELECT count(*) FROM post_part_media AS l JOIN scheduled_posts AS p ON p.id = l.post_id LEFT JOIN media AS m ON m.id = l.media_id WHERE p.x_account_id = $1 AND m.id IS NULL",
            accountId);
        Assert.Equal(0, dangling);
    }

    [Theory]
    [InlineData("*", true)]
    [InlineData("W/\"{0}\"", true)]
    [InlineData("\"other\", \"{0}\"", true)]
    [InlineData("\"{0}\"", true)]
    [InlineData("\"other\"", false)]
    [InlineData("garbage", false)]
    [InlineData("\"{0}", false)]
    [InlineData("", false)]
    public async Task If_None_Match_is_compared_as_HTTP_says(string ifNoneMatch, bool notModified)
    {
        var (client, _) = NewUser();
        var id = Guid.Parse(await Upload(client, Png));
        var request = new HttpRequestMessage(HttpMethod.Get, $"/api/media/{id}/content");
        request.Headers.TryAddWithoutValidation("If-None-Match", string.Format(CultureInfo.InvariantCulture, ifNoneMatch, id.ToString("N")));
        using var response = await client.SendAsync(request, Ct);
        Assert.Equal(notModified ? HttpStatusCode.NotModified : HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(notModified ? [] : Png, body);
    }
}
