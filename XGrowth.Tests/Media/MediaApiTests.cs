using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using SkiaSharp;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Media;

/// <summary>Uploading, reading, describing and deleting media through the API: what is stored, and what is refused.</summary>
public class MediaApiTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private (HttpClient Client, string UserId) NewUser()
    {
        var userId = ApiFactory.NewUserId();
        return (api.ClientFor(userId), userId);
    }

    private Task<long> MediaCount(string userId) => api.CountAsync("SELECT count(*) FROM media WHERE user_id = $1", userId);

    private Task<long> PieceCount(string userId) => api.CountAsync(
        "SELECT count(*) FROM media_contents AS c JOIN media AS m ON m.id = c.media_id WHERE m.user_id = $1", userId);

    private static async Task<JsonObject> Upload(HttpClient client, byte[] file, string fileName = "image", string contentType = "application/octet-stream", string? altText = null)
    {
        using var form = TestImages.Form(file, fileName, contentType, altText);
        using var response = await client.PostAsync("/api/media", form, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        var media = JsonNode.Parse(body)!.AsObject();
        Assert.Equal($"/api/media/{media["id"]}", response.Headers.Location?.OriginalString);
        return media;
    }

    private static async Task<JsonObject> AssertProblem(HttpResponseMessage response, HttpStatusCode status, string? code)
    {
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == status, $"{response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!.AsObject();
        Assert.Equal((int)status, (int)problem["status"]!);
        if (code is not null)
        {
            Assert.Equal(code, (string?)problem["code"]);
        }

        return problem;
    }

    public static TheoryData<string, string, int, int> Formats => new()
    {
        { "png", "image/png", 40, 30 },
        { "jpeg", "image/jpeg", 8_192, 4 },
        { "webp", "image/webp", 300, 200 },
        { "gif", "image/gif", 4, 4 },
    };

    private static byte[] Make(string format, int width, int height) => format switch
    {
        "png" => TestImages.Png(width, height),
        "jpeg" => TestImages.Jpeg(width, height),
        "webp" => TestImages.Webp(width, height),
        _ => TestImages.Gif(width, height),
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public async Task Each_format_is_stored_with_what_its_bytes_say(string format, string contentType, int width, int height)
    {
        var (client, userId) = NewUser();
        var file = Make(format, width, height);
        // The name and the declared type say nothing true: the bytes decide.
        var media = await Upload(client, file, "upload.txt", "text/plain", altText: "  A description  ");

        Assert.Equal(format == "gif" ? "gif" : "image", (string?)media["type"]);
        Assert.Equal(contentType, (string?)media["contentType"]);
        Assert.Equal(file.Length, (long)media["bytes"]!);
        Assert.Equal(width, (int)media["width"]!);
        Assert.Equal(height, (int)media["height"]!);
        Assert.Equal("  A description  ", (string?)media["altText"]);
        Assert.True(DateTimeOffset.UtcNow - DateTimeOffset.Parse((string)media["createdAt"]!, System.Globalization.CultureInfo.InvariantCulture) < TimeSpan.FromMinutes(1));

        var read = (await client.GetFromJsonAsync<JsonObject>($"/api/media/{media["id"]}", Ct))!;
        Assert.True(JsonNode.DeepEquals(media, read), read.ToJsonString());
        Assert.Equal(1, await MediaCount(userId));
        Assert.Equal(1, await PieceCount(userId));
        using var content = await client.GetAsync($"/api/media/{media["id"]}/content", Ct);
        Assert.Equal(file, await content.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(contentType, content.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Contents_are_stored_in_1_MiB_pieces_and_come_back_byte_for_byte()
    {
        var (client, userId) = NewUser();
        var file = TestImages.Png(1_100, 1_000);
        Assert.InRange(file.Length, 3 * 1024 * 1024 + 1, 5 * 1024 * 1024);
        var media = await Upload(client, file);
        var id = Guid.Parse((string)media["id"]!);

        await using (var command = api.Database.CreateCommand("SELECT index, length(data) FROM media_contents WHERE media_id = $1 ORDER BY index"))
        {
            command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = id });
            await using var reader = await command.ExecuteReaderAsync(Ct);
            var sizes = new List<int>();
            while (await reader.ReadAsync(Ct))
            {
                Assert.Equal(sizes.Count, reader.GetInt32(0));
                sizes.Add(reader.GetInt32(1));
            }

            Assert.Equal(4, sizes.Count);
            Assert.All(sizes[..^1], size => Assert.Equal(1024 * 1024, size));
            Assert.Equal(file.Length - 3 * 1024 * 1024, sizes[^1]);
        }

        using var content = await client.GetAsync($"/api/media/{id}/content", Ct);
        Assert.Equal(HttpStatusCode.OK, content.StatusCode);
        Assert.Equal("image/png", content.Content.Headers.ContentType?.MediaType);
        Assert.Equal(file.Length, content.Content.Headers.ContentLength);
        Assert.Contains("private", content.Headers.CacheControl?.ToString());
        Assert.Equal(file, await content.Content.ReadAsByteArrayAsync(Ct));

        // The bytes of an id never change: a browser that has them is told so.
        using var again = new HttpRequestMessage(HttpMethod.Get, $"/api/media/{id}/content");
        again.Headers.IfNoneMatch.Add(content.Headers.ETag!);
        using var notModified = await client.SendAsync(again, Ct);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_PNG_built_by_hand_is_taken_interlaced_or_not(bool interlaced)
    {
        var (client, _) = NewUser();
        var media = await Upload(client, TestImages.HandPng(21, 13, interlaced));
        Assert.Equal(21, (int)media["width"]!);
        Assert.Equal(13, (int)media["height"]!);
    }

    [Fact]
    public async Task A_GIF_may_be_larger_than_an_image()
    {
        var (client, _) = NewUser();
        var file = TestImages.Gif(16, 16, commentBytes: 12 * 1024 * 1024);
        var media = await Upload(client, file, "big.gif", "image/gif");
        Assert.Equal("gif", (string?)media["type"]);
        using var content = await client.GetAsync($"/api/media/{media["id"]}/content", Ct);
        Assert.Equal(file, await content.Content.ReadAsByteArrayAsync(Ct));
    }

    public static TheoryData<string, Func<byte[]>, string, HttpStatusCode, string> BadUploads => new()
    {
        { "an executable renamed .png", () => [0x7F, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, .. new byte[2000]], "image/png", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type" },
        { "a Windows executable renamed .png", () => [(byte)'M', (byte)'Z', 0x90, 0, .. new byte[2000]], "image/png", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type" },
        { "a BMP (decodable, not one X takes)", () => TestImages.Encode(SKEncodedImageFormat.Png, 8, 8) is var png && Bmp(8, 8) is var bmp ? bmp : png, "image/png", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type" },
        { "an empty file", () => [], "image/png", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type" },
        { "a truncated PNG", () => TestImages.Png(300, 300)[..(TestImages.Png(300, 300).Length / 2)], "image/png", HttpStatusCode.BadRequest, "invalid_media" },
        { "a PNG cut just before its end", () => TestImages.Png(64, 64)[..^20], "image/png", HttpStatusCode.BadRequest, "invalid_media" },
        { "a truncated JPEG", () => TestImages.Jpeg(300, 300)[..(TestImages.Jpeg(300, 300).Length / 2)], "image/jpeg", HttpStatusCode.BadRequest, "invalid_media" },
        { "a truncated WebP", () => TestImages.Webp(300, 300)[..(TestImages.Webp(300, 300).Length / 2)], "image/webp", HttpStatusCode.BadRequest, "invalid_media" },
        { "a GIF without its end", () => TestImages.Gif(16, 16, withTrailer: false), "image/gif", HttpStatusCode.BadRequest, "invalid_media" },
        { "a GIF cut in its image data", () => TestImages.Gif(64, 64)[..^40], "image/gif", HttpStatusCode.BadRequest, "invalid_media" },
        { "a PNG signature and then garbage", () => [.. TestImages.Png(8, 8)[..16], .. Encoding.ASCII.GetBytes(new string('x', 500))], "image/png", HttpStatusCode.BadRequest, "invalid_media" },
        { "a PNG with a row missing", () => TestImages.HandPng(16, 16, rows: rows => rows[..^1]), "image/png", HttpStatusCode.BadRequest, "invalid_media" },
        { "a PNG with a row too many", () => TestImages.HandPng(16, 16, rows: rows => [.. rows, rows[0]]), "image/png", HttpStatusCode.BadRequest, "invalid_media" },
        { "an interlaced PNG with a pass cut short", () => TestImages.HandPng(16, 16, interlaced: true, rows: rows => rows[..^3]), "image/png", HttpStatusCode.BadRequest, "invalid_media" },
        { "a PNG with an unknown filter type", () => TestImages.HandPng(16, 16, rows: rows => [.. rows.Select((r, i) => i == 5 ? [(byte)9, .. r[1..]] : r)]), "image/png", HttpStatusCode.BadRequest, "invalid_media" },
        { "a PNG whose image data is damaged", () => TestImages.Png(64, 64) is var png ? [.. png[..(png.Length / 2)], (byte)(png[png.Length / 2] ^ 0xFF), .. png[(png.Length / 2 + 1)..]] : [], "image/png", HttpStatusCode.BadRequest, "invalid_media" },
        { "a 6 MB JPEG", () => TestImages.JpegOfSize(6 * 1024 * 1024), "image/jpeg", HttpStatusCode.RequestEntityTooLarge, "media_too_large" },
        { "a 16 MB GIF", () => TestImages.Gif(16, 16, commentBytes: 16 * 1024 * 1024), "image/gif", HttpStatusCode.RequestEntityTooLarge, "media_too_large" },
        { "a 9,000 px image", () => TestImages.Png(9_000, 10), "image/png", HttpStatusCode.BadRequest, "invalid_dimensions" },
        { "a 9,000 px high GIF", () => TestImages.Gif(4, 9_000), "image/gif", HttpStatusCode.BadRequest, "invalid_dimensions" },
        { "a 3 px image", () => TestImages.Png(3, 100), "image/png", HttpStatusCode.BadRequest, "invalid_dimensions" },
    };

    /// <summary>A 24-bit BMP (Skia decodes it; X does not take it).</summary>
    private static byte[] Bmp(int width, int height)
    {
        var rowBytes = (width * 3 + 3) & ~3;
        var size = 54 + rowBytes * height;
        var bmp = new byte[size];
        "BM"u8.CopyTo(bmp);
        BitConverter.TryWriteBytes(bmp.AsSpan(2), size);
        BitConverter.TryWriteBytes(bmp.AsSpan(10), 54);
        BitConverter.TryWriteBytes(bmp.AsSpan(14), 40);
        BitConverter.TryWriteBytes(bmp.AsSpan(18), width);
        BitConverter.TryWriteBytes(bmp.AsSpan(22), height);
        BitConverter.TryWriteBytes(bmp.AsSpan(26), (short)1);
        BitConverter.TryWriteBytes(bmp.AsSpan(28), (short)24);
        return bmp;
    }

    [Theory]
    [MemberData(nameof(BadUploads))]
    public async Task Bad_uploads_are_refused_and_store_nothing(string description, Func<byte[]> file, string contentType, HttpStatusCode status, string code)
    {
        var (client, userId) = NewUser();
        using var form = TestImages.Form(file(), "image.png", contentType, altText: description);
        using var response = await client.PostAsync("/api/media", form, Ct);

        var problem = await AssertProblem(response, status, code);
        Assert.False(string.IsNullOrEmpty((string?)problem["detail"]), description);
        Assert.Equal(0, await MediaCount(userId));
        Assert.Equal(0, await PieceCount(userId));
    }

    [Fact]
    public async Task A_body_over_the_limit_without_a_declared_length_is_413()
    {
        var (client, userId) = NewUser();
        var form = new MultipartFormDataContent();
        // No Content-Length: on Kestrel the body arrives in chunks and the request limit stops it; the form reader's own
        // limit stops it in any host.
        form.Add(new StreamContent(new GifLookingStream(20 * 1024 * 1024)), "file", "huge.gif");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/media") { Content = form };
        request.Headers.TransferEncodingChunked = true;
        using var response = await client.SendAsync(request, Ct);

        await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge, "media_too_large");
        Assert.Equal(0, await MediaCount(userId));
    }

    /// <summary>A GIF signature and zeros, of a length it does not tell.</summary>
    private sealed class GifLookingStream(long length) : Stream
    {
        private long _position;

        public override int Read(byte[] buffer, int offset, int count)
        {
            count = (int)Math.Min(count, length - _position);
            buffer.AsSpan(offset, count).Clear();
            if (_position == 0 && count >= 6)
            {
                "GIF89a"u8.CopyTo(buffer.AsSpan(offset));
            }

            _position += count;
            return count;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    public static TheoryData<string, Func<HttpContent>, string?> BadForms => new()
    {
        { "JSON, not a form", () => new StringContent("{\"file\":\"x\"}", Encoding.UTF8, "application/json"), "not_multipart" },
        { "a URL-encoded form", () => new FormUrlEncodedContent([new("file", "x")]), "not_multipart" },
        { "no file", () => new MultipartFormDataContent { { new StringContent("alt"), "altText" } }, null },
        { "the file as a plain field", () => new MultipartFormDataContent { { new StringContent("not a file"), "file" } }, null },
        { "two files", () => new MultipartFormDataContent { { new ByteArrayContent(TestImages.Png(8, 8)), "file", "a.png" }, { new ByteArrayContent(TestImages.Png(8, 8)), "file", "b.png" } }, null },
        { "an unknown field", () => TestImages.Form(TestImages.Png(8, 8)) is var form && Add(form, "caption", "hi") ? form : form, null },
        { "alt text of 1,001 characters", () => TestImages.Form(TestImages.Png(8, 8), altText: new string('a', 1_001)), null },
        { "alt text with a NUL", () => TestImages.Form(TestImages.Png(8, 8), altText: "a\0b"), null },
        { "alt text twice", () => TestImages.Form(TestImages.Png(8, 8), altText: "one") is var form && Add(form, "altText", "two") ? form : form, null },
    };

    private static bool Add(MultipartFormDataContent form, string name, string value)
    {
        form.Add(new StringContent(value), name);
        return true;
    }

    [Theory]
    [MemberData(nameof(BadForms))]
    public async Task Bad_forms_are_400_and_store_nothing(string description, Func<HttpContent> content, string? code)
    {
        var (client, userId) = NewUser();
        using var body = content();
        using var response = await client.PostAsync("/api/media", body, Ct);
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest, code);
        Assert.True(code is not null || problem["errors"] is JsonObject, $"{description}: {problem.ToJsonString()}");
        Assert.Equal(0, await MediaCount(userId));
    }

    [Fact]
    public async Task Alt_text_is_changed_and_cleared()
    {
        var (client, _) = NewUser();
        var id = (string)(await Upload(client, TestImages.Png(8, 8)))["id"]!;

        using var set = await client.PatchAsJsonAsync($"/api/media/{id}", new { altText = "Cafe\u0301 at dawn" }, Ct);
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal("Café at dawn", (string?)(await set.Content.ReadFromJsonAsync<JsonObject>(Ct))!["altText"]);
        Assert.Equal("Café at dawn", (string?)(await client.GetFromJsonAsync<JsonObject>($"/api/media/{id}", Ct))!["altText"]);

        foreach (var cleared in new[] { "{\"altText\":null}", "{\"altText\":\"\"}", "{\"altText\":\"   \"}" })
        {
            await Patch(client, id, "{\"altText\":\"something\"}", HttpStatusCode.OK);
            using var response = await Patch(client, id, cleared, HttpStatusCode.OK);
            Assert.Null((await client.GetFromJsonAsync<JsonObject>($"/api/media/{id}", Ct))!["altText"]);
        }
    }

    private static async Task<HttpResponseMessage> Patch(HttpClient client, string id, string json, HttpStatusCode expected)
    {
        var response = await client.PatchAsync($"/api/media/{id}", new StringContent(json, Encoding.UTF8, "application/json"), Ct);
        Assert.True(response.StatusCode == expected, $"{json}: {response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
        return response;
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"altText\":5}")]
    [InlineData("{\"altText\":[\"a\"]}")]
    [InlineData("{\"altText\":\"a\",\"extra\":1}")]
    [InlineData("{\"altText\":")]
    [InlineData("null")]
    public async Task Bad_alt_text_changes_are_400_and_change_nothing(string json)
    {
        var (client, _) = NewUser();
        var id = (string)(await Upload(client, TestImages.Png(8, 8), altText: "kept"))["id"]!;
        using var response = await Patch(client, id, json, HttpStatusCode.BadRequest);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var tooLong = await Patch(client, id, $"{{\"altText\":\"{new string('a', 1_001)}\"}}", HttpStatusCode.BadRequest);
        Assert.Equal("kept", (string?)(await client.GetFromJsonAsync<JsonObject>($"/api/media/{id}", Ct))!["altText"]);
    }

    [Fact]
    public async Task Deleting_removes_the_media_and_its_contents()
    {
        var (client, userId) = NewUser();
        var id = (string)(await Upload(client, TestImages.Png(8, 8)))["id"]!;
        using var deleted = await client.DeleteAsync($"/api/media/{id}", Ct);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(0, await MediaCount(userId));
        Assert.Equal(0, await PieceCount(userId));
        using var again = await client.DeleteAsync($"/api/media/{id}", Ct);
        await AssertProblem(again, HttpStatusCode.NotFound, null);
        using var read = await client.GetAsync($"/api/media/{id}", Ct);
        await AssertProblem(read, HttpStatusCode.NotFound, null);
    }

    [Fact]
    public async Task Another_users_media_is_404_everywhere_and_unchanged()
    {
        var (owner, ownerId) = NewUser();
        var id = (string)(await Upload(owner, TestImages.Png(8, 8), altText: "mine"))["id"]!;
        var (other, _) = NewUser();

        foreach (var (method, url, body) in new (HttpMethod, string, string?)[]
        {
            (HttpMethod.Get, $"/api/media/{id}", null),
            (HttpMethod.Get, $"/api/media/{id}/content", null),
            (HttpMethod.Patch, $"/api/media/{id}", "{\"altText\":\"theirs\"}"),
            (HttpMethod.Delete, $"/api/media/{id}", null),
            (HttpMethod.Get, $"/api/media/{Guid.NewGuid()}", null),
            (HttpMethod.Get, $"/api/media/{Guid.NewGuid()}/content", null),
            (HttpMethod.Patch, $"/api/media/{Guid.NewGuid()}", "{\"altText\":\"x\"}"),
            (HttpMethod.Delete, $"/api/media/{Guid.NewGuid()}", null),
        })
        {
            using var request = new HttpRequestMessage(method, url) { Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json") };
            using var response = await other.SendAsync(request, Ct);
            var problem = await AssertProblem(response, HttpStatusCode.NotFound, null);
            Assert.Equal("Media not found.", (string?)problem["detail"]);
        }

        Assert.Empty((await other.GetFromJsonAsync<JsonObject>("/api/media", Ct))!["items"]!.AsArray());
        Assert.Equal(1, await MediaCount(ownerId));
        Assert.Equal("mine", (string?)(await owner.GetFromJsonAsync<JsonObject>($"/api/media/{id}", Ct))!["altText"]);
        using var path = await other.GetAsync("/api/media/not-a-guid", Ct);
        Assert.Equal(HttpStatusCode.NotFound, path.StatusCode);
    }

    [Fact]
    public async Task The_list_is_newest_first_in_pages()
    {
        var (client, _) = NewUser();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((string)(await Upload(client, TestImages.Png(8, 8, seed: i)))["id"]!);
        }

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = (await client.GetFromJsonAsync<JsonObject>($"/api/media?limit=2{(cursor is null ? "" : "&cursor=" + cursor)}", Ct))!;
            seen.AddRange(page["items"]!.AsArray().Select(m => (string)m!["id"]!));
            cursor = (string?)page["nextCursor"];
        }
        while (cursor is not null);

        ids.Reverse();
        Assert.Equal(ids, seen);
        foreach (var bad in new[] { "limit=0", "limit=201", "cursor=nope", "limit=x" })
        {
            using var response = await client.GetAsync($"/api/media?{bad}", Ct);
            await AssertProblem(response, HttpStatusCode.BadRequest, null);
        }
    }

    [Fact]
    public async Task Removed_contents_are_410_and_the_metadata_stays()
    {
        var (client, _) = NewUser();
        var id = Guid.Parse((string)(await Upload(client, TestImages.Png(8, 8)))["id"]!);
        await api.ExecuteAsync("DELETE FROM media_contents WHERE media_id = $1", id);
        await api.ExecuteAsync("UPDATE media SET content_removed_at = now() WHERE id = $1", id);

        using var content = await client.GetAsync($"/api/media/{id}/content", Ct);
        await AssertProblem(content, HttpStatusCode.Gone, "media_content_removed");
        using var metadata = await client.GetAsync($"/api/media/{id}", Ct);
        Assert.Equal(HttpStatusCode.OK, metadata.StatusCode);
    }
}
