using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Data;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Worker;

/// <summary>
/// Posts and threads with media, published by the worker to the X stand-in: each part's media uploaded just before its
/// post (images in one request, GIFs in chunks with processing), byte for byte, with alt text; X's refusals and
/// failures of uploads, which post nothing and so are never "unconfirmed".
/// </summary>
/// <remarks>The media rows are written here as the upload API stores them (metadata, then 1 MiB pieces), to test the worker on its own.</remarks>
public class MediaPublishingTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Account(string UserId, HttpClient Client, Guid Id, string XUserId, string Tag);

    private async Task<Account> NewAccount(string? grantedScopes = null)
    {
        var userId = ApiFactory.NewUserId();
        var xUserId = Random.Shared.NextInt64(1, long.MaxValue).ToString(CultureInfo.InvariantCulture);
        var accountId = await api.ConnectXAccountAsync(userId, xUserId, grantedScopes);
        return new Account(userId, api.ClientFor(userId), accountId, xUserId, Guid.NewGuid().ToString("N")[..8]);
    }

    private static async Task<Guid> SchedulePost(Account account, string[] texts)
    {
        using var response = await account.Client.PostAsJsonAsync("/api/posts", new
        {
            xAccountId = account.Id, parts = texts.Select(text => new { text }).ToArray(),
            scheduledAt = DateTimeOffset.UtcNow.AddSeconds(2).ToString("O", CultureInfo.InvariantCulture),
        }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!);
    }

    /// <summary>Stores media of <paramref name="userId"/> as the upload API does; answers its id.</summary>
    private async Task<Guid> StoreMedia(string userId, byte[] bytes, bool gif = false, string? altText = null)
    {
        var id = Guid.CreateVersion7();
        await using var connection = await api.Database.OpenConnectionAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO media (id, user_id, type, content_type, bytes, width, height, alt_text, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, 640, 480, $6, now(), now())
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = id });
            insert.Parameters.Add(new NpgsqlParameter { Value = userId });
            insert.Parameters.Add(new NpgsqlParameter { Value = gif ? "gif" : "image" });
            insert.Parameters.Add(new NpgsqlParameter { Value = gif ? "image/gif" : "image/png" });
            insert.Parameters.Add(new NpgsqlParameter { Value = (long)bytes.Length });
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)altText ?? DBNull.Value });
            await insert.ExecuteNonQueryAsync(Ct);
        }

        for (var index = 0; index * MediaChunk.Size < bytes.Length; index++)
        {
            await using var piece = new NpgsqlCommand("INSERT INTO media_contents (media_id, index, data) VALUES ($1, $2, $3)", connection, transaction);
            piece.Parameters.Add(new NpgsqlParameter { Value = id });
            piece.Parameters.Add(new NpgsqlParameter { Value = index });
            piece.Parameters.Add(new NpgsqlParameter { Value = bytes[(index * MediaChunk.Size)..Math.Min(bytes.Length, (index + 1) * MediaChunk.Size)] });
            await piece.ExecuteNonQueryAsync(Ct);
        }

        await transaction.CommitAsync(Ct);
        return id;
    }

    private async Task Attach(Guid postId, int part, params Guid[] mediaIds)
    {
        for (var i = 0; i < mediaIds.Length; i++)
        {
            await using var command = api.Database.CreateCommand(
                "INSERT INTO post_part_media (post_id, part_position, position, media_id) VALUES ($1, $2, $3, $4)");
            command.Parameters.Add(new NpgsqlParameter { Value = postId });
            command.Parameters.Add(new NpgsqlParameter { Value = part });
            command.Parameters.Add(new NpgsqlParameter { Value = i });
            command.Parameters.Add(new NpgsqlParameter { Value = mediaIds[i] });
            await command.ExecuteNonQueryAsync(Ct);
        }
    }

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private async Task<string> WaitForStatus(Guid postId, TimeSpan timeout, params string[] wanted)
    {
        var deadline = DateTime.UtcNow + timeout;
        string? status;
        while (Array.IndexOf(wanted, status = await api.ScalarAsync<string>("SELECT status FROM scheduled_posts WHERE id = $1", postId)) < 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the post is still {status} after {timeout}");
            Assert.True(Array.IndexOf(Ended, status) < 0, $"the post ended {status}: "
                + await api.ScalarAsync<string>("SELECT error FROM scheduled_posts WHERE id = $1", postId));
            await Task.Delay(100, Ct);
        }

        return status!;
    }

    private static readonly string[] Ended = ["published", "failed", "unconfirmed"];

    private async Task<JsonObject> Post(Account account, Guid id) => (await account.Client.GetFromJsonAsync<JsonObject>($"/api/posts/{id}", Ct))!;

    private List<XGrowth.DevStandIns.X.XStandIn.XPost> PostsOnX(string tag) =>
        api.X.Posts.Where(p => p.Text.Contains(tag, StringComparison.Ordinal)).ToList();

    [Fact]
    public async Task A_five_part_thread_with_images_is_published_in_order_each_part_with_its_own_images_byte_for_byte()
    {
        var account = await NewAccount();
        var texts = Enumerable.Range(1, 5).Select(i => $"media thread {account.Tag} part {i}/5").ToArray();
        // Part 1: one image of several stored pieces; part 2: four; part 3: none; parts 4 and 5: one each, with alt text.
        var images = new[]
        {
            new[] { RandomBytes((2 * MediaChunk.Size) + 12_345) },
            Enumerable.Range(0, 4).Select(_ => RandomBytes(50_000)).ToArray(),
            [],
            new[] { RandomBytes(200_000) },
            new[] { RandomBytes(MediaChunk.Size) },
        };
        var id = await SchedulePost(account, texts);
        for (var part = 0; part < images.Length; part++)
        {
            var ids = new List<Guid>();
            foreach (var image in images[part])
            {
                ids.Add(await StoreMedia(account.UserId, image, altText: part >= 3 ? $"alt {account.Tag} {part}" : null));
            }

            await Attach(id, part, [.. ids]);
        }

        await using var worker = new WorkerFactory(api).Start();
        Assert.Equal("published", await WaitForStatus(id, TimeSpan.FromSeconds(40), Ended));

        var onX = PostsOnX(account.Tag);
        Assert.Equal(texts, onX.Select(p => p.Text));
        var parts = (await Post(account, id))["parts"]!.AsArray();
        string? previous = null;
        for (var part = 0; part < texts.Length; part++)
        {
            Assert.Equal((string?)parts[part]!["xPostId"], onX[part].Id);
            Assert.Equal(previous, onX[part].InReplyTo);
            previous = onX[part].Id;
            var media = (onX[part].MediaIds ?? []).Select(m => api.X.FindMedia(m)!).ToList();
            Assert.Equal(images[part].Select(Sha256), media.Select(m => m.Sha256));
            Assert.All(media, m => Assert.Equal("tweet_image", m.Category));
            Assert.All(media, m => Assert.Equal(part >= 3 ? $"alt {account.Tag} {part}" : null, m.AltText));
        }
    }

    [Fact]
    public async Task End_to_end_an_uploaded_image_and_gif_go_out_with_a_three_part_thread_as_uploaded()
    {
        var account = await NewAccount();
        var png = XGrowth.Tests.Media.TestImages.Png(640, 480);
        var gif = XGrowth.Tests.Media.TestImages.Gif(32, 32, commentBytes: MediaChunk.Size + 5_000);
        using var pngForm = XGrowth.Tests.Media.TestImages.Form(png, altText: "a chart");
        using var uploadedPng = await account.Client.PostAsync("/api/media", pngForm, Ct);
        Assert.Equal(HttpStatusCode.Created, uploadedPng.StatusCode);
        using var gifForm = XGrowth.Tests.Media.TestImages.Form(gif, "cat.gif", "image/gif");
        using var uploadedGif = await account.Client.PostAsync("/api/media", gifForm, Ct);
        Assert.Equal(HttpStatusCode.Created, uploadedGif.StatusCode);
        var pngId = (string)(await uploadedPng.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!;
        var gifId = (string)(await uploadedGif.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!;

        var texts = new[] { $"e2e {account.Tag} 1", $"e2e {account.Tag} 2", "" };
        using var created = await account.Client.PostAsJsonAsync("/api/posts", new
        {
            xAccountId = account.Id,
            scheduledAt = DateTimeOffset.UtcNow.AddSeconds(1).ToString("O", CultureInfo.InvariantCulture),
            parts = new object[]
            {
                new { text = texts[0], mediaIds = new[] { pngId } },
                new { text = texts[1] },
                new { text = texts[2], mediaIds = new[] { gifId } },
            },
        }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = Guid.Parse((string)(await created.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!);

        await using var worker = new WorkerFactory(api).Start();
        Assert.Equal("published", await WaitForStatus(id, TimeSpan.FromSeconds(40), Ended));

        var parts = (await Post(account, id))["parts"]!.AsArray();
        var onX = parts.Select(part => api.X.FindPost((string)part!["xPostId"]!)!).ToList();
        Assert.Equal(texts, onX.Select(p => p.Text));
        Assert.Equal([null, onX[0].Id, onX[1].Id], onX.Select(p => p.InReplyTo));
        var image = api.X.FindMedia(Assert.Single(onX[0].MediaIds!))!;
        Assert.Equal((Sha256(png), "tweet_image", "a chart"), (image.Sha256, image.Category, image.AltText));
        Assert.Null(onX[1].MediaIds);
        var animation = api.X.FindMedia(Assert.Single(onX[2].MediaIds!))!;
        Assert.Equal((Sha256(gif), "tweet_gif", 2), (animation.Sha256, animation.Category, animation.Segments));
        Assert.Equal(pngId, (string?)parts[0]!["media"]![0]!["id"]);
    }

    [Fact]
    public async Task A_gif_is_uploaded_in_chunks_and_posted_once_x_has_processed_it()
    {
        var account = await NewAccount();
        var gif = RandomBytes((2 * MediaChunk.Size) + 777);
        var id = await SchedulePost(account, [$"gif {account.Tag}"]);
        await Attach(id, 0, await StoreMedia(account.UserId, gif, gif: true, altText: "a dancing cat"));

        await using var worker = new WorkerFactory(api).Start();
        Assert.Equal("published", await WaitForStatus(id, TimeSpan.FromSeconds(40), Ended));

        var posted = Assert.Single(PostsOnX(account.Tag));
        var media = api.X.FindMedia(Assert.Single(posted.MediaIds!))!;
        Assert.Equal("tweet_gif", media.Category);
        Assert.Equal(3, media.Segments);
        Assert.Equal(Sha256(gif), media.Sha256);
        Assert.Equal("succeeded", media.State);
        // pending at finalize, in_progress at the first STATUS, succeeded at the second: the post waited for both.
        Assert.Equal(2, media.StatusChecks);
        Assert.Equal("a dancing cat", media.AltText);
    }

    [Fact]
    public async Task A_gif_x_fails_to_process_fails_the_post_with_xs_reason_and_posts_nothing()
    {
        var account = await NewAccount();
        api.X.GifProcessingFails[account.XUserId] = true;
        var id = await SchedulePost(account, [$"bad gif {account.Tag}"]);
        await Attach(id, 0, await StoreMedia(account.UserId, RandomBytes(100_000), gif: true));

        await using var worker = new WorkerFactory(api).Start();
        Assert.Equal("failed", await WaitForStatus(id, TimeSpan.FromSeconds(40), Ended));

        Assert.Empty(PostsOnX(account.Tag));
        var error = (string?)(await Post(account, id))["error"];
        Assert.Contains("X could not process the GIF", error, StringComparison.Ordinal);
        Assert.Contains("Unsupported animated GIF", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Media_x_refuses_mid_thread_fails_the_thread_with_xs_reason_keeping_the_parts_before()
    {
        var account = await NewAccount();
        var texts = new[] { $"refused {account.Tag} 1", $"refused {account.Tag} 2", $"refused {account.Tag} 3" };
        var id = await SchedulePost(account, texts);
        await Attach(id, 1, await StoreMedia(account.UserId, RandomBytes(10_000)));
        // The first upload of the account (part 2's image) is refused with a 400.
        api.X.FailMediaUploads(account.XUserId, 400);

        await using var worker = new WorkerFactory(api).Start();
        Assert.Equal("failed", await WaitForStatus(id, TimeSpan.FromSeconds(40), Ended));

        var post = await Post(account, id);
        Assert.Equal([texts[0]], PostsOnX(account.Tag).Select(p => p.Text));
        Assert.NotNull(post["parts"]![0]!["xPostId"]);
        Assert.Null(post["parts"]![1]!["xPostId"]);
        var error = (string?)post["error"];
        Assert.StartsWith("Part 2 of 3 (part 1 is on X): ", error, StringComparison.Ordinal);
        Assert.Contains("media type unrecognized", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_upload_x_fails_with_a_5xx_is_retried_later_not_left_unconfirmed_and_the_post_goes_out_once()
    {
        var account = await NewAccount();
        var texts = new[] { $"retry media {account.Tag} 1", $"retry media {account.Tag} 2" };
        var id = await SchedulePost(account, texts);
        await Attach(id, 1, await StoreMedia(account.UserId, RandomBytes(30_000)));
        api.X.FailMediaUploads(account.XUserId, 503);

        await using (var worker = new WorkerFactory(api, configure: b => b.UseSetting("PostPublishing:FirstRetryDelay", "00:00:01")).Start())
        {
            Assert.Equal("published", await WaitForStatus(id, TimeSpan.FromSeconds(40), Ended));
        }

        var onX = PostsOnX(account.Tag);
        Assert.Equal(texts, onX.Select(p => p.Text));
        Assert.Equal(onX[0].Id, onX[1].InReplyTo);
        Assert.Single(onX[1].MediaIds!);
        // Two attempts: the first posted part 1 and stopped at part 2's upload; the second sent part 2 only.
        Assert.Equal(2, await api.ScalarAsync<int>("SELECT attempts FROM scheduled_posts WHERE id = $1", id));
    }

    [Fact]
    public async Task An_account_connected_without_media_write_fails_a_media_post_before_anything_is_posted_and_must_reconnect()
    {
        var account = await NewAccount(grantedScopes: "tweet.read tweet.write users.read offline.access");
        Assert.Equal("tweet.read tweet.write users.read offline.access",
            await api.ScalarAsync<string>("SELECT scopes FROM x_accounts WHERE id = $1", account.Id));
        var id = await SchedulePost(account, [$"no scope {account.Tag} 1", $"no scope {account.Tag} 2"]);
        await Attach(id, 1, await StoreMedia(account.UserId, RandomBytes(10_000)));

        await using var worker = new WorkerFactory(api).Start();
        Assert.Equal("failed", await WaitForStatus(id, TimeSpan.FromSeconds(40), Ended));

        Assert.Empty(PostsOnX(account.Tag));
        Assert.Contains("media.write", (string?)(await Post(account, id))["error"], StringComparison.Ordinal);
        Assert.Equal("needs_reconnect", await api.ScalarAsync<string>("SELECT status FROM x_accounts WHERE id = $1", account.Id));
    }

    [Fact]
    public async Task When_x_refuses_an_upload_with_403_the_account_is_flagged_for_reconnection_with_a_clear_error()
    {
        // Scopes not known (an account connected before they were kept): X's 403 is what tells.
        var account = await NewAccount(grantedScopes: "tweet.read tweet.write users.read offline.access");
        await using (var forget = api.Database.CreateCommand("UPDATE x_accounts SET scopes = NULL WHERE id = $1"))
        {
            forget.Parameters.Add(new NpgsqlParameter { Value = account.Id });
            await forget.ExecuteNonQueryAsync(Ct);
        }

        var id = await SchedulePost(account, [$"forbidden {account.Tag}"]);
        await Attach(id, 0, await StoreMedia(account.UserId, RandomBytes(10_000)));

        await using var worker = new WorkerFactory(api).Start();
        Assert.Equal("failed", await WaitForStatus(id, TimeSpan.FromSeconds(40), Ended));

        Assert.Empty(PostsOnX(account.Tag));
        var error = (string?)(await Post(account, id))["error"];
        Assert.Contains("reconnect the account", error, StringComparison.Ordinal);
        Assert.Contains("media.write", error, StringComparison.Ordinal);
        Assert.Equal("needs_reconnect", await api.ScalarAsync<string>("SELECT status FROM x_accounts WHERE id = $1", account.Id));
    }

    [Fact]
    public async Task A_rate_limited_upload_waits_for_xs_reset_and_then_publishes()
    {
        var account = await NewAccount();
        var id = await SchedulePost(account, [$"limited media {account.Tag}"]);
        await Attach(id, 0, await StoreMedia(account.UserId, RandomBytes(10_000)));
        api.X.FailMediaUploads(account.XUserId, 429);

        await using var worker = new WorkerFactory(api).Start();
        Assert.Equal("published", await WaitForStatus(id, TimeSpan.FromSeconds(40), Ended));
        Assert.Single(Assert.Single(PostsOnX(account.Tag)).MediaIds!);
        Assert.True(await api.ScalarAsync<bool>("SELECT rate_limited_until IS NOT NULL FROM x_accounts WHERE id = $1", account.Id));
    }
}
