using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;

namespace XGrowth.Worker.Publishing;

/// <summary>
/// Publishes due posts: claims those due within the look-ahead in batches (no pause after a full batch), fires each
/// on a timer at its time, and wakes early when PostgreSQL notifies that a post became due soon.
/// </summary>
public sealed partial class PublishingService(
    DuePostClaimer claimer, PostPublisher publisher, NpgsqlDataSource dataSource, IOptions<PublishingOptions> options,
    TimeProvider time, ILogger<PublishingService> logger) : BackgroundService
{
    public const string DueChannel = "xgrowth_posts_due";

    /// <summary>Names this process's claims, so that on stop it gives back exactly its own.</summary>
    public string WorkerId { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";

    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly ConcurrentDictionary<Guid, Task> _inFlight = new();
    private SemaphoreSlim? _concurrency;
    private DateTimeOffset _lastMaintenance = DateTimeOffset.MinValue;

    /// <summary>How often a worker looks for missed posts and expired claims.</summary>
    public static readonly TimeSpan MaintenanceInterval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        _concurrency = new SemaphoreSlim(settings.MaxConcurrency);
        var listening = ListenAsync(stoppingToken);
        LogStarted(logger, WorkerId);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Missed posts and expired claims change slowly: looking for them every few seconds is plenty, and keeps
                // an idle worker at one query per poll.
                if (time.GetUtcNow() - _lastMaintenance >= MaintenanceInterval)
                {
                    await claimer.MarkMissedAsync(settings.MissedAfter, stoppingToken);
                    await claimer.RecoverExpiredClaimsAsync(stoppingToken);
                    _lastMaintenance = time.GetUtcNow();
                }

                List<ClaimedPost> batch;
                do
                {
                    batch = await claimer.ClaimAsync(time.GetUtcNow() + settings.Lookahead, settings.BatchSize, WorkerId, settings.Lease, stoppingToken);
                    foreach (var post in batch)
                    {
                        _inFlight[post.Id] = FireAsync(post, stoppingToken);
                    }
                }
                while (batch.Count == settings.BatchSize && !stoppingToken.IsCancellationRequested);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                // PostgreSQL is restarting or unreachable: claims stay safe in the database; try again next round.
                LogDatabaseUnavailable(logger, e);
            }

            await WaitForWakeAsync(settings.PollInterval, stoppingToken);
        }

        await listening;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // In-flight requests finish within the grace period; claims whose request never left go back at once.
        using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        grace.CancelAfter(options.Value.ShutdownGrace);
        try
        {
            await Task.WhenAll(_inFlight.Values).WaitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            // Left to the lease: such posts become unconfirmed, never published twice.
        }

        try
        {
            var released = await claimer.ReleaseUnsentAsync(WorkerId, CancellationToken.None);
            LogReleased(logger, released);
        }
        catch (Exception e) when (e is NpgsqlException or ObjectDisposedException)
        {
            // Not given back: the lease returns them (they were never sent, so they go back to scheduled).
            LogDatabaseUnavailable(logger, e);
        }
    }

    private async Task FireAsync(ClaimedPost post, CancellationToken stoppingToken)
    {
        try
        {
            var wait = post.FireAt - time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, stoppingToken);
            }

            await _concurrency!.WaitAsync(stoppingToken);
            try
            {
                // Once the request may leave, stopping no longer cancels it: it gets the grace period to finish.
                await publisher.PublishAsync(post, CancellationToken.None);
            }
            finally
            {
                _concurrency.Release();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Not sent: ReleaseUnsentAsync gives the claim back.
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or ObjectDisposedException)
        {
            // The outcome could not be recorded; the lease recovers the post (unconfirmed if it was sent).
            LogDatabaseUnavailable(logger, e);
        }
        finally
        {
            _inFlight.TryRemove(post.Id, out _);
        }
    }

    private async Task WaitForWakeAsync(TimeSpan pollInterval, CancellationToken stoppingToken)
    {
        try
        {
            using var poll = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var delay = Task.Delay(pollInterval, time, poll.Token);
            var woken = _wake.Reader.WaitToReadAsync(poll.Token).AsTask();
            await Task.WhenAny(delay, woken);
            await poll.CancelAsync();
            while (_wake.Reader.TryRead(out _))
            {
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>LISTENs for posts that became due soon (a trigger NOTIFYs), reconnecting if the connection drops.</summary>
    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, _) => _wake.Writer.TryWrite(true);
                await using (var listen = new NpgsqlCommand($"LISTEN {DueChannel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                // Anything that became due while not listening is found by this round.
                _wake.Writer.TryWrite(true);
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or System.IO.IOException)
            {
                LogDatabaseUnavailable(logger, e);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Publishing worker {WorkerId} started.")]
    private static partial void LogStarted(ILogger logger, string workerId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: gave back {Released} claimed posts that had not been sent.")]
    private static partial void LogReleased(ILogger logger, int released);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database is unavailable; publishing resumes when it is back.")]
    private static partial void LogDatabaseUnavailable(ILogger logger, Exception exception);
}
