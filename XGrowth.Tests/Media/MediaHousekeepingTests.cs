extern alias worker;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using XGrowth.Tests.Infrastructure;
using worker::XGrowth.Worker;

namespace XGrowth.Tests.Media;

/// <summary>The worker's housekeeping of media, on the real database: unused media goes after a day, contents 30 days after their posts are final.</summary>
public class MediaHousekeepingTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<string> Upload(HttpClient client, int seed)
    {
        using var form = TestImages.Form(TestImages.Png(8, 8, seed));
        using var response = await client.PostAsync("/api/media", form, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!;
    }

    private async Task<string> Post(HttpClient client, Guid accountId, params string[] mediaIds)
    {
        using var response = await client.PostAsJsonAsync("/api/posts", new
        {
            xAccountId = accountId, parts = new[] { new { text = "with media", mediaIds } }, scheduledAt = DateTimeOffset.UtcNow.AddHours(1).ToString("O"),
        }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!;
    }

    private Task Sql(string sql, params object[] parameters) => api.CountAsync($"WITH done AS ({sql} RETURNING 1) SELECT count(*) FROM done", parameters);

    private Task<long> Exists(string mediaId) => api.CountAsync("SELECT count(*) FROM media WHERE id = $1::uuid", mediaId);

    private Task<long> Pieces(string mediaId) => api.CountAsync("SELECT count(*) FROM media_contents WHERE media_id = $1::uuid", mediaId);

    private Task RunHousekeeping() =>
        new Housekeeping(api.Database, new FakeTimeProvider(DateTimeOffset.UtcNow), NullLogger<Housekeeping>.Instance).RunOnceAsync(Ct);

    [Fact]
    public async Task Media_no_post_uses_goes_a_day_after_it_was_last_used()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        var client = api.ClientFor(userId);
        var (old, recent, attached, detached) = (await Upload(client, 1), await Upload(client, 2), await Upload(client, 3), await Upload(client, 4));
        var post = await Post(client, accountId, attached, detached);
        // All uploaded long ago; "detached" is taken out of its post just now.
        await Sql("UPDATE media SET created_at = now() - interval '30 days', updated_at = now() - interval '25 hours' WHERE id = ANY($1::uuid[])",
            (object)new[] { old, attached, detached });
        using var edit = await client.PatchAsJsonAsync($"/api/posts/{post}", new { parts = new[] { new { text = "with media", mediaIds = new[] { attached } } } }, Ct);
        Assert.Equal(HttpStatusCode.OK, edit.StatusCode);
        await Sql("UPDATE media SET updated_at = now() - interval '25 hours' WHERE id = $1::uuid", attached);

        await RunHousekeeping();

        Assert.Equal(0, await Exists(old));
        Assert.Equal(0, await Pieces(old));
        Assert.Equal(1, await Exists(recent));
        Assert.Equal(1, await Exists(attached));
        Assert.Equal(1, await Exists(detached));

        // A day after it was taken out, it goes too.
        await Sql("UPDATE media SET updated_at = now() - interval '25 hours' WHERE id = $1::uuid", detached);
        await RunHousekeeping();
        Assert.Equal(0, await Exists(detached));
        Assert.Equal(1, await Exists(attached));
    }

    [Fact]
    public async Task Contents_go_30_days_after_every_post_using_them_is_final()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        var client = api.ClientFor(userId);
        var (done, shared, cancelledRecently, failed) = (await Upload(client, 1), await Upload(client, 2), await Upload(client, 3), await Upload(client, 4));
        var published = await Post(client, accountId, done, shared);
        var stillScheduled = await Post(client, accountId, shared);
        var cancelled = await Post(client, accountId, cancelledRecently);
        var failing = await Post(client, accountId, failed);
        await Sql("UPDATE media SET updated_at = now() - interval '40 days' WHERE user_id = $1", userId);
        await Sql("UPDATE scheduled_posts SET status = 'published', published_at = now() - interval '31 days' WHERE id = $1::uuid", published);
        await Sql("UPDATE scheduled_posts SET status = 'cancelled', updated_at = now() - interval '10 days' WHERE id = $1::uuid", cancelled);
        await Sql("UPDATE scheduled_posts SET status = 'failed', updated_at = now() - interval '40 days' WHERE id = $1::uuid", failing);

        await RunHousekeeping();

        Assert.Equal(0, await Pieces(done));
        Assert.NotNull(await api.ScalarAsync<DateTime?>("SELECT content_removed_at FROM media WHERE id = $1::uuid", done));
        // The metadata stays, and the post still shows its media.
        var post = (await client.GetFromJsonAsync<JsonObject>($"/api/posts/{published}", Ct))!;
        Assert.Equal(done, (string?)post["parts"]![0]!["media"]![0]!["id"]);
        using var content = await client.GetAsync($"/api/media/{done}/content", Ct);
        Assert.Equal(HttpStatusCode.Gone, content.StatusCode);

        foreach (var kept in new[] { shared, cancelledRecently, failed })
        {
            Assert.Equal(1, await Pieces(kept));
            Assert.Null(await api.ScalarAsync<DateTime?>("SELECT content_removed_at FROM media WHERE id = $1::uuid", kept));
        }

        // Once the last post using it is final for 30 days, the shared media goes too.
        await Sql("UPDATE scheduled_posts SET status = 'cancelled', updated_at = now() - interval '31 days' WHERE id = $1::uuid", stillScheduled);
        await RunHousekeeping();
        Assert.Equal(0, await Pieces(shared));
        Assert.Equal(1, await Exists(shared));
    }
}
