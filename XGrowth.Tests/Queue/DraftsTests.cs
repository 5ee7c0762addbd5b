extern alias worker;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using worker::XGrowth.Worker.Publishing;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Queue;

public class DraftsTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<JsonObject> CreateDraftAsync(QueueTestClient user, string text = "draft")
    {
        using var response = await user.Http.PostAsJsonAsync("/api/posts", new { xAccountId = user.AccountId, text }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
    }

    private Task<string?> StatusOf(JsonNode post) =>
        api.ScalarAsync<string>("SELECT status FROM scheduled_posts WHERE id = $1", Guid.Parse((string)post["id"]!));

    [Fact]
    public async Task A_post_with_neither_time_nor_queue_is_a_draft_listed_with_status_draft()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        var draft = await CreateDraftAsync(user);
        Assert.Equal("draft", (string?)draft["status"]);
        Assert.True(draft.ContainsKey("scheduledAt") && draft["scheduledAt"] is null);
        Assert.False((bool)draft["queued"]!);

        var scheduled = await user.CreateAtAsync(user.Now.AddDays(1));
        var drafts = (await user.GetJsonAsync("/api/posts?status=draft"))["items"]!.AsArray();
        Assert.Equal([(string?)draft["id"]], drafts.Select(d => (string?)d!["id"]));
        // Unfiltered, drafts come after every post with a time, and the cursor pages through them.
        var second = await CreateDraftAsync(user, "second draft");
        var page = await user.GetJsonAsync($"/api/posts?xAccountId={user.AccountId}&limit=2");
        var items = page["items"]!.AsArray().Select(p => (string?)p!["id"]).ToList();
        Assert.Equal((string?)scheduled["id"], items[0]);
        var next = await user.GetJsonAsync($"/api/posts?xAccountId={user.AccountId}&limit=2&cursor={page["nextCursor"]}");
        items.AddRange(next["items"]!.AsArray().Select(p => (string?)p!["id"]));
        Assert.Equal(new[] { (string?)draft["id"], (string?)second["id"] }.Order(), items.Skip(1).Order());
        Assert.Null(next["nextCursor"]);
    }

    [Fact]
    public async Task A_draft_is_editable_but_gets_a_time_only_through_schedule_and_is_never_claimed()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        var draft = await CreateDraftAsync(user);
        using (var edit = await user.Http.PatchAsJsonAsync($"/api/posts/{draft["id"]}", new { text = "better words" }, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, edit.StatusCode);
            Assert.Equal("better words", (string?)(await edit.Content.ReadFromJsonAsync<JsonObject>(Ct))!["text"]);
        }

        using (var timed = await user.Http.PatchAsJsonAsync($"/api/posts/{draft["id"]}", new { scheduledAt = user.Now.AddDays(1).ToString("O") }, Ct))
        {
            Assert.Equal(HttpStatusCode.Conflict, timed.StatusCode);
        }

        Assert.Equal("draft", await StatusOf(draft));
        // The worker's claim, asked for everything due up to two years from now, passes the draft by.
        var claimer = new DuePostClaimer(api.Database, TimeProvider.System);
        var claimed = await claimer.ClaimAsync(DateTimeOffset.UtcNow.AddYears(2), 10_000, "drafts-test", TimeSpan.FromMinutes(1), Ct);
        Assert.DoesNotContain(claimed, c => c.Id == Guid.Parse((string)draft["id"]!));
        Assert.Equal("draft", await StatusOf(draft));
        foreach (var post in claimed)
        {
            await claimer.RescheduleAsync(post, DateTimeOffset.UtcNow, "given back by the test", Ct);
        }
    }

    [Fact]
    public async Task The_calendar_leaves_drafts_out_unless_asked()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        var draft = await CreateDraftAsync(user);
        var scheduled = await user.CreateAtAsync(user.Now.AddHours(2));
        var day = user.Now.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var plain = (await user.GetJsonAsync($"/api/calendar?from={day}&to={day}")).AsObject();
        Assert.False(plain.ContainsKey("drafts"));
        Assert.Equal([(string?)scheduled["id"]], plain["days"]![0]!["posts"]!.AsArray().Select(p => (string?)p!["id"]));
        Assert.False((bool)plain["days"]![0]!["posts"]![0]!["queued"]!);

        var withDrafts = await user.GetJsonAsync($"/api/calendar?from={day}&to={day}&includeDrafts=true");
        var drafts = withDrafts["drafts"]!.AsArray();
        Assert.Equal([(string?)draft["id"]], drafts.Select(p => (string?)p!["id"]));
        Assert.Null(drafts[0]!["scheduledAt"]);
        Assert.Equal("draft", (string?)drafts[0]!["status"]);
    }

    [Fact]
    public async Task A_draft_is_scheduled_at_a_time_or_into_the_queue_and_unscheduled_back()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        await user.UseEverySixHoursAsync();
        var slots = user.NextSixHourSlots(2);
        var first = await CreateDraftAsync(user);
        var second = await CreateDraftAsync(user);

        var at = user.Now.AddDays(2).AddMinutes(13);
        using (var timed = await user.Http.PostAsJsonAsync($"/api/posts/{first["id"]}/schedule", new { scheduledAt = at.ToString("O") }, Ct))
        {
            var post = (await timed.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
            Assert.Equal(HttpStatusCode.OK, timed.StatusCode);
            Assert.Equal("scheduled", (string?)post["status"]);
            Assert.Equal(at, QueueTestClient.Time(post["scheduledAt"]));
            Assert.False((bool)post["queued"]!);
        }

        using (var queued = await user.Http.PostAsJsonAsync($"/api/posts/{second["id"]}/schedule", new { queue = true }, Ct))
        {
            var post = (await queued.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
            Assert.Equal(HttpStatusCode.OK, queued.StatusCode);
            Assert.True((bool)post["queued"]!);
            Assert.Equal(slots[0], QueueTestClient.Time(post["scheduledAt"]));
        }

        // Scheduling what is not a draft: 409.
        using (var again = await user.Http.PostAsJsonAsync($"/api/posts/{second["id"]}/schedule", new { queue = true }, Ct))
        {
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        }

        using (var back = await user.Http.PostAsync($"/api/posts/{second["id"]}/unschedule", null, Ct))
        {
            var post = (await back.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
            Assert.Equal(HttpStatusCode.OK, back.StatusCode);
            Assert.Equal("draft", (string?)post["status"]);
            Assert.Null(post["scheduledAt"]);
            Assert.False((bool)post["queued"]!);
        }

        Assert.Empty(await user.QueueRowsAsync());
        Assert.Equal(slots[0], QueueTestClient.Time((await user.AddToQueueAsync())["scheduledAt"]));
        using var cancel = await user.Http.DeleteAsync($"/api/posts/{second["id"]}", Ct);
        Assert.Equal(HttpStatusCode.NoContent, cancel.StatusCode);
        Assert.Equal("cancelled", await StatusOf(second));
    }

    [Fact]
    public async Task Bad_timing_is_refused_and_nothing_is_written()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        var draft = await CreateDraftAsync(user);
        var when = user.Now.AddDays(1).ToString("O");
        foreach (var body in new object[]
        {
            new { xAccountId = user.AccountId, text = "both", scheduledAt = when, queue = true },
            new { xAccountId = user.AccountId, text = "type", queue = "yes" },
            new { xAccountId = user.AccountId, text = "past", scheduledAt = user.Now.AddDays(-1).ToString("O") },
        })
        {
            using var response = await user.Http.PostAsJsonAsync("/api/posts", body, Ct);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        foreach (var body in new object[] { new { }, new { queue = false }, new { scheduledAt = when, queue = true }, new { scheduledAt = "tomorrow" }, new { queue = true, x = 1 } })
        {
            using var response = await user.Http.PostAsJsonAsync($"/api/posts/{draft["id"]}/schedule", body, Ct);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        using (var unknown = await user.Http.PostAsJsonAsync($"/api/posts/{Guid.NewGuid()}/schedule", new { queue = true }, Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE x_account_id = $1", user.AccountId));
        Assert.Equal("draft", await StatusOf(draft));
    }
}
