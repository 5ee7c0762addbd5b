using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;

namespace XGrowth.Worker.Analytics;

/// <summary>
/// Collects analytics beside publishing: every poll it claims due snapshots first, then accounts with due post metrics
/// (the newest posts first), no more than it has free slots for (<see cref="AnalyticsOptions.MaxConcurrency"/>), and
/// stops claiming while the day's shared read budget is spent. Claims are leases in PostgreSQL taken with
/// <c>FOR UPDATE SKIP LOCKED</c>, as publishing's, so any number of worker replicas share the accounts.
/// </summary>
public sealed partial class AnalyticsCollector(
    AnalyticsStore store, MetricsCollection collection, IOptions<AnalyticsOptions> options, TimeProvider time,
    ILogger<AnalyticsCollector> logger) : BackgroundService
{
    /// <summary>How often new accounts are enrolled and the dashboard's gauges refreshed.</summary>
    public static readonly TimeSpan MaintenanceInterval = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<Task, bool> _running = new();
    private readonly WakeSignal _wake = new();
    private volatile bool _slotsRanOut;
    private DateTimeOffset _lastMaintenance = DateTimeOffset.MinValue;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            LogDisabled(logger);
            return;
        }

        LogStarted(logger, settings.SnapshotInterval, settings.MaxReadsPerDay);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (time.GetUtcNow() - _lastMaintenance >= MaintenanceInterval)
                {
                    await store.AddNewAccountsAsync(stoppingToken);
                    AnalyticsMetrics.SetPausedAccounts(await store.PausedAccountsAsync(stoppingToken));
                    _lastMaintenance = time.GetUtcNow();
                }

                await ClaimWhatCanStartAsync(settings, stoppingToken);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                // Claims stay safe in the database (their leases run out); the next poll tries again.
                LogDatabaseUnavailable(logger, e);
            }

            await _wake.WaitAsync(settings.PollInterval, time, stoppingToken);
        }

        // Work in flight is a few requests, each bounded by the request timeout: let it finish and release its claims.
        await Task.WhenAll(_running.Keys).WaitAsync(settings.RequestTimeout * 3, CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>Snapshots first, then post metrics (newest posts first): a short budget goes to them in that order.</summary>
    private async Task ClaimWhatCanStartAsync(AnalyticsOptions settings, CancellationToken stoppingToken)
    {
        var left = settings.MaxReadsPerDay - await store.ReservedTodayAsync(stoppingToken);
        AnalyticsMetrics.SetBudgetLeft(Math.Max(0, left));
        if (left <= 0)
        {
            return;
        }

        _slotsRanOut = true;
        var free = settings.MaxConcurrency - _running.Count;
        if (free <= 0)
        {
            return;
        }

        var snapshots = await store.ClaimSnapshotsAsync(settings.SnapshotInterval, free, settings.Lease, stoppingToken);
        foreach (var claim in snapshots)
        {
            Start(token => collection.TakeSnapshotAsync(claim, token), claim.XAccountId, stoppingToken);
        }

        free -= snapshots.Count;
        if (free <= 0)
        {
            return;
        }

        var posts = await store.ClaimPostsAsync(free, settings.Lease, stoppingToken);
        foreach (var claim in posts)
        {
            Start(token => collection.ReadPostMetricsAsync(claim, token), claim.XAccountId, stoppingToken);
        }

        if (posts.Count < free)
        {
            _slotsRanOut = false;
        }
    }

    private void Start(Func<CancellationToken, Task> work, Guid accountId, CancellationToken stoppingToken)
    {
        var task = RunAsync(work, accountId, stoppingToken);
        _running[task] = true;
        _ = task.ContinueWith(done =>
        {
            _running.TryRemove(done, out _);
            // Due work is waiting for slots: claim again once a quarter of them are free, not after every one.
            var settings = options.Value;
            if (_slotsRanOut && settings.MaxConcurrency - _running.Count >= Math.Max(1, settings.MaxConcurrency / 4))
            {
                _wake.Wake();
            }
        }, TaskScheduler.Default);
    }

    private async Task RunAsync(Func<CancellationToken, Task> work, Guid accountId, CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            await work(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the claim's lease returns it.
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            LogDatabaseUnavailable(logger, e);
        }
        catch (Exception e)
        {
            // Nothing else is expected; logged, and the claim's lease returns the account to every worker.
            LogCollectionFailed(logger, accountId, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Analytics collector started: a snapshot per account every {SnapshotInterval}, at most {MaxReadsPerDay} reads a day.")]
    private static partial void LogStarted(ILogger logger, TimeSpan snapshotInterval, long maxReadsPerDay);

    [LoggerMessage(Level = LogLevel.Information, Message = "Analytics collection is disabled (Analytics:Enabled = false).")]
    private static partial void LogDisabled(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database is unavailable; analytics collection resumes when it is back.")]
    private static partial void LogDatabaseUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Account {AccountId}: collecting analytics failed unexpectedly; its claim's lease returns it.")]
    private static partial void LogCollectionFailed(ILogger logger, Guid accountId, Exception exception);
}
