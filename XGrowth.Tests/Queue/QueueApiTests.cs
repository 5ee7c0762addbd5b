using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Npgsql;
using NodaTime;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Queue;

public class QueueApiTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DateTimeOffset Time(JsonNode? node) => QueueTestClient.Time(node);

    [Fact]
    public async Task Settings_start_at_UTC_and_take_only_IANA_zones()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        Assert.Equal("UTC", (string?)(await user.GetJsonAsync("/api/me/settings"))["timeZone"]);

        foreach (var body in new[] { """{"timeZone":"Mars/Olympus"}""", """{"timeZone":"europe/berlin"}""", """{"timeZone":""}""", "{}",
            """{"timeZone":"Europe/Berlin","x":1}""", """{"timeZone":5}""", "[]" })
        {
            using var bad = await user.SendJsonAsync(HttpMethod.Put, "/api/me/settings", body);
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal("UTC", await api.ScalarAsync<string>("SELECT time_zone FROM users WHERE id = $1", user.UserId));
        using var good = await user.SendJsonAsync(HttpMethod.Put, "/api/me/settings", """{"timeZone":"Asia/Kathmandu"}""");
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal("Asia/Kathmandu", (string?)(await user.GetJsonAsync("/api/me/settings"))["timeZone"]);
    }

    [Fact]
    public async Task An_account_without_a_schedule_uses_weekdays_at_9_12_and_17_in_the_users_zone()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        using var settings = await user.SendJsonAsync(HttpMethod.Put, "/api/me/settings", """{"timeZone":"Europe/Berlin"}""");
        var schedule = await user.GetJsonAsync($"/api/x-accounts/{user.AccountId}/schedule");
        Assert.Equal("Europe/Berlin", (string?)schedule["timeZone"]);
        Assert.Equal(0, (int)schedule["jitterMinutes"]!);
        var slots = schedule["slots"]!.AsArray().Select(s => $"{s!["day"]} {s["time"]}").ToList();
        Assert.Equal(QueueTestClient.Days[..5].SelectMany(d => new[] { $"{d} 09:00", $"{d} 12:00", $"{d} 17:00" }), slots);
    }

    public static TheoryData<string> BadSchedules => new()
    {
        """{"timeZone":"Nowhere/City","slots":[{"day":"monday","time":"09:00"}]}""",
        """{"slots":[{"day":"monday","time":"09:00"}]}""",
        """{"timeZone":"UTC","slots":[]}""",
        """{"timeZone":"UTC"}""",
        """{"timeZone":"UTC","slots":[{"day":"mon","time":"09:00"}]}""",
        """{"timeZone":"UTC","slots":[{"day":"monday","time":"9:00"}]}""",
        """{"timeZone":"UTC","slots":[{"day":"monday","time":"24:00"}]}""",
        """{"timeZone":"UTC","slots":[{"day":"monday"}]}""",
        """{"timeZone":"UTC","slots":[null]}""",
        """{"timeZone":"UTC","slots":[{"day":"monday","time":"09:00"},{"day":"monday","time":"09:00"}]}""",
        """{"timeZone":"UTC","slots":[{"day":"monday","time":"09:00"}],"jitterMinutes":16}""",
        """{"timeZone":"UTC","slots":[{"day":"monday","time":"09:00"}],"jitterMinutes":-1}""",
        """{"timeZone":"UTC","slots":[{"day":"monday","time":"09:00"}],"jitterMinutes":1.5}""",
        """{"timeZone":"UTC","slots":[{"day":"monday","time":"09:00","extra":true}]}""",
        """{"timeZone":"UTC","slots":{"day":"monday","time":"09:00"}}""",
        "{\"timeZone\":\"UTC\",\"slots\":[" + string.Join(",", Enumerable.Range(0, 101).Select(i => $"{{\"day\":\"tuesday\",\"time\":\"{i / 60:00}:{i % 60:00}\"}}")) + "]}",
        "not json",
    };

    [Theory]
    [MemberData(nameof(BadSchedules))]
    public async Task A_bad_schedule_is_refused_and_nothing_changes(string body)
    {
        await using var user = await QueueTestClient.StartAsync(api);
        var queued = await user.AddToQueueAsync();
        using var response = await user.SendJsonAsync(HttpMethod.Put, $"/api/x-accounts/{user.AccountId}/schedule", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM posting_schedules WHERE x_account_id = $1", user.AccountId));
        Assert.Equal(Time(queued["scheduledAt"]), (await user.QueueRowsAsync()).Single().At);
    }

    [Fact]
    public async Task A_hundred_slots_are_allowed()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        var times = Enumerable.Range(0, 14).Select(i => $"{i:00}:30").Take(14);
        // 7 days x 14 = 98, plus 2 on Monday.
        var slots = QueueTestClient.Days.SelectMany(day => times.Select(time => new { day, time }))
            .Concat([new { day = "monday", time = "23:00" }, new { day = "monday", time = "23:01" }]).ToArray();
        using var response = await user.Http.PutAsJsonAsync($"/api/x-accounts/{user.AccountId}/schedule", new { timeZone = "UTC", slots, jitterMinutes = 15 }, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(100, (await user.GetJsonAsync($"/api/x-accounts/{user.AccountId}/schedule"))["slots"]!.AsArray().Count);
    }

    [Fact]
    public async Task Another_users_account_and_posts_are_not_found()
    {
        await using var owner = await QueueTestClient.StartAsync(api);
        var queued = await owner.AddToQueueAsync();
        using var stranger = owner.ClientFor(ApiFactory.NewUserId());
        var account = owner.AccountId;
        foreach (var response in new[]
        {
            await stranger.GetAsync($"/api/x-accounts/{account}/schedule", Ct),
            await stranger.PutAsJsonAsync($"/api/x-accounts/{account}/schedule", new { timeZone = "UTC", slots = new[] { new { day = "monday", time = "09:00" } } }, Ct),
            await stranger.GetAsync($"/api/x-accounts/{account}/queue", Ct),
            await stranger.PutAsJsonAsync($"/api/x-accounts/{account}/queue/order", new { postIds = new[] { (string)queued["id"]! } }, Ct),
            await stranger.PostAsJsonAsync("/api/posts", new { xAccountId = account, text = "mine?", queue = true }, Ct),
            await stranger.PostAsJsonAsync($"/api/posts/{queued["id"]}/unschedule", new { }, Ct),
            await stranger.PostAsJsonAsync($"/api/posts/{queued["id"]}/schedule", new { queue = true }, Ct),
        })
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            response.Dispose();
        }

        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM posting_schedules WHERE x_account_id = $1", account));
        Assert.Single(await owner.QueueRowsAsync());
    }

    [Fact]
    public async Task Add_to_queue_takes_the_earliest_free_slots_in_order()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        await user.UseEverySixHoursAsync();
        var expected = user.NextSixHourSlots(5);
        var posts = new List<JsonObject>();
        for (var i = 0; i < 3; i++)
        {
            posts.Add(await user.AddToQueueAsync());
        }

        Assert.All(posts, p => Assert.True((bool)p["queued"]!));
        Assert.All(posts, p => Assert.Equal("scheduled", (string?)p["status"]));
        Assert.Equal(expected[..3], posts.Select(p => Time(p["scheduledAt"])));

        var queue = (await user.GetJsonAsync($"/api/x-accounts/{user.AccountId}/queue?count=5")).AsArray();
        Assert.Equal(expected, queue.Select(s => Time(s!["at"])));
        Assert.Equal(posts.Select(p => (string?)p["id"]), queue.Take(3).Select(s => (string?)s!["post"]!["id"]));
        Assert.Null(queue[3]!["post"]);
        Assert.Null(queue[4]!["post"]);
        // The post reads the same afterwards.
        var again = await user.GetJsonAsync($"/api/posts/{posts[1]["id"]}");
        Assert.True((bool)again["queued"]!);
        Assert.Equal(expected[1], Time(again["scheduledAt"]));
    }

    [Fact]
    public async Task A_slot_less_than_a_minute_ahead_is_not_taken()
    {
        var now = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(1).AddHours(5).AddMinutes(59).AddSeconds(30), TimeSpan.Zero);
        await using var user = await QueueTestClient.StartAsync(api, now);
        await user.UseEverySixHoursAsync();
        var post = await user.AddToQueueAsync();
        Assert.Equal(now.Date.AddHours(12), Time(post["scheduledAt"]).UtcDateTime);
    }

    [Fact]
    public async Task A_post_with_its_own_time_at_a_slot_makes_the_queue_skip_it()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        await user.UseEverySixHoursAsync();
        var slots = user.NextSixHourSlots(3);
        var explicitPost = await user.CreateAtAsync(slots[0]);
        var nearby = await user.CreateAtAsync(slots[1].AddSeconds(1));
        var queued = await user.AddToQueueAsync();
        Assert.Equal(slots[1], Time(queued["scheduledAt"]));
        var queue = (await user.GetJsonAsync($"/api/x-accounts/{user.AccountId}/queue?count=3")).AsArray();
        Assert.Equal((string?)explicitPost["id"], (string?)queue[0]!["post"]!["id"]);
        Assert.False((bool)queue[0]!["post"]!["queued"]!);
        Assert.Equal((string?)queued["id"], (string?)queue[1]!["post"]!["id"]);
        Assert.Null(queue[2]!["post"]);
        Assert.NotNull(nearby);
    }

    [Fact]
    public async Task A_disconnected_and_reconnected_account_fills_its_queue_again_from_the_first_slot()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        await user.UseEverySixHoursAsync();
        var slots = user.NextSixHourSlots(3);
        for (var i = 0; i < 3; i++)
        {
            await user.AddToQueueAsync();
        }

        // Disconnecting cancels the queued posts; connected again (as the connect flow's upsert does), the account's queue
        // is empty, and its first slot is the first to take.
        using (var disconnect = await user.Http.DeleteAsync($"/api/x-accounts/{user.AccountId}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, disconnect.StatusCode);
        }

        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM x_accounts WHERE id = $1 AND queue_filled_through IS NOT NULL", user.AccountId));
        Assert.Equal(1, await api.ExecuteAsync("UPDATE x_accounts SET status = 'connected' WHERE id = $1", user.AccountId));
        Assert.Equal(slots[0], Time((await user.AddToQueueAsync())["scheduledAt"]));
    }

    [Fact]
    public async Task A_slot_a_post_leaves_is_taken_again()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        await user.UseEverySixHoursAsync();
        var slots = user.NextSixHourSlots(6);
        var posts = new List<JsonObject>();
        for (var i = 0; i < 5; i++)
        {
            posts.Add(await user.AddToQueueAsync());
        }

        // Cancelled, unscheduled, moved to a time of its own: each frees its slot, and the next post takes the earliest.
        using (var cancel = await user.Http.DeleteAsync($"/api/posts/{posts[3]["id"]}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, cancel.StatusCode);
        }

        Assert.Equal(slots[3], Time((await user.AddToQueueAsync())["scheduledAt"]));
        using (var unschedule = await user.Http.PostAsync($"/api/posts/{posts[1]["id"]}/unschedule", null, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, unschedule.StatusCode);
        }

        Assert.Equal(slots[1], Time((await user.AddToQueueAsync())["scheduledAt"]));
        using (var move = await user.Http.PatchAsJsonAsync($"/api/posts/{posts[0]["id"]}", new { scheduledAt = slots[5].AddMinutes(7).ToString("O") }, Ct))
        {
            var moved = (await move.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
            Assert.False((bool)moved["queued"]!);
        }

        Assert.Equal(slots[0], Time((await user.AddToQueueAsync())["scheduledAt"]));
        Assert.Equal(slots[5], Time((await user.AddToQueueAsync())["scheduledAt"]));
    }

    [Fact]
    public async Task Fifty_concurrent_adds_take_fifty_different_slots()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        await user.UseEverySixHoursAsync();
        using var start = new ManualResetEventSlim();
        var calls = Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            start.Wait(Ct);
            using var response = await user.Http.PostAsJsonAsync("/api/posts", new { xAccountId = user.AccountId, text = $"race {i}", queue = true }, Ct);
            return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonObject>(Ct));
        }, Ct)).ToList();
        start.Set();
        var results = await Task.WhenAll(calls);

        Assert.All(results, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var rows = await user.QueueRowsAsync();
        Assert.Equal(user.NextSixHourSlots(50), rows.Select(r => r.Slot));
        Assert.Equal(50, rows.Select(r => r.Slot).Distinct().Count());
        Assert.Equal(results.Select(r => (string?)r.Item2!["id"]).Order(), rows.Select(r => r.Id.ToString()).Order());
    }

    [Fact]
    public async Task The_database_refuses_two_live_queued_posts_in_one_slot_or_at_one_time()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        await user.UseEverySixHoursAsync(jitter: 10);
        var post = await user.AddToQueueAsync();
        var row = (await user.QueueRowsAsync()).Single();
        foreach (var (slot, at) in new[] { (row.Slot, row.At.AddSeconds(1)), (row.Slot.AddHours(6), row.At) })
        {
            await using var insert = api.Database.CreateCommand("""
                INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, queued, slot_at, created_at, updated_at, attempts)
                VALUES (gen_random_uuid(), $1, $3, 'scheduled', true, $2, now(), now(), 0)
                """);
            insert.Parameters.Add(new() { Value = user.AccountId });
            insert.Parameters.Add(new() { Value = slot });
            insert.Parameters.Add(new() { Value = at });
            var refused = await Assert.ThrowsAsync<PostgresException>(() => insert.ExecuteNonQueryAsync(Ct));
            Assert.Equal(PostgresErrorCodes.UniqueViolation, refused.SqlState);
        }

        Assert.NotNull(post);
        // A draft has no time, a post with a time is not queued without a slot.
        await using var draft = api.Database.CreateCommand("""
            INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, queued, created_at, updated_at, attempts)
            VALUES (gen_random_uuid(), $1, now(), 'draft', false, now(), now(), 0)
            """);
        draft.Parameters.Add(new() { Value = user.AccountId });
        Assert.Equal(PostgresErrorCodes.CheckViolation, (await Assert.ThrowsAsync<PostgresException>(() => draft.ExecuteNonQueryAsync(Ct))).SqlState);
    }

    [Fact]
    public async Task Jitter_moves_each_post_within_its_range_the_same_way_every_time_and_never_onto_another()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        await user.UseEverySixHoursAsync(jitter: 15);
        var slots = user.NextSixHourSlots(20);
        var posts = new List<JsonObject>();
        for (var i = 0; i < 20; i++)
        {
            posts.Add(await user.AddToQueueAsync());
        }

        var rows = await user.QueueRowsAsync();
        Assert.Equal(slots, rows.Select(r => r.Slot));
        Assert.All(rows, r => Assert.InRange(r.At - r.Slot, TimeSpan.FromMinutes(-15), TimeSpan.FromMinutes(15)));
        Assert.True(rows.Count(r => r.At != r.Slot) >= 18, "jitter moved almost none");
        Assert.Equal(20, rows.Select(r => r.At).Distinct().Count());
        foreach (var post in posts)
        {
            Assert.Equal(Time(post["scheduledAt"]), Time((await user.GetJsonAsync($"/api/posts/{post["id"]}"))["scheduledAt"]));
        }

        // An explicit post exactly where a post's own offset would put it: the queued post leaves at another time.
        var next = slots[^1].AddHours(6);
        var id = Guid.CreateVersion7();
        Assert.NotEqual(Guid.Empty, id);
        var explicitAt = await user.CreateAtAsync(next.AddSeconds(1));
        var queued = await user.AddToQueueAsync();
        Assert.NotEqual(Time(explicitAt["scheduledAt"]), Time(queued["scheduledAt"]));
    }

    [Fact]
    public async Task A_schedule_change_places_the_queue_again_in_order_and_leaves_explicit_and_claimed_posts()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        await user.UseEverySixHoursAsync();
        var posts = new List<JsonObject>();
        for (var i = 0; i < 5; i++)
        {
            posts.Add(await user.AddToQueueAsync());
        }

        var before = await user.QueueRowsAsync();
        var explicitPost = await user.CreateAtAsync(FirstKathmanduEvenHour(before[1].Slot));
        // The worker claimed the first queued post: it must not move.
        await using (var claim = api.Database.CreateCommand("UPDATE scheduled_posts SET status = 'publishing', claimed_by = 'w', attempt_id = gen_random_uuid(), lease_until = now() + interval '1 day' WHERE id = $1"))
        {
            claim.Parameters.Add(new() { Value = before[0].Id });
            await claim.ExecuteNonQueryAsync(Ct);
        }

        // Every two hours on the hour, Kathmandu time (+05:45): the explicit post sits at one of them.
        using var change = await user.PutScheduleAsync("Asia/Kathmandu", Enumerable.Range(0, 12).Select(h => $"{2 * h:00}:00"));
        Assert.Equal(HttpStatusCode.OK, change.StatusCode);

        var after = await user.QueueRowsAsync();
        Assert.Equal(before[0], after.Single(r => r.Id == before[0].Id));
        var moved = after.Where(r => r.Id != before[0].Id).ToList();
        Assert.Equal(before.Skip(1).Select(r => r.Id), moved.Select(r => r.Id));
        var kathmandu = TimeSpan.FromMinutes(5 * 60 + 45);
        Assert.All(moved, r => Assert.Equal(0, r.Slot.ToOffset(kathmandu).Minute));
        var explicitAt = Time(explicitPost["scheduledAt"]);
        var expected = new List<DateTimeOffset>();
        var candidate = new DateTimeOffset(user.Now.AddMinutes(1).ToOffset(kathmandu).Date, kathmandu);
        while (expected.Count < 4)
        {
            candidate = candidate.AddHours(2);
            if (candidate >= user.Now.AddMinutes(1) && candidate != explicitAt && candidate != before[0].Slot)
            {
                expected.Add(candidate);
            }
        }

        Assert.Equal(expected, moved.Select(r => r.Slot));
        Assert.Equal(explicitAt, Time((await user.GetJsonAsync($"/api/posts/{explicitPost["id"]}"))["scheduledAt"]));
    }

    private static DateTimeOffset FirstKathmanduEvenHour(DateTimeOffset after)
    {
        var kathmandu = TimeSpan.FromMinutes(5 * 60 + 45);
        var at = new DateTimeOffset(after.ToOffset(kathmandu).Date, kathmandu);
        while (at <= after)
        {
            at = at.AddHours(2);
        }

        return at;
    }

    [Fact]
    public async Task Reordering_gives_the_same_slots_to_the_posts_in_the_new_order()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        await user.UseEverySixHoursAsync(jitter: 5);
        for (var i = 0; i < 4; i++)
        {
            await user.AddToQueueAsync();
        }

        var before = await user.QueueRowsAsync();
        var order = new[] { before[3].Id, before[0].Id, before[2].Id, before[1].Id };
        using var response = await user.Http.PutAsJsonAsync($"/api/x-accounts/{user.AccountId}/queue/order", new { postIds = order }, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var after = await user.QueueRowsAsync();
        Assert.Equal(before.Select(r => r.Slot), after.Select(r => r.Slot));
        Assert.Equal(order, after.Select(r => r.Id));
        Assert.All(after, r => Assert.InRange(r.At - r.Slot, TimeSpan.FromMinutes(-5), TimeSpan.FromMinutes(5)));
        var answer = (await response.Content.ReadFromJsonAsync<JsonArray>(Ct))!;
        Assert.Equal(order.Select(id => id.ToString()), answer.Select(s => (string?)s!["post"]!["id"]));
        Assert.Equal(after.Select(r => r.At), answer.Select(s => Time(s!["post"]!["scheduledAt"])));
    }

    [Fact]
    public async Task A_reorder_that_is_not_exactly_the_queue_is_refused_and_changes_nothing()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        await user.UseEverySixHoursAsync();
        for (var i = 0; i < 3; i++)
        {
            await user.AddToQueueAsync();
        }

        var explicitPost = Guid.Parse((string)(await user.CreateAtAsync(user.Now.AddDays(3).AddMinutes(7)))["id"]!);
        var before = await user.QueueRowsAsync();
        var ids = before.Select(r => r.Id).ToArray();
        var cases = new (object Body, HttpStatusCode Status)[]
        {
            (new { postIds = ids[..2] }, HttpStatusCode.Conflict),
            (new { postIds = ids.Append(explicitPost).ToArray() }, HttpStatusCode.Conflict),
            (new { postIds = ids.Append(Guid.NewGuid()).ToArray() }, HttpStatusCode.NotFound),
            (new { postIds = new[] { ids[0], ids[0], ids[1], ids[2] } }, HttpStatusCode.BadRequest),
            (new { postIds = (Guid[]?)null }, HttpStatusCode.BadRequest),
            (new { postIds = new[] { "not-a-guid" } }, HttpStatusCode.BadRequest),
        };
        foreach (var (body, status) in cases)
        {
            using var response = await user.Http.PutAsJsonAsync($"/api/x-accounts/{user.AccountId}/queue/order", body, Ct);
            Assert.Equal(status, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(before, await user.QueueRowsAsync());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("101")]
    [InlineData("-1")]
    [InlineData("abc")]
    public async Task The_queue_is_read_in_bounded_counts(string count)
    {
        await using var user = await QueueTestClient.StartAsync(api);
        using var response = await user.Http.GetAsync($"/api/x-accounts/{user.AccountId}/queue?count={count}", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task The_default_queue_follows_the_users_time_zone()
    {
        await using var user = await QueueTestClient.StartAsync(api);
        var post = await user.AddToQueueAsync();
        var at = Time(post["scheduledAt"]);
        Assert.Equal(TimeSpan.Zero, at.Offset);
        Assert.Contains(at.UtcDateTime.Hour, new[] { 9, 12, 17 });
        Assert.InRange(at.UtcDateTime.DayOfWeek, DayOfWeek.Monday, DayOfWeek.Friday);

        using var settings = await user.SendJsonAsync(HttpMethod.Put, "/api/me/settings", """{"timeZone":"Asia/Kathmandu"}""");
        Assert.Equal(HttpStatusCode.OK, settings.StatusCode);
        var moved = Time((await user.GetJsonAsync($"/api/posts/{post["id"]}"))["scheduledAt"]).ToOffset(TimeSpan.FromMinutes(345));
        Assert.Contains(moved.Hour, new[] { 9, 12, 17 });
        Assert.Equal(0, moved.Minute);
        Assert.InRange(moved.DayOfWeek, DayOfWeek.Monday, DayOfWeek.Friday);
    }

    [Fact]
    public async Task A_slot_in_the_spring_forward_gap_is_the_first_instant_after_it()
    {
        // Berlin's next spring-forward, from the time zone data; the API's clock stands two days before it.
        var berlin = DateTimeZoneProviders.Tzdb["Europe/Berlin"];
        var interval = berlin.GetZoneInterval(SystemClock.Instance.GetCurrentInstant());
        while (berlin.GetZoneInterval(interval.End).WallOffset <= interval.WallOffset)
        {
            interval = berlin.GetZoneInterval(interval.End);
        }

        var gapEnd = interval.End;
        await using var user = await QueueTestClient.StartAsync(api, (gapEnd - Duration.FromDays(2)).ToDateTimeOffset());
        using var schedule = await user.Http.PutAsJsonAsync($"/api/x-accounts/{user.AccountId}/schedule",
            new { timeZone = "Europe/Berlin", slots = new[] { new { day = "sunday", time = "02:30" } } }, Ct);
        Assert.Equal(HttpStatusCode.OK, schedule.StatusCode);
        var post = await user.AddToQueueAsync();
        Assert.Equal(gapEnd.ToDateTimeOffset(), Time(post["scheduledAt"]));
    }
}
