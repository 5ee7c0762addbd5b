using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;
using XGrowth.Data;

namespace XGrowth.Api.Events;

/// <summary>
/// The one <c>LISTEN xgrowth_user_events</c> connection of this API process, whatever the number of open streams:
/// it hands each committed event to the hub, which queues it on the streams of the event's user. After the connection
/// drops (a database restart, a killed backend) it reconnects with back-off and catches up from the last event it
/// handed on, so the streams lose nothing. It also purges old event rows.
/// </summary>
public sealed partial class UserEventListener(
    IConfiguration configuration, UserEventStore store, UserEventHub hub, IOptions<EventsOptions> options, TimeProvider time,
    ILogger<UserEventListener> logger) : BackgroundService
{
    public const string NotifyChannel = "xgrowth_user_events";

    /// <summary>The listening connection's <c>application_name</c>, which tells it apart in <c>pg_stat_activity</c>.</summary>
    public const string ApplicationName = "xgrowth-api-events";

    /// <summary>More missed events than this after a reconnect, and the streams resume on their own instead.</summary>
    public const int MaxCatchUp = 10_000;

    private static readonly TimeSpan FirstReconnectDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan LastReconnectDelay = TimeSpan.FromSeconds(5);

    // What the listening connection received, in commit order, for the dispatcher. Unbounded: a notification is a few
    // dozen bytes, and blocking here would stop Npgsql reading the connection; the dispatcher takes them in batches.
    private readonly Channel<Notice> _notices = Channel.CreateUnbounded<Notice>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    private abstract record Notice;

    private sealed record Committed(UserEventRow Row) : Notice;

    /// <summary>The connection (re)started listening: what committed while it did not is to be caught up.</summary>
    private sealed record Listening : Notice;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var dispatching = DispatchAsync(stoppingToken);
        var purging = PurgeAsync(stoppingToken);
        await ListenAsync(stoppingToken);
        _notices.Writer.TryComplete();
        await Task.WhenAll(dispatching, purging);
    }

    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        var connectionString = new NpgsqlConnectionStringBuilder(configuration.GetConnectionString(DatabaseRegistration.ConnectionName))
        {
            // Its own connection, outside the pool, held for the life of the process.
            Pooling = false,
            ApplicationName = ApplicationName,
            // A connection that died quietly (a network cut, no FIN) is noticed within seconds, not never.
            KeepAlive = 10,
        }.ConnectionString;
        var delay = FirstReconnectDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                connection.Notification += (_, e) =>
                {
                    if (UserEventRow.FromNotification(e.Payload) is { } row)
                    {
                        _notices.Writer.TryWrite(new Committed(row));
                    }
                };
                await connection.OpenAsync(stoppingToken);
                await using (var listen = new NpgsqlCommand($"LISTEN {NotifyChannel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                _notices.Writer.TryWrite(new Listening());
                LogListening(logger);
                delay = FirstReconnectDelay;
                while (true)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
            {
                LogConnectionLost(logger, delay, e);
                try
                {
                    await Task.Delay(delay, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, LastReconnectDelay.Ticks));
            }
        }
    }

    /// <summary>Hands the events to the hub in commit order, rendering each batch with one query per kind of entity.</summary>
    private async Task DispatchAsync(CancellationToken stoppingToken)
    {
        // The last event handed on (or where listening started): a catch-up reads what committed after it.
        (long EventId, ulong TxXmin)? position = null;
        var catchUpPending = false;
        var recentlySent = new RecentIds(MaxCatchUp);
        var batch = new List<UserEventRow>();
        var delay = FirstReconnectDelay;
        try
        {
            while (await _notices.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < 5_000 && _notices.Reader.TryRead(out var notice))
                {
                    if (notice is Committed committed)
                    {
                        batch.Add(committed.Row);
                    }
                    else
                    {
                        catchUpPending = true;
                    }
                }

                while (true)
                {
                    try
                    {
                        if (catchUpPending)
                        {
                            position = await CatchUpAsync(position, recentlySent, stoppingToken);
                            catchUpPending = false;
                            hub.MarkListening();
                        }

                        position = await SendAsync(batch, recentlySent, stoppingToken) ?? position;
                        delay = FirstReconnectDelay;
                        break;
                    }
                    catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                    {
                        // Whatever failed (the database restarting, most likely, and EF wraps that in several ways), the
                        // events are in user_events: the catch-up reads them all once the database answers.
                        LogDispatchFailed(logger, delay, e);
                        catchUpPending = true;
                        await Task.Delay(delay, time, stoppingToken);
                        delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, LastReconnectDelay.Ticks));
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Sends the batch's events of users with a stream here; answers the position after the last one, if any.</summary>
    private async Task<(long, ulong)?> SendAsync(List<UserEventRow> batch, RecentIds recentlySent, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return null;
        }

        // Other users' events cost this process nothing beyond the notification.
        var wanted = batch.Where(row => !recentlySent.Contains(row.Id) && hub.HasStreams(row.UserId)).ToList();
        if (wanted.Count > 0)
        {
            foreach (var (row, message) in await store.RenderAsync(wanted, time.GetUtcNow(), cancellationToken))
            {
                Send(row, message);
            }

            foreach (var row in wanted)
            {
                recentlySent.Add(row.Id);
            }
        }

        var last = batch[^1];
        return (last.Id, last.TxXmin);
    }

    /// <summary>Sends what committed after <paramref name="position"/> (nothing on the first connect) and answers the position now.</summary>
    private async Task<(long, ulong)> CatchUpAsync((long, ulong)? position, RecentIds recentlySent, CancellationToken cancellationToken)
    {
        var (rows, now, truncated) = await store.ReadAfterAsync(null, position, MaxCatchUp, cancellationToken);
        if (truncated)
        {
            // Too much to hold: every stream resumes from its own Last-Event-ID, which reads only its user's events.
            LogCatchUpTooLarge(logger, MaxCatchUp, hub.Count);
            hub.EndAll(StreamEnd.CatchUpTooLarge);
            return now;
        }

        var wanted = rows.Where(row => !recentlySent.Contains(row.Id) && hub.HasStreams(row.UserId)).ToList();
        if (position is not null)
        {
            LogCatchingUp(logger, rows.Count, wanted.Count);
        }

        foreach (var (row, message) in await store.RenderAsync(wanted, time.GetUtcNow(), cancellationToken))
        {
            Send(row, message);
        }

        foreach (var row in wanted)
        {
            recentlySent.Add(row.Id);
        }

        return now;
    }

    private void Send(UserEventRow row, ServerSentEvent message)
    {
        if (row.Type == UserEventTypes.UserDeleted)
        {
            hub.End(row.UserId, message, StreamEnd.UserDeleted);
        }
        else
        {
            hub.Send(row.UserId, message);
        }
    }

    private async Task PurgeAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PurgeInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var purged = await store.PurgeAsync(time.GetUtcNow() - EventsOptions.Retention, stoppingToken);
                    LogPurged(logger, purged);
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException)
                {
                    LogPurgeFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The ids of the last events sent, so that a catch-up overlapping live events sends each once.</summary>
    private sealed class RecentIds(int capacity)
    {
        private readonly HashSet<long> _ids = [];
        private readonly Queue<long> _order = new();

        public bool Contains(long id) => _ids.Contains(id);

        public void Add(long id)
        {
            if (_ids.Add(id))
            {
                _order.Enqueue(id);
                if (_order.Count > capacity)
                {
                    _ids.Remove(_order.Dequeue());
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening for user events.")]
    private static partial void LogListening(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The user events connection was lost; reconnecting in {Delay}.")]
    private static partial void LogConnectionLost(ILogger logger, TimeSpan delay, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "User events could not be read; catching up in {Delay}.")]
    private static partial void LogDispatchFailed(ILogger logger, TimeSpan delay, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Catching up with {Missed} user events committed while not listening ({Sent} for streams here).")]
    private static partial void LogCatchingUp(ILogger logger, int missed, int sent);

    [LoggerMessage(Level = LogLevel.Warning, Message = "More than {Max} user events were missed while not listening: the {Streams} streams here were ended to resume on their own.")]
    private static partial void LogCatchUpTooLarge(ILogger logger, int max, int streams);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Purged {Count} old user events.")]
    private static partial void LogPurged(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Purging old user events failed; the next round tries again.")]
    private static partial void LogPurgeFailed(ILogger logger, Exception exception);
}
