using XGrowth.DevStandIns.X;
using XGrowth.Tests.Infrastructure;
using XGrowth.Tests.Worker;
using static XGrowth.Tests.Analytics.AnalyticsTestData;

namespace XGrowth.Tests.Analytics;

/// <summary>The analytics collector in a real worker, against the X stand-in and PostgreSQL; each test with its own accounts.</summary>
public class CollectionTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private List<XStandIn.MetricsRequest> RequestsOf(string xUserId, XStandIn.MetricsEndpoint endpoint) =>
        [.. api.X.MetricsRequests.Where(r => r.XUserId == xUserId && r.Endpoint == endpoint)];

    [Fact]
    public async Task A_connected_account_gets_one_snapshot_per_due_time_with_X_counts()
    {
        var account = await ConnectAsync(api);
        await using var worker = Collector(api);
        await WaitUntilAsync(async () => await SnapshotsAsync(api, account.Id) == 1, Timeout, "the account has a snapshot");
        await SentinelSnapshotAsync(api);

        Assert.Equal(1, await SnapshotsAsync(api, account.Id));
        Assert.Single(RequestsOf(account.XUserId, XStandIn.MetricsEndpoint.Users));
        var takenAt = (await api.ScalarAsync<DateTime>("SELECT taken_at FROM follower_snapshots WHERE x_account_id = $1", account.Id));
        var expected = XStandIn.AccountMetrics(account.XUserId, new DateTimeOffset(takenAt, TimeSpan.Zero));
        // Followers grow by at most ~70 a day on the stand-in: the second between X's answer and taken_at changes nothing.
        Assert.InRange(await api.ScalarAsync<long>("SELECT followers_count FROM follower_snapshots WHERE x_account_id = $1", account.Id),
            expected["followers_count"] - 1, expected["followers_count"]);
        Assert.Equal(expected["listed_count"], await api.ScalarAsync<long>("SELECT listed_count FROM follower_snapshots WHERE x_account_id = $1", account.Id));
        // Its due time is its own place in the 6-hour schedule, at or before now.
        var slot = await api.ScalarAsync<DateTime>("SELECT slot_at FROM follower_snapshots WHERE x_account_id = $1", account.Id);
        Assert.InRange(takenAt - slot, TimeSpan.Zero, TimeSpan.FromHours(6));
    }

    [Fact]
    public async Task Post_metrics_are_read_in_one_batch_at_their_due_reading_and_the_next_is_scheduled()
    {
        var account = await ConnectAsync(api);
        var hour = await PublishedPostAsync(api, account, TimeSpan.FromHours(2));
        var day = await PublishedPostAsync(api, account, TimeSpan.FromHours(30));
        var threeDays = await PublishedPostAsync(api, account, TimeSpan.FromDays(4));
        var week = await PublishedPostAsync(api, account, TimeSpan.FromDays(8));
        await using var worker = Collector(api);
        await WaitUntilAsync(async () => await api.CountAsync(
            "SELECT count(*) FROM post_metric_readings r JOIN scheduled_posts p ON p.id = r.scheduled_post_id WHERE p.x_account_id = $1", account.Id) == 4,
            Timeout, "the four posts have a reading");

        Assert.Equal("one_hour", await api.ScalarAsync<string>("SELECT kind FROM post_metric_readings WHERE scheduled_post_id = $1", hour.Id));
        Assert.Equal("one_day", await api.ScalarAsync<string>("SELECT kind FROM post_metric_readings WHERE scheduled_post_id = $1", day.Id));
        Assert.Equal("three_days", await api.ScalarAsync<string>("SELECT kind FROM post_metric_readings WHERE scheduled_post_id = $1", threeDays.Id));
        Assert.Equal("seven_days", await api.ScalarAsync<string>("SELECT kind FROM post_metric_readings WHERE scheduled_post_id = $1", week.Id));
        // The next reading is scheduled (24 h after publishing for the first), none after the 7-day one.
        Assert.Equal(24.0, await api.ScalarAsync<double>(
            "SELECT (extract(epoch FROM metrics_due_at - published_at) / 3600)::float8 FROM scheduled_posts WHERE id = $1", hour.Id), 3);
        Assert.Equal(72.0, await api.ScalarAsync<double>(
            "SELECT (extract(epoch FROM metrics_due_at - published_at) / 3600)::float8 FROM scheduled_posts WHERE id = $1", day.Id), 3);
        Assert.Null(await api.ScalarAsync<DateTime?>("SELECT metrics_due_at FROM scheduled_posts WHERE id = $1", week.Id));

        // One request for the four, with non-public metrics (all under 30 days), and the numbers X gave.
        var request = Assert.Single(RequestsOf(account.XUserId, XStandIn.MetricsEndpoint.Tweets));
        Assert.Equal([hour.XPostId, day.XPostId, threeDays.XPostId, week.XPostId], request.Ids.Order());
        Assert.Contains("non_public_metrics", request.Fields, StringComparison.Ordinal);
        var post = api.X.FindPost(hour.XPostId)!;
        var readAt = await api.ScalarAsync<DateTime>("SELECT read_at FROM post_metric_readings WHERE scheduled_post_id = $1", hour.Id);
        var expected = XStandIn.PostMetricsAt(hour.XPostId, post.CreatedAt, new DateTimeOffset(readAt, TimeSpan.Zero));
        Assert.InRange(await api.ScalarAsync<long>("SELECT impressions FROM post_metric_readings WHERE scheduled_post_id = $1", hour.Id),
            expected.Impressions - 50, expected.Impressions);
        Assert.NotNull(await api.ScalarAsync<long?>("SELECT url_clicks FROM post_metric_readings WHERE scheduled_post_id = $1", hour.Id));
    }

    [Fact]
    public async Task Non_public_metrics_are_asked_only_for_posts_under_30_days()
    {
        var account = await ConnectAsync(api);
        var young = await PublishedPostAsync(api, account, TimeSpan.FromDays(10));
        var old = await PublishedPostAsync(api, account, TimeSpan.FromDays(40));
        await using var worker = Collector(api);
        await WaitUntilAsync(async () => await ReadingsAsync(api, young.Id) == 1 && await ReadingsAsync(api, old.Id) == 1, Timeout, "both posts are read");

        var requests = RequestsOf(account.XUserId, XStandIn.MetricsEndpoint.Tweets);
        Assert.All(requests, r => Assert.Equal(200, r.Status));
        Assert.Equal([young.XPostId], Assert.Single(requests, r => r.Fields.Contains("non_public_metrics", StringComparison.Ordinal)).Ids);
        Assert.Equal([old.XPostId], Assert.Single(requests, r => !r.Fields.Contains("non_public_metrics", StringComparison.Ordinal)).Ids);
        Assert.NotNull(await api.ScalarAsync<long?>("SELECT url_clicks FROM post_metric_readings WHERE scheduled_post_id = $1", young.Id));
        Assert.Null(await api.ScalarAsync<long?>("SELECT url_clicks FROM post_metric_readings WHERE scheduled_post_id = $1", old.Id));
        Assert.Null(await api.ScalarAsync<long?>("SELECT profile_clicks FROM post_metric_readings WHERE scheduled_post_id = $1", old.Id));
    }

    [Fact]
    public async Task A_post_gone_from_X_is_marked_deleted_and_never_read_again()
    {
        var account = await ConnectAsync(api);
        var kept = await PublishedPostAsync(api, account, TimeSpan.FromHours(2));
        var gone = await PublishedPostAsync(api, account, TimeSpan.FromHours(3));
        api.X.DeletePost(gone.XPostId);
        await using var worker = Collector(api);
        await WaitUntilAsync(async () => await ReadingsAsync(api, kept.Id) == 1
            && await api.ScalarAsync<DateTime?>("SELECT deleted_on_x_at FROM scheduled_posts WHERE id = $1", gone.Id) is not null,
            Timeout, "one post is read and the other marked deleted on X");

        Assert.Equal(0, await ReadingsAsync(api, gone.Id));
        Assert.Null(await api.ScalarAsync<DateTime?>("SELECT metrics_due_at FROM scheduled_posts WHERE id = $1", gone.Id));

        // The kept post's next reading comes due: only it is asked for.
        await api.CountAsync("WITH u AS (UPDATE scheduled_posts SET metrics_due_at = now() - interval '1 second' WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", kept.Id);
        await WaitUntilAsync(async () => RequestsOf(account.XUserId, XStandIn.MetricsEndpoint.Tweets).Count == 2
            && await api.ScalarAsync<DateTime?>("SELECT metrics_due_at FROM scheduled_posts WHERE id = $1 AND metrics_due_at > now()", kept.Id) is not null,
            Timeout, "the kept post is read again");
        var requests = RequestsOf(account.XUserId, XStandIn.MetricsEndpoint.Tweets);
        Assert.Contains(gone.XPostId, requests[0].Ids);
        Assert.Equal([kept.XPostId], requests[1].Ids);
        Assert.Equal(1, await ReadingsAsync(api, kept.Id)); // the same due reading is never stored twice
    }

    [Fact]
    public async Task A_429_pauses_only_that_account_until_the_reset()
    {
        var limited = await ConnectAsync(api);
        var other = await ConnectAsync(api);
        // X's reset is a whole second (Unix time).
        var reset = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 4);
        api.X.ReadsRateLimitedUntil[limited.XUserId] = reset;
        await using var worker = Collector(api);
        await WaitUntilAsync(async () => await SnapshotsAsync(api, other.Id) == 1
            && await api.ScalarAsync<DateTime?>("SELECT users_paused_until FROM analytics_accounts WHERE x_account_id = $1", limited.Id) is not null,
            Timeout, "the other account has its snapshot and the limited one is paused");

        Assert.Equal(0, await SnapshotsAsync(api, limited.Id));
        var pausedUntil = await api.ScalarAsync<DateTime>("SELECT users_paused_until FROM analytics_accounts WHERE x_account_id = $1", limited.Id);
        Assert.Equal(reset.ToUnixTimeSeconds(), new DateTimeOffset(pausedUntil, TimeSpan.Zero).ToUnixTimeSeconds());
        Assert.Null(await api.ScalarAsync<DateTime?>("SELECT users_paused_until FROM analytics_accounts WHERE x_account_id = $1", other.Id));

        // After the reset the account's snapshot is taken; before it, X was asked once (the 429) and not again.
        await WaitUntilAsync(async () => await SnapshotsAsync(api, limited.Id) == 1, Timeout, "the limited account has its snapshot after the reset");
        var requests = RequestsOf(limited.XUserId, XStandIn.MetricsEndpoint.Users);
        Assert.Equal([429, 200], requests.Select(r => r.Status));
    }

    [Fact]
    public async Task A_revoked_token_marks_the_account_needs_reconnect_and_stops_its_collection()
    {
        var revoked = await ConnectAsync(api);
        var post = await PublishedPostAsync(api, revoked, TimeSpan.FromHours(2));
        api.X.RevokeUser(revoked.XUserId);
        await using var worker = Collector(api);
        await WaitUntilAsync(async () => await api.ScalarAsync<string>("SELECT status FROM x_accounts WHERE id = $1", revoked.Id) == "needs_reconnect",
            Timeout, "the account needs reconnecting");
        await SentinelSnapshotAsync(api);

        Assert.Equal(0, await SnapshotsAsync(api, revoked.Id));
        Assert.Equal(0, await ReadingsAsync(api, post.Id));
        // A 401 for the snapshot and one for the posts (claimed together), a refused refresh, and nothing more.
        var requests = api.X.MetricsRequests.Where(r => r.XUserId == revoked.XUserId).ToList();
        Assert.InRange(requests.Count, 1, 2);
        Assert.All(requests, r => Assert.Equal(401, r.Status));
    }

    [Fact]
    public async Task Publishing_schedules_a_post_s_first_reading_an_hour_later()
    {
        var account = await ConnectAsync(api);
        using var client = api.ClientFor(account.UserId);
        await using var worker = Collector(api);
        var id = await TestPosts.ScheduleAsync(client, account.Id, $"first reading {Guid.NewGuid():N}", TimeSpan.FromSeconds(1));
        await WaitUntilAsync(async () => await api.ScalarAsync<string>("SELECT status FROM scheduled_posts WHERE id = $1", id) == "published",
            Timeout, "the post is published");

        Assert.Equal(3600.0, await api.ScalarAsync<double>(
            "SELECT extract(epoch FROM metrics_due_at - published_at)::float8 FROM scheduled_posts WHERE id = $1", id), 3);
    }
}
