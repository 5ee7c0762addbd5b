using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Worker;

/// <summary>PostgreSQL restarted under a running worker, on a cluster of this test's own (the shared one stays up).</summary>
public sealed class DatabaseRestartTests : IAsyncLifetime
{
    private readonly TestPostgres _postgres = new();
    private ApiFactory? _api;

    public async ValueTask InitializeAsync()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("XGROWTH_TEST_POSTGRES")))
        {
            return; // An outside server cannot be restarted from here.
        }

        await _postgres.InitializeAsync();
        _api = new ApiFactory(_postgres);
        await _api.InitializeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        await _postgres.DisposeAsync();
    }

    [Fact]
    public async Task The_worker_recovers_by_itself_and_publishes_nothing_twice()
    {
        Assert.SkipWhen(_api is null, "XGROWTH_TEST_POSTGRES names a server this test cannot restart.");
        var api = _api!;
        var userId = ApiFactory.NewUserId();
        var accountId = await api.ConnectXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var ids = new List<Guid>();
        for (var i = 0; i < 30; i++)
        {
            ids.Add(await TestPosts.ScheduleAsync(client, accountId, $"restart {i} {tag}", TimeSpan.FromMilliseconds(1500 + (i * 200))));
        }

        await using var worker = new WorkerFactory(api, leaseSeconds: 5).Start();
        await Task.Delay(2500, TestContext.Current.CancellationToken);
        await _postgres.RestartAsync(TimeSpan.FromSeconds(3));

        var deadline = DateTime.UtcNow.AddSeconds(60);
        string?[] statuses;
        do
        {
            await Task.Delay(250, TestContext.Current.CancellationToken);
            statuses = await Task.WhenAll(ids.Select(id => api.ScalarAsync<string>("SELECT status FROM scheduled_posts WHERE id = $1", id)));
        }
        while (statuses.Any(s => s is "scheduled" or "publishing") && DateTime.UtcNow < deadline);

        Assert.All(statuses, s => Assert.Contains(s, new[] { "published", "unconfirmed" }));
        for (var i = 0; i < ids.Count; i++)
        {
            var times = api.X.CreatedPosts.Count(p => p.Text == $"restart {i} {tag}");
            Assert.True(times <= 1, $"post {i} was created {times} times");
            Assert.True(statuses[i] != "published" || times == 1, $"post {i} is published but X has it {times} times");
        }

        // Posts due after the restart went out: the worker came back without help.
        Assert.Equal("published", statuses[^1]);
    }
}
