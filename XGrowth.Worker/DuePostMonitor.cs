using Microsoft.EntityFrameworkCore;
using XGrowth.Data;

namespace XGrowth.Worker;

/// <summary>
/// Reports, once a minute, how many scheduled posts are due. A placeholder for the publisher (a later issue): it
/// shows that the worker runs, reaches the database and keeps time through <see cref="TimeProvider"/>.
/// </summary>
public sealed partial class DuePostMonitor(IServiceScopeFactory scopes, TimeProvider time, ILogger<DuePostMonitor> logger)
    : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarted(logger);
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<XGrowthDbContext>();
                var now = time.GetUtcNow();
                var due = await db.ScheduledPosts.CountAsync(
                    post => post.Status == ScheduledPostStatus.Scheduled && post.ScheduledAt <= now, stoppingToken);
                LogDuePosts(logger, due);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The database may be restarting; the next tick tries again, and /health reports it meanwhile.
                LogDatabaseUnavailable(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker started; checking for due posts every minute.")]
    private static partial void LogStarted(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "{DueCount} scheduled posts are due.")]
    private static partial void LogDuePosts(ILogger logger, int dueCount);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read due posts.")]
    private static partial void LogDatabaseUnavailable(ILogger logger, Exception exception);
}
