using Npgsql;
using NpgsqlTypes;

namespace XGrowth.Worker;

/// <summary>
/// Deletes bookkeeping rows that can no longer matter, once an hour: OAuth states a day past their expiry, and
/// webhook ids older than Svix's whole retry schedule (about 28 hours) with a margin.
/// </summary>
public sealed partial class Housekeeping(NpgsqlDataSource dataSource, TimeProvider time, ILogger<Housekeeping> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);
    public static readonly TimeSpan WebhookIdRetention = TimeSpan.FromDays(7);
    public static readonly TimeSpan ExpiredStateRetention = TimeSpan.FromDays(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                var (states, webhookIds) = await RunOnceAsync(stoppingToken);
                LogCleaned(logger, states, webhookIds);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                // The database may be restarting; the next hour tries again.
                LogFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Deletes what has expired; answers how many OAuth states and webhook ids went.</summary>
    public async Task<(int States, int WebhookIds)> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return (await DeleteAsync("DELETE FROM x_oauth_states WHERE expires_at < $1", now - ExpiredStateRetention, cancellationToken),
            await DeleteAsync("DELETE FROM clerk_webhook_deliveries WHERE received_at < $1", now - WebhookIdRetention, cancellationToken));
    }

    private async Task<int> DeleteAsync(string sql, DateTimeOffset before, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = before });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Housekeeping removed {States} expired OAuth states and {WebhookIds} old webhook ids.")]
    private static partial void LogCleaned(ILogger logger, int states, int webhookIds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Housekeeping could not reach the database.")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
