using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Worker;

/// <summary>Real worker processes, killed with SIGKILL mid-run, again and again.</summary>
public class WorkerCrashTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Process StartWorkerProcess() => WorkerProcess.Start(api);

    [Fact]
    public async Task Workers_killed_mid_run_never_publish_twice_and_lose_nothing()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.ConnectXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var ids = new List<Guid>();
        for (var i = 0; i < 120; i++)
        {
            using var created = await client.PostAsJsonAsync("/api/posts", new
            {
                xAccountId = accountId, text = $"crash {i} {tag}",
                scheduledAt = DateTimeOffset.UtcNow.AddMilliseconds(1500 + (i * 50)).ToString("O", CultureInfo.InvariantCulture),
            }, Ct);
            ids.Add(Guid.Parse((string)(await created.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>(Ct))!["id"]!));
        }

        // Two workers at a time, one of them killed (SIGKILL) every second or so, for several rounds.
        var random = new Random(42);
        var survivor = StartWorkerProcess();
        for (var round = 0; round < 6; round++)
        {
            var victim = StartWorkerProcess();
            await Task.Delay(random.Next(700, 1600), Ct);
            victim.Kill();
            await victim.WaitForExitAsync(Ct);
            victim.Dispose();
        }

        // The survivor finishes, recovering the victims' claims when their leases end.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        string?[] statuses;
        do
        {
            await Task.Delay(250, Ct);
            statuses = await Task.WhenAll(ids.Select(id => api.ScalarAsync<string>("SELECT status FROM scheduled_posts WHERE id = $1", id)));
        }
        while (statuses.Any(s => s is "scheduled" or "publishing") && DateTime.UtcNow < deadline);
        survivor.Kill();
        survivor.Dispose();

        TestContext.Current.TestOutputHelper?.WriteLine(string.Join(", ", statuses.GroupBy(s => s).Select(g => $"{g.Key}: {g.Count()}")));
        Assert.All(statuses, s => Assert.Contains(s, new[] { "published", "failed", "missed", "unconfirmed" }));
        for (var i = 0; i < ids.Count; i++)
        {
            var times = api.X.CreatedPosts.Count(p => p.Text == $"crash {i} {tag}");
            Assert.True(times <= 1, $"post {i} was created {times} times");
            if (statuses[i] == "published")
            {
                Assert.Equal(1, times);
            }
        }

        Assert.True(statuses.Count(s => s == "published") > ids.Count / 2, "most posts should be published");
    }
}
