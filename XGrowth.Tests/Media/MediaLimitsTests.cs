using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Media;

/// <summary>An API whose per-user media limits are small enough to reach in a test.</summary>
public sealed class ApiWithSmallMediaLimits(TestPostgres postgres) : ApiFactory(postgres)
{
    public const int MaxUnattached = 3;
    public const long MaxStoredBytes = 3 * 1024 * 1024;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Media:MaxUnattachedPerUser", MaxUnattached.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Media:MaxStoredBytesPerUser", MaxStoredBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}

public class MediaLimitsTests(ApiWithSmallMediaLimits api) : IClassFixture<ApiWithSmallMediaLimits>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<HttpResponseMessage> Upload(HttpClient client, byte[] file)
    {
        using var form = TestImages.Form(file);
        return await client.PostAsync("/api/media", form, Ct);
    }

    [Fact]
    public async Task Unused_uploads_are_limited_per_user_and_attaching_one_makes_room()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        var client = api.ClientFor(userId);
        var ids = new List<string>();
        for (var i = 0; i < ApiWithSmallMediaLimits.MaxUnattached; i++)
        {
            using var ok = await Upload(client, TestImages.Png(8, 8, i));
            Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
            ids.Add((string)(await ok.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!);
        }

        using var refused = await Upload(client, TestImages.Png(8, 8, 9));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("limit_reached", (string?)(await refused.Content.ReadFromJsonAsync<JsonObject>(Ct))!["code"]);
        Assert.Equal(ApiWithSmallMediaLimits.MaxUnattached, await api.CountAsync("SELECT count(*) FROM media WHERE user_id = $1", userId));

        using var post = await client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, parts = new[] { new { text = "x", mediaIds = new[] { ids[0] } } } }, Ct);
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        using var again = await Upload(client, TestImages.Png(8, 8, 9));
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);

        // Another user has limits of their own.
        using var other = await Upload(api.ClientFor(ApiFactory.NewUserId()), TestImages.Png(8, 8));
        Assert.Equal(HttpStatusCode.Created, other.StatusCode);
    }

    [Fact]
    public async Task Stored_bytes_are_limited_per_user()
    {
        var userId = ApiFactory.NewUserId();
        var client = api.ClientFor(userId);
        using var first = await Upload(client, TestImages.JpegOfSize(2 * 1024 * 1024));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        using var refused = await Upload(client, TestImages.JpegOfSize(1536 * 1024));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("limit_reached", (string?)(await refused.Content.ReadFromJsonAsync<JsonObject>(Ct))!["code"]);
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM media WHERE user_id = $1", userId));
    }
}
