using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;

namespace XGrowth.Worker.Publishing;

/// <summary>
/// Publishes due posts: claims those due within the look-ahead, no more than it can start (free slots of
/// <see cref="PublishingOptions.MaxConcurrency"/>), fires each on a timer at its time, and wakes early when PostgreSQL
/// notifies that a post became due soon or when a slot frees while due posts wait. While it holds a claim (waiting for
/// its time, in flight, recording the outcome) it renews the claim's lease, so that no other worker recovers it.
/// </summary>
public sealed partial class PublishingService(
    DuePostClaimer claimer, PostPublisher publisher, NpgsqlDataSource dataSource, IOptions<PublishingOptions> options,
    TimeProvider time, ILogger<PublishingService> logger) : BackgroundService
{
    public const string DueChannel = "xgrowth_posts_due";

    /// <summary>Names this process's claims, so that on stop it gives back exactly its own.</summary>
    public string WorkerId { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>How often a worker looks for missed posts and expired claims.</summary>
    public static readonly TimeSpan MaintenanceInterval = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long past the look-ahead a claim is renewed at most. Everything a held claim waits for is bounded far
    /// below this (the request by <see cref="PublishingOptions.RequestTimeout"/>, a token refresh by its own timeout);
    /// a claim held longer belongs to a worker that hangs, and its lease is left to run out so another worker recovers it.
    /// </summary>
    public static readonly TimeSpan RenewalLimit = TimeSpan.FromMinutes(10);

    private readonly WakeSignal _wake = new();

    /// <summary>
    /// The claims this worker holds, by attempt id: the same post can be held twice (a claim lost while it waited,
    /// and the same post claimed again), and each attempt is waited for on stop.
    /// </summary>
    private readonly ConcurrentDictionary<Guid, HeldClaim> _held = new();

    private readonly CancellationTokenSource _stopRenewing = new();
    private Task _renewing = Task.CompletedTask;
    private volatile bool _slotsRanOut;
    private readonly Lock _stopLock = new();
    private Task? _stopping;
    private DateTimeOffset _lastMaintenance = DateTimeOffset.MinValue;

    private sealed class HeldClaim(ClaimedPost post, DateTimeOffset claimedAt)
    {
        public ClaimedPost Post { get; } = post;

        public DateTimeOffset ClaimedAt { get; } = claimedAt;

        public Task Work { get; set; } = Task.CompletedTask;

        public bool RenewalAbandoned { get; set; }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        // Renewal goes on after stopping begins: requests in flight keep their claims through the shutdown grace.
        _renewing = RenewLeasesAsync(settings, _stopRenewing.Token);
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

                await ClaimWhatCanStartAsync(settings, stoppingToken);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                // PostgreSQL is restarting or unreachable: claims stay safe in the database; try again next round.
                LogDatabaseUnavailable(logger, e);
            }

            await _wake.WaitAsync(settings.PollInterval, time, stoppingToken);
        }

        await listening;
    }

    /// <summary>
    /// Claims due posts while slots are free, in batches of at most <see cref="PublishingOptions.BatchSize"/>. A post
    /// is claimed only when a slot is free for it, so it starts at its time (within the look-ahead), never queued
    /// behind other requests while its lease runs.
    /// </summary>
    private async Task ClaimWhatCanStartAsync(PublishingOptions settings, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            // Set first: a claim that finishes from now on wakes the loop, in case due posts are left waiting for slots.
            _slotsRanOut = true;
            var free = settings.MaxConcurrency - _held.Count;
            if (free <= 0)
            {
                return;
            }

            var limit = Math.Min(free, settings.BatchSize);
            var batch = await claimer.ClaimAsync(time.GetUtcNow() + settings.Lookahead, limit, WorkerId, settings.Lease, stoppingToken);
            foreach (var post in batch)
            {
                var held = new HeldClaim(post, time.GetUtcNow());
                _held[post.AttemptId] = held;
                held.Work = FireAsync(held, stoppingToken);
            }

            if (batch.Count < limit)
            {
                _slotsRanOut = false;
                return;
            }
        }
    }

    /// <summary>Every third of a lease, extends the leases of every claim held, in one statement.</summary>
    private async Task RenewLeasesAsync(PublishingOptions settings, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(settings.Lease / 3, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var now = time.GetUtcNow();
                var renewed = new List<Guid>();
                foreach (var held in _held.Values)
                {
                    if (now - held.ClaimedAt < settings.Lookahead + RenewalLimit)
                    {
                        renewed.Add(held.Post.AttemptId);
                    }
                    else if (!held.RenewalAbandoned)
                    {
                        held.RenewalAbandoned = true;
                        LogRenewalAbandoned(logger, held.Post.Id, now - held.ClaimedAt);
                    }
                }

                if (renewed.Count == 0)
                {
                    continue;
                }

                try
                {
                    await claimer.RenewLeasesAsync(WorkerId, renewed, settings.Lease, cancellationToken);
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
                {
                    // Tried again at the next tick, with a third of the lease or more left; if the database stays away
                    // longer, the claims lapse and are recovered (unconfirmed if their request was sent): never twice.
                    LogDatabaseUnavailable(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        // A host can stop its services twice (a test host does while it is disposed): the second call waits for the
        // first, so that nothing is disposed under requests still finishing.
        lock (_stopLock)
        {
            return _stopping ??= StopOnceAsync(cancellationToken);
        }
    }

    private async Task StopOnceAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // In-flight requests finish within the grace period, their leases still renewed; claims whose request never
        // left go back at once.
        using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        grace.CancelAfter(options.Value.ShutdownGrace);
        try
        {
            await Task.WhenAll(_held.Values.Select(held => held.Work)).WaitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            // Left to the lease: such posts become unconfirmed, never published twice.
        }

        await _stopRenewing.CancelAsync();
        await _renewing;
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

    public override void Dispose()
    {
        _stopRenewing.Cancel();
        _stopRenewing.Dispose();
        base.Dispose();
    }

    private async Task FireAsync(HeldClaim held, CancellationToken stoppingToken)
    {
        var post = held.Post;
        try
        {
            var wait = post.FireAt - time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, stoppingToken);
            }

            // Once the request may leave, stopping no longer cancels it: it gets the grace period to finish.
            await publisher.PublishAsync(post, CancellationToken.None);
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
        catch (Exception e)
        {
            // Nothing else is expected here; whatever it is, it is logged (this task is not awaited until stop), and
            // the lease decides: back to scheduled if the request never left, unconfirmed if it may have.
            LogPublishFailed(logger, post.Id, e);
        }
        finally
        {
            _held.TryRemove(post.AttemptId, out _);
            // Due posts are waiting for slots: claim again once a quarter of the slots are free, not after every
            // single one (a claim per post made a backlog drain a third slower; bench/PublishBench).
            var settings = options.Value;
            if (_slotsRanOut && settings.MaxConcurrency - _held.Count >= Math.Max(1, settings.MaxConcurrency / 4))
            {
                _wake.Wake();
            }
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
                connection.Notification += (_, _) => _wake.Wake();
                await using (var listen = new NpgsqlCommand($"LISTEN {DueChannel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                // Anything that became due while not listening is found by this round.
                _wake.Wake();
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Post {PostId}: publishing failed unexpectedly; its lease decides what becomes of it.")]
    private static partial void LogPublishFailed(ILogger logger, Guid postId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Post {PostId}: held for {Held}, longer than any request may take; its lease is no longer renewed.")]
    private static partial void LogRenewalAbandoned(ILogger logger, Guid postId, TimeSpan held);
}
