using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Posts;

public class PostsApiTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string At(TimeSpan fromNow) => DateTimeOffset.UtcNow.Add(fromNow).ToString("yyyy-MM-ddTHH:mm:ss.fffzzz", CultureInfo.InvariantCulture);

    private async Task<(HttpClient Client, Guid AccountId, string UserId)> NewUserWithAccount()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        return (api.ClientFor(userId), accountId, userId);
    }

    private static Task<HttpResponseMessage> PostJson(HttpClient client, string url, string json, HttpMethod? method = null) =>
        client.SendAsync(new HttpRequestMessage(method ?? HttpMethod.Post, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") }, Ct);

    private static async Task<JsonObject> CreatePost(HttpClient client, Guid accountId, string text = "hello", TimeSpan? at = null)
    {
        using var response = await client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, text, scheduledAt = At(at ?? TimeSpan.FromHours(1)) }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
    }

    private static async Task<JsonObject> GetJson(HttpClient client, string url)
    {
        using var response = await client.GetAsync(url, Ct);
        Assert.True(response.IsSuccessStatusCode, $"{url}: {await response.Content.ReadAsStringAsync(Ct)}");
        return (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
    }

    private Task<long> PostCount(Guid accountId) => api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE x_account_id = $1", accountId);

    [Fact]
    public async Task Create_answers_201_with_location_and_the_post()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var scheduledAt = DateTimeOffset.UtcNow.AddDays(2);
        using var response = await client.PostAsJsonAsync("/api/posts",
            new { xAccountId = accountId, text = "Hello, X", scheduledAt = scheduledAt.ToOffset(TimeSpan.FromHours(1)).ToString("O") }, Ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var post = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.Equal($"/api/posts/{post["id"]}", response.Headers.Location?.OriginalString);
        Assert.Equal(accountId.ToString(), (string?)post["xAccountId"]);
        Assert.Equal("Hello, X", (string?)post["text"]);
        Assert.Equal("scheduled", (string?)post["status"]);
        Assert.Equal(scheduledAt.ToUnixTimeMilliseconds(), DateTimeOffset.Parse((string)post["scheduledAt"]!, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds());
        foreach (var field in new[] { "xPostId", "xPostUrl", "publishedAt", "error" })
        {
            Assert.True(post.ContainsKey(field) && post[field] is null, field);
        }

        Assert.Equal(1, await PostCount(accountId));
    }

    [Theory]
    [InlineData("{0}T09:30:00.1234567+01:00", "{0}T08:30:00.123456+00:00")]
    [InlineData("{0}T09:30:00.9999999-05:30", "{0}T15:00:00.999999+00:00")]
    [InlineData("{0}T09:30Z", "{0}T09:30:00+00:00")]
    public async Task A_new_post_answers_the_time_a_later_read_shows_to_the_microsecond(string given, string kept)
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var day = DateTime.UtcNow.AddDays(3).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        using var response = await client.PostAsJsonAsync("/api/posts",
            new { xAccountId = accountId, text = "To the microsecond", scheduledAt = string.Format(CultureInfo.InvariantCulture, given, day) }, Ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.Equal(string.Format(CultureInfo.InvariantCulture, kept, day), (string?)created["scheduledAt"]);
        var read = (await client.GetFromJsonAsync<JsonObject>($"/api/posts/{created["id"]}", Ct))!;
        Assert.True(JsonNode.DeepEquals(created, read), $"{created.ToJsonString()} != {read.ToJsonString()}");
    }

    [Fact]
    public async Task A_post_created_while_its_account_is_being_disconnected_waits_and_is_refused_and_nothing_is_written()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        await using var connection = await api.Database.OpenConnectionAsync(Ct);
        await using var disconnect = await connection.BeginTransactionAsync(Ct);
        // What DELETE /api/x-accounts/{id} does, held open: the account disconnected, its waiting posts cancelled.
        await using (var update = new Npgsql.NpgsqlCommand("UPDATE x_accounts SET status = 'disconnected' WHERE id = $1", connection, disconnect))
        {
            update.Parameters.Add(new() { Value = accountId });
            await update.ExecuteNonQueryAsync(Ct);
        }

        var create = client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, text = "Racing the disconnect", scheduledAt = At(TimeSpan.FromHours(2)) }, Ct);
        await Task.Delay(TimeSpan.FromMilliseconds(500), Ct);
        Assert.False(create.IsCompleted);
        await using (var cancel = new Npgsql.NpgsqlCommand("UPDATE scheduled_posts SET status = 'cancelled' WHERE x_account_id = $1 AND status = 'scheduled'", connection, disconnect))
        {
            cancel.Parameters.Add(new() { Value = accountId });
            await cancel.ExecuteNonQueryAsync(Ct);
        }

        await disconnect.CommitAsync(Ct);
        using var answer = await create;

        Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
        Assert.Equal(0, await PostCount(accountId));
    }

    [Fact]
    public async Task A_draft_scheduled_while_its_account_is_being_disconnected_waits_and_stays_a_draft()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        using var drafted = await client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, text = "A draft racing the disconnect" }, Ct);
        var id = Guid.Parse((string)(await drafted.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!);
        await using var connection = await api.Database.OpenConnectionAsync(Ct);
        await using var disconnect = await connection.BeginTransactionAsync(Ct);
        await using (var update = new Npgsql.NpgsqlCommand("UPDATE x_accounts SET status = 'disconnected' WHERE id = $1", connection, disconnect))
        {
            update.Parameters.Add(new() { Value = accountId });
            await update.ExecuteNonQueryAsync(Ct);
        }

        var schedule = client.PostAsJsonAsync($"/api/posts/{id}/schedule", new { scheduledAt = At(TimeSpan.FromHours(2)) }, Ct);
        await Task.Delay(TimeSpan.FromMilliseconds(500), Ct);
        Assert.False(schedule.IsCompleted);
        await disconnect.CommitAsync(Ct);
        using var answer = await schedule;

        Assert.Equal(HttpStatusCode.Conflict, answer.StatusCode);
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE id = $1 AND status = 'draft'", id));
    }

    public static TheoryData<string, bool> Texts => new()
    {
        { new string('a', 280), true },
        { new string('a', 281), false },
        { new string('字', 140), true },
        { new string('字', 141), false },
        { string.Concat(Enumerable.Repeat("👨‍👩‍👧‍👦", 140)), true },
        { string.Concat(Enumerable.Repeat("👍🏽", 141)), false },
        { new string('a', 250) + " https://example.com/" + new string('x', 400), true }, // 251 + 23 = 274
        { new string('a', 276) + "cafe\u0301", true }, // 276 + 4 after NFC
        { "", false },
        { "   \n  ", false },
        { "a\u0000b", false },
        { "a\uFEFFb", false }, // twitter-text refuses U+FEFF, U+FFFE, U+FFFF
        { "example.ninja " + new string('a', 257), false }, // 23 + 1 + 257: a URL on any TLD of twitter-text's lists
        { "https://" + new string('a', 60_000), false }, // no TLD: no URL, 60,008
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public async Task Text_is_limited_to_280_weighted_characters(string text, bool accepted)
    {
        var (client, accountId, _) = await NewUserWithAccount();
        using var response = await client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, text, scheduledAt = At(TimeSpan.FromHours(1)) }, Ct);

        Assert.Equal(accepted ? HttpStatusCode.Created : HttpStatusCode.BadRequest, response.StatusCode);
        if (!accepted)
        {
            var problem = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
            Assert.NotNull(problem["errors"]?["text"]);
        }

        Assert.Equal(accepted ? 1 : 0, await PostCount(accountId));
    }

    [Fact]
    public async Task Text_is_stored_in_nfc()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var post = await CreatePost(client, accountId, "cafe\u0301");
        Assert.Equal("café", (string?)post["text"]);
    }

    public static TheoryData<string, string> BadBodies => new()
    {
        { "malformed json", "{\"xAccountId\": " },
        { "not an object", "[1,2]" },
        { "unknown field", "{\"xAccountId\":\"ACCOUNT\",\"text\":\"hi\",\"scheduledAt\":\"WHEN\",\"userId\":\"user_other\"}" },
        { "text is a number", "{\"xAccountId\":\"ACCOUNT\",\"text\":5,\"scheduledAt\":\"WHEN\"}" },
        { "account id not a guid", "{\"xAccountId\":\"abc\",\"text\":\"hi\",\"scheduledAt\":\"WHEN\"}" },
        { "missing text", "{\"xAccountId\":\"ACCOUNT\",\"scheduledAt\":\"WHEN\"}" },
        { "missing account", "{\"text\":\"hi\",\"scheduledAt\":\"WHEN\"}" },
        { "time and queue", "{\"xAccountId\":\"ACCOUNT\",\"text\":\"hi\",\"scheduledAt\":\"WHEN\",\"queue\":true}" },
        { "queue not a boolean", "{\"xAccountId\":\"ACCOUNT\",\"text\":\"hi\",\"queue\":\"yes\"}" },
        { "time without offset", "{\"xAccountId\":\"ACCOUNT\",\"text\":\"hi\",\"scheduledAt\":\"2027-01-01T09:00:00\"}" },
        { "time not a date", "{\"xAccountId\":\"ACCOUNT\",\"text\":\"hi\",\"scheduledAt\":\"tomorrow\"}" },
        { "time in the past", "{\"xAccountId\":\"ACCOUNT\",\"text\":\"hi\",\"scheduledAt\":\"PAST\"}" },
        { "time over a year ahead", "{\"xAccountId\":\"ACCOUNT\",\"text\":\"hi\",\"scheduledAt\":\"FAR\"}" },
        { "empty body", "" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Bad_create_requests_are_400_problem_details_and_write_nothing(string description, string json)
    {
        var (client, accountId, _) = await NewUserWithAccount();
        json = json.Replace("ACCOUNT", accountId.ToString(), StringComparison.Ordinal)
            .Replace("WHEN", At(TimeSpan.FromHours(1)), StringComparison.Ordinal)
            .Replace("PAST", At(TimeSpan.FromMinutes(-1)), StringComparison.Ordinal)
            .Replace("FAR", At(TimeSpan.FromDays(367)), StringComparison.Ordinal);

        using var response = await PostJson(client, "/api/posts", json);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{description}: {response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.False(string.IsNullOrEmpty((string?)problem["title"]));
        Assert.Equal(0, await PostCount(accountId));
    }

    [Fact]
    public async Task A_few_seconds_in_the_past_is_accepted_as_now()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        await CreatePost(client, accountId, at: TimeSpan.FromSeconds(-2));
    }

    [Fact]
    public async Task Oversized_body_is_413_and_writes_nothing()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var json = $"{{\"xAccountId\":\"{accountId}\",\"text\":\"{new string('a', 100_000)}\",\"scheduledAt\":\"{At(TimeSpan.FromHours(1))}\"}}";
        using var response = await PostJson(client, "/api/posts", json);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(0, await PostCount(accountId));
    }

    [Fact]
    public async Task Another_users_account_is_404_like_a_missing_one()
    {
        var (client, _, _) = await NewUserWithAccount();
        var (_, othersAccount, _) = await NewUserWithAccount();

        using var others = await client.PostAsJsonAsync("/api/posts", new { xAccountId = othersAccount, text = "hi", scheduledAt = At(TimeSpan.FromHours(1)) }, Ct);
        using var missing = await client.PostAsJsonAsync("/api/posts", new { xAccountId = Guid.NewGuid(), text = "hi", scheduledAt = At(TimeSpan.FromHours(1)) }, Ct);

        Assert.Equal(HttpStatusCode.NotFound, others.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(await missing.Content.ReadFromJsonAsync<JsonObject>(Ct) is { } m ? (string?)m["detail"] : null,
            await others.Content.ReadFromJsonAsync<JsonObject>(Ct) is { } o ? (string?)o["detail"] : null);
        Assert.Equal(0, await PostCount(othersAccount));
    }

    [Fact]
    public async Task Account_that_needs_reconnecting_cannot_get_posts()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId, "needs_reconnect");
        using var client = api.ClientFor(userId);
        using var response = await client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, text = "hi", scheduledAt = At(TimeSpan.FromHours(1)) }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, await PostCount(accountId));
    }

    [Fact]
    public async Task Get_answers_the_own_post_and_404_for_others_and_unknown_ids()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var (otherClient, _, _) = await NewUserWithAccount();
        var post = await CreatePost(client, accountId);

        using var own = await client.GetAsync($"/api/posts/{post["id"]}", Ct);
        using var others = await otherClient.GetAsync($"/api/posts/{post["id"]}", Ct);
        using var unknown = await client.GetAsync($"/api/posts/{Guid.NewGuid()}", Ct);
        using var notAGuid = await client.GetAsync("/api/posts/not-a-guid", Ct);

        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, others.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, notAGuid.StatusCode);
    }

    [Fact]
    public async Task List_pages_by_scheduled_time_and_filters_without_showing_other_users_posts()
    {
        var (client, accountId, userId) = await NewUserWithAccount();
        var secondAccount = await api.AddXAccountAsync(userId);
        var (otherClient, otherAccount, _) = await NewUserWithAccount();
        for (var i = 0; i < 5; i++)
        {
            await CreatePost(client, accountId, $"post {i}", TimeSpan.FromHours(5 - i));
        }

        await CreatePost(client, secondAccount, "on the second account", TimeSpan.FromHours(10));
        await CreatePost(otherClient, otherAccount, "someone else's", TimeSpan.FromHours(3));

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            using var pageResponse = await client.GetAsync($"/api/posts?limit=2{(cursor is null ? "" : "&cursor=" + cursor)}", Ct);
            Assert.True(pageResponse.IsSuccessStatusCode, await pageResponse.Content.ReadAsStringAsync(Ct));
            var page = (await pageResponse.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
            seen.AddRange(page["items"]!.AsArray().Select(p => (string)p!["text"]!));
            cursor = (string?)page["nextCursor"];
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(["post 4", "post 3", "post 2", "post 1", "post 0", "on the second account"], seen);
        Assert.Equal(3, pages);

        var filtered = await GetJson(client, $"/api/posts?xAccountId={secondAccount}");
        Assert.Equal("on the second account", (string?)Assert.Single(filtered["items"]!.AsArray())!["text"]);
        var window = await GetJson(client,
            $"/api/posts?from={Uri.EscapeDataString(At(TimeSpan.FromMinutes(90)))}&to={Uri.EscapeDataString(At(TimeSpan.FromMinutes(210)))}");
        Assert.Equal(["post 3", "post 2"], window["items"]!.AsArray().Select(p => (string)p!["text"]!));
        var cancelledOnly = await GetJson(client, "/api/posts?status=cancelled");
        Assert.Empty(cancelledOnly["items"]!.AsArray());
        var othersView = await GetJson(client, $"/api/posts?xAccountId={otherAccount}");
        Assert.Empty(othersView["items"]!.AsArray());
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=1000")]
    [InlineData("limit=ten")]
    [InlineData("cursor=bm9wZQ")]
    [InlineData("cursor=%%%")]
    [InlineData("status=sent")]
    [InlineData("from=yesterday")]
    [InlineData("xAccountId=123")]
    public async Task Bad_list_queries_are_400(string query)
    {
        var (client, _, _) = await NewUserWithAccount();
        using var response = await client.GetAsync("/api/posts?" + query, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Patch_changes_text_and_time_of_a_scheduled_post()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var post = await CreatePost(client, accountId);
        var newTime = DateTimeOffset.UtcNow.AddDays(3);

        using var response = await PostJson(client, $"/api/posts/{post["id"]}",
            $"{{\"text\":\"edited\",\"scheduledAt\":\"{newTime:O}\"}}", HttpMethod.Patch);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var stored = await GetJson(client, $"/api/posts/{post["id"]}");
        Assert.Equal("edited", (string?)stored["text"]);
        Assert.Equal(newTime.ToUnixTimeMilliseconds(), DateTimeOffset.Parse((string)stored["scheduledAt"]!, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds());
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"text\":\"\"}")]
    [InlineData("{\"text\":\"ok\",\"status\":\"published\"}")]
    [InlineData("{\"scheduledAt\":\"2020-01-01T00:00:00Z\"}")]
    public async Task Bad_patches_are_400_and_change_nothing(string json)
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var post = await CreatePost(client, accountId, "original");
        using var response = await PostJson(client, $"/api/posts/{post["id"]}", json, HttpMethod.Patch);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var stored = await GetJson(client, $"/api/posts/{post["id"]}");
        Assert.Equal("original", (string?)stored["text"]);
        Assert.Equal((string?)post["scheduledAt"], (string?)stored["scheduledAt"]);
    }

    [Fact]
    public async Task Patch_and_cancel_of_another_users_post_are_404_and_change_nothing()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var (otherClient, _, _) = await NewUserWithAccount();
        var post = await CreatePost(client, accountId, "mine");

        using var patch = await PostJson(otherClient, $"/api/posts/{post["id"]}", "{\"text\":\"hijacked\"}", HttpMethod.Patch);
        using var cancel = await otherClient.DeleteAsync($"/api/posts/{post["id"]}", Ct);

        Assert.Equal(HttpStatusCode.NotFound, patch.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, cancel.StatusCode);
        var stored = await GetJson(client, $"/api/posts/{post["id"]}");
        Assert.Equal("mine", (string?)stored["text"]);
        Assert.Equal("scheduled", (string?)stored["status"]);
    }

    [Fact]
    public async Task Delete_cancels_and_is_idempotent()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var post = await CreatePost(client, accountId);

        using var first = await client.DeleteAsync($"/api/posts/{post["id"]}", Ct);
        using var second = await client.DeleteAsync($"/api/posts/{post["id"]}", Ct);

        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, second.StatusCode);
        Assert.Equal("cancelled", (string?)(await GetJson(client, $"/api/posts/{post["id"]}"))["status"]);
        using var patch = await PostJson(client, $"/api/posts/{post["id"]}", "{\"text\":\"too late\"}", HttpMethod.Patch);
        Assert.Equal(HttpStatusCode.Conflict, patch.StatusCode);
    }

    [Theory]
    [InlineData("publishing")]
    [InlineData("published")]
    [InlineData("unconfirmed")]
    public async Task Posts_that_started_publishing_cannot_be_edited_or_cancelled(string status)
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var post = await CreatePost(client, accountId, "original");
        await using (var command = api.Database.CreateCommand("UPDATE scheduled_posts SET status = $1 WHERE id = $2"))
        {
            command.Parameters.Add(new() { Value = status });
            command.Parameters.Add(new() { Value = Guid.Parse((string)post["id"]!) });
            await command.ExecuteNonQueryAsync(Ct);
        }

        using var patch = await PostJson(client, $"/api/posts/{post["id"]}", "{\"text\":\"edited\"}", HttpMethod.Patch);
        using var cancel = await client.DeleteAsync($"/api/posts/{post["id"]}", Ct);

        Assert.Equal(HttpStatusCode.Conflict, patch.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, cancel.StatusCode);
        var stored = await GetJson(client, $"/api/posts/{post["id"]}");
        Assert.Equal("original", (string?)stored["text"]);
        Assert.Equal(status, (string?)stored["status"]);
    }

    /// <summary>
    /// The worker takes a due post with one UPDATE ... RETURNING text (as its claim does). Whatever the interleaving,
    /// the text it publishes is the text the user ended up with. Each interleaving is forced, so each outcome happens:
    /// the PATCH lands first (the claim returns the new text); the claim lands first (the PATCH is refused, 409); the
    /// PATCH has read the post but the claim commits before its write (the row version turns the write into a 409,
    /// where without it the user's text would replace the text the worker already took).
    /// </summary>
    [Theory]
    [InlineData("patch first")]
    [InlineData("claim first")]
    [InlineData("claim between the patch's read and write")]
    public async Task Patch_racing_the_worker_never_publishes_text_the_user_did_not_end_up_with(string interleaving)
    {
        var (client, accountId, _) = await NewUserWithAccount();
        var id = Guid.Parse((string)(await CreatePost(client, accountId, "before", TimeSpan.FromSeconds(30)))["id"]!);
        // As the worker does: the claim, then the texts the claim's snapshot holds.
        const string Claim = """
            WITH claimed AS (UPDATE scheduled_posts SET status = 'publishing' WHERE id = $1 AND status = 'scheduled' RETURNING id)
            SELECT pp.text FROM claimed JOIN post_parts AS pp ON pp.post_id = claimed.id AND pp.position = 0
            """;
        Task<HttpResponseMessage> Patch() =>
            PostJson(client, $"/api/posts/{id}", "{\"text\":\"after\"}", HttpMethod.Patch).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        HttpResponseMessage patch;
        string? claimedText;
        switch (interleaving)
        {
            case "patch first":
                patch = await Patch();
                claimedText = await api.ScalarAsync<string>(Claim, id);
                break;
            case "claim first":
                claimedText = await api.ScalarAsync<string>(Claim, id);
                patch = await Patch();
                break;
            default:
                await using (var connection = await api.Database.OpenConnectionAsync(Ct))
                await using (var transaction = await connection.BeginTransactionAsync(Ct))
                {
                    // The claim takes the row and holds it, not yet committed: the PATCH still reads the post as scheduled,
                    // and its write waits for the claim's row lock.
                    await using (var claim = new Npgsql.NpgsqlCommand(Claim, connection, transaction))
                    {
                        claim.Parameters.Add(new() { Value = id });
                        claimedText = (string?)await claim.ExecuteScalarAsync(Ct);
                    }

                    var patching = Patch();
                    var deadline = DateTime.UtcNow.AddSeconds(10);
                    while (await api.CountAsync("""
                        SELECT count(*) FROM pg_stat_activity
                        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%UPDATE%scheduled_posts%'
                        """) == 0)
                    {
                        Assert.False(patching.IsCompleted, "the PATCH finished without waiting for the claim's lock");
                        Assert.True(DateTime.UtcNow < deadline, "the PATCH never waited for the claim's lock");
                        await Task.Delay(20, Ct);
                    }

                    await transaction.CommitAsync(Ct);
                    patch = await patching;
                }

                break;
        }

        using (patch)
        {
            Assert.Equal(interleaving == "patch first" ? HttpStatusCode.OK : HttpStatusCode.Conflict, patch.StatusCode);
        }

        Assert.Equal(interleaving == "patch first" ? "after" : "before", claimedText);
        Assert.Equal(claimedText, await api.ScalarAsync<string>("SELECT text FROM post_parts WHERE post_id = $1 AND position = 0", id));
    }
}
