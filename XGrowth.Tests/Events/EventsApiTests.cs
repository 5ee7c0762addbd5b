using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using XGrowth.Api.Events;
using XGrowth.DevStandIns.Clerk;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Events;

/// <summary>The API with a one-second heartbeat, so that tests see it.</summary>
public sealed class EventsApiFactory(TestPostgres postgres) : ApiFactory(postgres)
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Events:HeartbeatInterval", "00:00:01");
    }
}

/// <summary><c>GET /api/events</c> on the real API and PostgreSQL: what arrives, to whom, after a drop, across replicas.</summary>
public class EventsApiTests(EventsApiFactory api) : IClassFixture<EventsApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string At(TimeSpan fromNow) =>
        DateTimeOffset.UtcNow.Add(fromNow).ToString("yyyy-MM-ddTHH:mm:ss.fffzzz", CultureInfo.InvariantCulture);

    private async Task<(HttpClient Client, Guid AccountId, string UserId)> NewUserWithAccount()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        return (api.ClientFor(userId), accountId, userId);
    }

    private static async Task<JsonObject> CreatePost(HttpClient client, Guid accountId, string text = "hello", TimeSpan? at = null)
    {
        using var response = await client.PostAsJsonAsync("/api/posts", new { xAccountId = accountId, text, scheduledAt = At(at ?? TimeSpan.FromHours(1)) }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
    }

    private static async Task<JsonObject> GetPost(HttpClient client, string id)
    {
        using var response = await client.GetAsync($"/api/posts/{id}", Ct);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
    }

    private static Func<SseFrame, bool> PostEvent(string id, Func<JsonObject, bool>? where = null) =>
        f => f.Event == "post.updated" && (string?)f.Json["id"] == id && (where?.Invoke(f.Json) ?? true);

    [Fact]
    public async Task A_stream_opens_with_the_sse_headers_a_retry_hint_and_ready()
    {
        var (client, _, _) = await NewUserWithAccount();
        await using var stream = await ServerSentEventsClient.OpenAsync(client);

        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-cache", stream.Response.Headers.CacheControl?.ToString());
        Assert.Equal("no", stream.Response.Headers.GetValues("X-Accel-Buffering").Single());
        Assert.Null(stream.Response.Content.Headers.ContentEncoding.FirstOrDefault());
        var first = await stream.NextAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(3000, first?.Retry);
        var ready = await stream.ReadyAsync();
        Assert.False((bool)ready.Json["resumed"]!);
        Assert.Equal("no_last_event_id", (string?)ready.Json["reason"]);
        Assert.False(string.IsNullOrEmpty(ready.Id));
    }

    [Fact]
    public async Task Creating_editing_and_cancelling_a_post_each_send_the_post_as_GET_answers_it()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        await using var stream = await ServerSentEventsClient.OpenAsync(client);
        await stream.ReadyAsync();

        var id = (string)(await CreatePost(client, accountId, "first text"))["id"]!;
        var created = await stream.NextEventAsync(PostEvent(id));
        Assert.True(JsonNode.DeepEquals(await GetPost(client, id), created.Json), created.Data);
        Assert.Equal("first text", (string?)created.Json["text"]);

        using (var patch = await client.PatchAsJsonAsync($"/api/posts/{id}", new { text = "edited text" }, Ct))
        {
            patch.EnsureSuccessStatusCode();
        }

        var edited = await stream.NextEventAsync(PostEvent(id));
        Assert.Equal("edited text", (string?)edited.Json["text"]);
        Assert.True(JsonNode.DeepEquals(await GetPost(client, id), edited.Json), edited.Data);

        using (var cancel = await client.DeleteAsync($"/api/posts/{id}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, cancel.StatusCode);
        }

        var cancelled = await stream.NextEventAsync(PostEvent(id));
        Assert.Equal("cancelled", (string?)cancelled.Json["status"]);
        Assert.True(JsonNode.DeepEquals(await GetPost(client, id), cancelled.Json), cancelled.Data);
        Assert.NotEqual(created.Id, edited.Id);
    }

    [Fact]
    public async Task A_post_the_worker_publishes_arrives_as_publishing_then_published()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.ConnectXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        await using var stream = await ServerSentEventsClient.OpenAsync(client);
        await stream.ReadyAsync();
        await using var worker = new WorkerFactory(api).Start();

        var id = (string)(await CreatePost(client, accountId, $"published live {Guid.NewGuid():N}", TimeSpan.FromSeconds(1)))["id"]!;
        await stream.NextEventAsync(PostEvent(id, p => (string?)p["status"] == "publishing"), TimeSpan.FromSeconds(20));
        var published = await stream.NextEventAsync(PostEvent(id, p => (string?)p["status"] == "published"), TimeSpan.FromSeconds(20));

        Assert.False(string.IsNullOrEmpty((string?)published.Json["xPostUrl"]));
        Assert.True(JsonNode.DeepEquals(await GetPost(client, id), published.Json), published.Data);
    }

    [Fact]
    public async Task Account_connection_changes_arrive_as_the_account_json()
    {
        var userId = ApiFactory.NewUserId();
        using var client = api.ClientFor(userId);
        await using var stream = await ServerSentEventsClient.OpenAsync(client);
        await stream.ReadyAsync();

        var accountId = (await api.ConnectXAccountAsync(userId)).ToString();
        var connected = await stream.NextEventAsync(f => f.Event == "x-account.updated" && (string?)f.Json["id"] == accountId);
        using (var list = await client.GetAsync("/api/x-accounts", Ct))
        {
            var listed = (await list.Content.ReadFromJsonAsync<JsonObject>(Ct))!["items"]!.AsArray().Single(a => (string?)a!["id"] == accountId);
            Assert.True(JsonNode.DeepEquals(listed, connected.Json), connected.Data);
        }

        // The statement the worker runs when X refuses the account's token.
        using (var scope = api.Services.CreateScope())
        {
            await scope.ServiceProvider.GetRequiredService<XGrowth.X.XAccessTokens>().MarkNeedsReconnectAsync(Guid.Parse(accountId), Ct);
        }
        var needsReconnect = await stream.NextEventAsync(f => f.Event == "x-account.updated" && (string?)f.Json["id"] == accountId);
        Assert.Equal("needs_reconnect", (string?)needsReconnect.Json["status"]);

        using (var disconnect = await client.DeleteAsync($"/api/x-accounts/{accountId}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, disconnect.StatusCode);
        }

        var disconnected = await stream.NextEventAsync(f => f.Event == "x-account.updated" && (string?)f.Json["id"] == accountId);
        Assert.Equal("disconnected", (string?)disconnected.Json["status"]);
    }

    [Fact]
    public async Task The_session_cookie_opens_a_stream_without_an_authorization_header()
    {
        var (_, accountId, userId) = await NewUserWithAccount();
        using var cookieClient = api.CreateClient();
        cookieClient.DefaultRequestHeaders.Add("Cookie", $"__session={api.Clerk.Mint(userId)}");
        await using var stream = await ServerSentEventsClient.OpenAsync(cookieClient);
        await stream.ReadyAsync();

        using var client = api.ClientFor(userId);
        var id = (string)(await CreatePost(client, accountId))["id"]!;
        await stream.NextEventAsync(PostEvent(id));
    }

    [Fact]
    public async Task Without_a_session_the_answer_is_401()
    {
        using var anonymous = api.CreateClient();
        using var response = await ServerSentEventsClient.SendAsync(anonymous);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);

        using var forged = api.CreateClient();
        forged.DefaultRequestHeaders.Add("Cookie", $"__session={api.Clerk.Forge(ApiFactory.NewUserId(), "none")}");
        using var refused = await ServerSentEventsClient.SendAsync(forged);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.NotEqual("text/event-stream", refused.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_stream_carries_only_its_own_users_events()
    {
        var (alice, aliceAccount, _) = await NewUserWithAccount();
        var (bob, bobAccount, _) = await NewUserWithAccount();
        await using var aliceStream = await ServerSentEventsClient.OpenAsync(alice);
        await using var bobStream = await ServerSentEventsClient.OpenAsync(bob);
        await aliceStream.ReadyAsync();
        await bobStream.ReadyAsync();

        // Bob's changes come first: by the time Alice's own event arrives, Bob's would have too.
        var bobPost = (string)(await CreatePost(bob, bobAccount, "bob's secret"))["id"]!;
        using (var patch = await bob.PatchAsJsonAsync($"/api/posts/{bobPost}", new { text = "bob's other secret" }, Ct))
        {
            patch.EnsureSuccessStatusCode();
        }

        var alicePost = (string)(await CreatePost(alice, aliceAccount, "alice's"))["id"]!;
        await aliceStream.NextEventAsync(PostEvent(alicePost));
        await bobStream.NextEventAsync(PostEvent(bobPost, p => (string?)p["text"] == "bob's other secret"));

        Assert.DoesNotContain(aliceStream.Seen, f => f.Data?.Contains("bob", StringComparison.Ordinal) == true);
        Assert.DoesNotContain(aliceStream.Seen, f => f.Data?.Contains(bobAccount.ToString(), StringComparison.Ordinal) == true);
        Assert.DoesNotContain(bobStream.Seen, f => f.Data?.Contains(alicePost, StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Last_event_id_resumes_a_dropped_stream_with_everything_that_changed_meanwhile()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        string lastEventId;
        string first;
        await using (var stream = await ServerSentEventsClient.OpenAsync(client))
        {
            await stream.ReadyAsync();
            first = (string)(await CreatePost(client, accountId, "before the drop"))["id"]!;
            await stream.NextEventAsync(PostEvent(first));
            lastEventId = stream.LastEventId!;
        }

        // While no stream is open: an edit, two new posts, a cancellation.
        using (var patch = await client.PatchAsJsonAsync($"/api/posts/{first}", new { text = "edited while away" }, Ct))
        {
            patch.EnsureSuccessStatusCode();
        }

        var second = (string)(await CreatePost(client, accountId, "second"))["id"]!;
        var third = (string)(await CreatePost(client, accountId, "third"))["id"]!;
        (await client.DeleteAsync($"/api/posts/{third}", Ct)).Dispose();

        await using (var resumed = await ServerSentEventsClient.OpenAsync(client, lastEventId))
        {
            var ready = await resumed.ReadyAsync();
            Assert.True((bool)ready.Json["resumed"]!, ready.Data);
            var replayed = resumed.Seen.Where(f => f.Event == "post.updated").ToDictionary(f => (string)f.Json["id"]!, f => f.Json);
            Assert.Equal("edited while away", (string?)replayed[first]["text"]);
            Assert.Equal("scheduled", (string?)replayed[second]["status"]);
            Assert.Equal("cancelled", (string?)replayed[third]["status"]);
            Assert.Equal(3, replayed.Count);
            lastEventId = ready.Id!;
        }

        // Resuming from ready's id replays what changed since; the same works from the query string. It may repeat an
        // event that committed just before (one whose transaction overlapped: the replay errs on the side of repeating,
        // and every event carries the current state), never another user's.
        var fourth = (string)(await CreatePost(client, accountId, "fourth"))["id"]!;
        await using var again = await ServerSentEventsClient.OpenAsync(client, path: "/api/events?lastEventId=" + Uri.EscapeDataString(lastEventId));
        var readyAgain = await again.ReadyAsync();
        Assert.True((bool)readyAgain.Json["resumed"]!, readyAgain.Data);
        var replayedAgain = again.Seen.Where(f => f.Event == "post.updated").Select(f => (string)f.Json["id"]!).ToList();
        Assert.Contains(fourth, replayedAgain);
        Assert.Empty(replayedAgain.Except([first, second, third, fourth]));
    }

    [Fact]
    public async Task A_last_event_id_too_old_or_not_ours_says_to_reload_instead_of_replaying()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        string lastEventId;
        await using (var stream = await ServerSentEventsClient.OpenAsync(client))
        {
            await stream.ReadyAsync();
            var id = (string)(await CreatePost(client, accountId))["id"]!;
            await stream.NextEventAsync(PostEvent(id));
            lastEventId = stream.LastEventId!;
        }

        await CreatePost(client, accountId, "missed");
        Assert.True(EventPosition.TryParse(lastEventId, out var position));
        var sixMinutesOld = (position with { IssuedAt = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(6) }).ToString();
        foreach (var (sent, reason) in new[] { (sixMinutesOld, "expired"), ("42", "unrecognized"), ("not an id", "unrecognized") })
        {
            await using var stream = await ServerSentEventsClient.OpenAsync(client, sent);
            var ready = await stream.ReadyAsync();
            Assert.False((bool)ready.Json["resumed"]!, sent);
            Assert.Equal(reason, (string?)ready.Json["reason"]);
            Assert.DoesNotContain(stream.Seen, f => f.Event == "post.updated");
        }
    }

    [Fact]
    public async Task A_quiet_stream_gets_a_heartbeat_comment()
    {
        var (client, _, _) = await NewUserWithAccount();
        await using var stream = await ServerSentEventsClient.OpenAsync(client);
        await stream.ReadyAsync();

        // The events of the account just added may come first (they committed as the stream opened).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        SseFrame? frame;
        do
        {
            frame = await stream.NextAsync(TimeSpan.FromMilliseconds(Math.Max(1, (deadline - DateTime.UtcNow).TotalMilliseconds)));
            Assert.NotNull(frame);
        }
        while (frame.Comment is null);

        Assert.Equal("keep-alive", frame.Comment);
    }

    [Fact]
    public async Task The_stream_ends_when_the_user_is_deleted()
    {
        var (client, _, userId) = await NewUserWithAccount();
        await using var stream = await ServerSentEventsClient.OpenAsync(client);
        await stream.ReadyAsync();

        using (var deleted = await api.PostSignedWebhookAsync(ClerkSampleEvents.UserDeleted(userId, DateTimeOffset.UtcNow)))
        {
            deleted.EnsureSuccessStatusCode();
        }

        await stream.NextEventAsync("user.deleted");
        SseFrame? frame;
        while ((frame = await stream.NextAsync(TimeSpan.FromSeconds(5))) is not null)
        {
            Assert.Null(frame.Event);
        }

        using var again = await ServerSentEventsClient.SendAsync(client);
        Assert.Equal(HttpStatusCode.Unauthorized, again.StatusCode);
    }

    [Fact]
    public async Task A_change_made_through_one_api_process_reaches_a_stream_on_another()
    {
        var (client, accountId, userId) = await NewUserWithAccount();
        await using var otherProcess = api.WithWebHostBuilder(_ => { });
        using var otherClient = otherProcess.CreateClient();
        otherClient.DefaultRequestHeaders.Authorization = new("Bearer", api.Clerk.Mint(userId));
        await using var stream = await ServerSentEventsClient.OpenAsync(otherClient);
        await stream.ReadyAsync();

        var id = (string)(await CreatePost(client, accountId, "through the first process"))["id"]!;
        var started = DateTime.UtcNow;
        var arrived = await stream.NextEventAsync(PostEvent(id));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(1), $"took {DateTime.UtcNow - started}");
        Assert.True(JsonNode.DeepEquals(await GetPost(client, id), arrived.Json));
    }

    [Fact]
    public async Task The_listener_reconnects_after_its_connection_is_killed_and_catches_up()
    {
        var (client, accountId, _) = await NewUserWithAccount();
        await using var stream = await ServerSentEventsClient.OpenAsync(client);
        await stream.ReadyAsync();
        var id = (string)(await CreatePost(client, accountId, "before"))["id"]!;
        await stream.NextEventAsync(PostEvent(id));

        var killed = await api.CountAsync($"""
            SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = '{UserEventListener.ApplicationName}' AND datname = current_database()) AS t
            """);
        Assert.True(killed >= 1);
        // Committed while the listener is away (it waits at least 250 ms before reconnecting).
        await using (var edit = api.Database.CreateCommand("UPDATE post_parts SET text = 'while not listening' WHERE post_id = $1 AND position = 0"))
        {
            edit.Parameters.Add(new Npgsql.NpgsqlParameter { Value = Guid.Parse(id) });
            await edit.ExecuteNonQueryAsync(Ct);
        }

        await stream.NextEventAsync(PostEvent(id, p => (string?)p["text"] == "while not listening"), TimeSpan.FromSeconds(10));
        Assert.Contains(api.Logs.Lines, m => System.Text.RegularExpressions.Regex.IsMatch(m, "Catching up with [1-9][0-9]* user events"));

        // And it listens again.
        using (var patch = await client.PatchAsJsonAsync($"/api/posts/{id}", new { text = "after" }, Ct))
        {
            patch.EnsureSuccessStatusCode();
        }

        await stream.NextEventAsync(PostEvent(id, p => (string?)p["text"] == "after"), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_user_may_open_ten_streams_and_the_eleventh_is_429()
    {
        var (client, _, _) = await NewUserWithAccount();
        var streams = new List<ServerSentEventsClient>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                streams.Add(await ServerSentEventsClient.OpenAsync(client));
                await streams[^1].ReadyAsync();
            }

            using (var refused = await ServerSentEventsClient.SendAsync(client))
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
                Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
                var problem = (await refused.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
                Assert.Equal("too_many_streams", (string?)problem["code"]);
            }

            // Another user is not affected.
            var (other, _, _) = await NewUserWithAccount();
            await using (var otherStream = await ServerSentEventsClient.OpenAsync(other))
            {
                await otherStream.ReadyAsync();
            }

            // A closed stream frees its place (the server notices when it next writes to it: the heartbeat).
            await streams[0].DisposeAsync();
            streams.RemoveAt(0);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (true)
            {
                using var response = await ServerSentEventsClient.SendAsync(client);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < deadline, "the closed stream's place was not freed");
                await Task.Delay(200, Ct);
            }
        }
        finally
        {
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }
        }
    }
}
