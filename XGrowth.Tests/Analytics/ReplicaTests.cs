using XGrowth.DevStandIns.X;
using XGrowth.Tests.Infrastructure;
using static XGrowth.Tests.Analytics.AnalyticsTestData;

namespace XGrowth.Tests.Analytics;

/// <summary>What X was asked by the collectors, counted in reads as X bills them: one per account, one per post.</summary>
internal static class XReads
{
    public static int Of(IEnumerable<XStandIn.MetricsRequest> requests) =>
        requests.Sum(r => r.Endpoint == XStandIn.MetricsEndpoint.Users ? 1 : r.Ids.Count);
}

/// <summary>
/// Three worker replicas (three workers in this process, each its own host with its own pool, over one database)
/// sharing a daily budget far smaller than what is due. Its own database: the budget is per database and day.
/// </summary>
public class BudgetTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Three_replicas_never_read_more_than_the_daily_budget_together()
    {
        const int budget = 60;
        var accounts = new List<Account>();
        for (var i = 0; i < 20; i++)
        {
            var account = await ConnectAsync(api);
            accounts.Add(account);
            for (var p = 0; p < 5; p++)
            {
                await PublishedPostAsync(api, account, TimeSpan.FromHours(2 + p));
            }
        }

        // 20 snapshots and 100 post readings are due: twice the budget.
        var settings = new[] { ("Analytics:MaxReadsPerDay", budget.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("Analytics:MaxConcurrency", "8") };
        await using var first = Collector(api, settings);
        await using var second = Collector(api, settings);
        await using var third = Collector(api, settings);
        await WaitUntilAsync(async () => await api.ScalarAsync<long>("SELECT reserved FROM analytics_read_budget") == budget
            && await api.CountAsync("SELECT count(*) FROM analytics_accounts WHERE snapshot_lease_until IS NOT NULL OR posts_lease_until IS NOT NULL") == 0,
            TimeSpan.FromSeconds(60), "the budget is spent and no claim is held");

        var mine = accounts.Select(a => a.XUserId).ToHashSet();
        var asked = api.X.MetricsRequests.Where(r => mine.Contains(r.XUserId)).ToList();
        Assert.Equal(budget, XReads.Of(asked));
        Assert.Equal(budget, await api.ScalarAsync<long>("SELECT reserved FROM analytics_read_budget"));
        var stored = await api.CountAsync("SELECT count(*) FROM follower_snapshots") + await api.CountAsync("SELECT count(*) FROM post_metric_readings");
        Assert.Equal(budget, stored);
    }
}

/// <summary>One worker reading one account at a time, so that the order of its claims is the order of its reads.</summary>
public class BudgetPriorityTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task When_the_budget_is_short_snapshots_and_the_newest_posts_go_first()
    {
        var posts = new List<(Guid Id, TimeSpan Age)>();
        var accounts = new List<Account>();
        for (var a = 0; a < 5; a++)
        {
            var account = await ConnectAsync(api);
            accounts.Add(account);
            for (var p = 0; p < 4; p++)
            {
                // Account 0 has the newest posts, account 4 the oldest.
                var age = TimeSpan.FromHours(2 + (a * 10) + p);
                posts.Add(((await PublishedPostAsync(api, account, age)).Id, age));
            }
        }

        // 5 snapshots and 20 post readings are due; the budget allows the snapshots and 6 posts.
        await using var worker = Collector(api, ("Analytics:MaxReadsPerDay", "11"), ("Analytics:MaxConcurrency", "1"));
        await WaitUntilAsync(async () => await api.ScalarAsync<long>("SELECT reserved FROM analytics_read_budget") == 11
            && await api.CountAsync("SELECT count(*) FROM analytics_accounts WHERE snapshot_lease_until IS NOT NULL OR posts_lease_until IS NOT NULL") == 0,
            TimeSpan.FromSeconds(60), "the budget is spent and no claim is held");

        foreach (var account in accounts)
        {
            Assert.Equal(1, await SnapshotsAsync(api, account.Id));
        }

        var newestSix = posts.OrderBy(p => p.Age).Take(6).Select(p => p.Id).ToHashSet();
        foreach (var (id, _) in posts)
        {
            Assert.Equal(newestSix.Contains(id) ? 1 : 0, await ReadingsAsync(api, id));
        }
    }
}

/// <summary>Three replicas collecting everything that is due: each snapshot and reading is asked of X and stored once.</summary>
public class ReplicaIdempotenceTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Three_replicas_ask_X_once_and_store_once_for_each_due_reading()
    {
        var accounts = new List<Account>();
        var posts = new List<(Guid Id, string XPostId)>();
        for (var i = 0; i < 30; i++)
        {
            var account = await ConnectAsync(api);
            accounts.Add(account);
            for (var p = 0; p < 3; p++)
            {
                posts.Add(await PublishedPostAsync(api, account, TimeSpan.FromHours(2 + (p * 30))));
            }
        }

        var settings = new[] { ("Analytics:MaxConcurrency", "4") };
        await using var first = Collector(api, settings);
        await using var second = Collector(api, settings);
        await using var third = Collector(api, settings);
        await WaitUntilAsync(async () => await api.CountAsync("SELECT count(*) FROM follower_snapshots") == 30
            && await api.CountAsync("SELECT count(*) FROM post_metric_readings") == 90,
            TimeSpan.FromSeconds(60), "every snapshot and reading is stored");
        await SentinelSnapshotAsync(api);

        var mine = accounts.Select(a => a.XUserId).ToHashSet();
        var asked = api.X.MetricsRequests.Where(r => mine.Contains(r.XUserId)).ToList();
        Assert.All(accounts, a => Assert.Single(asked, r => r.XUserId == a.XUserId && r.Endpoint == XStandIn.MetricsEndpoint.Users));
        var askedPosts = asked.Where(r => r.Endpoint == XStandIn.MetricsEndpoint.Tweets).SelectMany(r => r.Ids).ToList();
        Assert.Equal(posts.Select(p => p.XPostId).Order(), askedPosts.Order());
        Assert.Equal(31, await api.CountAsync("SELECT count(*) FROM follower_snapshots")); // and the sentinel's
        Assert.Equal(90, await api.CountAsync("SELECT count(DISTINCT scheduled_post_id) FROM post_metric_readings"));
        // Every post moved on to its next reading exactly once (24 h or 72 h after publishing).
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE metrics_due_at <= now()"));
    }
}
