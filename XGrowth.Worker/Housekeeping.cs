using Npgsql;
using NpgsqlTypes;
using XGrowth.Data;

namespace XGrowth.Worker;

/// <summary>
/// Deletes rows that can no longer matter, once an hour: OAuth states a day past their expiry, webhook ids older than
/// Svix's whole retry schedule (about 28 hours) with a margin, media no post has used for a day, and the contents of
/// media whose posts are all final (published or cancelled) for 30 days.
/// </summary>
public sealed partial class Housekeeping(NpgsqlDataSource dataSource, TimeProvider time, ILogger<Housekeeping> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);
    public static readonly TimeSpan WebhookIdRetention = TimeSpan.FromDays(7);
    public static readonly TimeSpan ExpiredStateRetention = TimeSpan.FromDays(1);

    /// <summary>Media attached to no post is deleted this long after it was uploaded or last attached, detached or described.</summary>
    public static readonly TimeSpan UnusedMediaRetention = TimeSpan.FromHours(24);

    /// <summary>Media contents are removed once every post using them has been published or cancelled this long.</summary>
    public static readonly TimeSpan FinalMediaRetention = TimeSpan.FromDays(30);

    /// <summary>Media rows handled per statement: each batch is a short transaction of its own.</summary>
    private const int MediaBatch = 200;

    /// <summary>
    /// Unused media, oldest first. Attaching or detaching media bumps its <c>updated_at</c> under the row's lock
    /// (XGrowth.Api/Posts/PartMediaRules.cs): a row an edit holds is skipped, and one an edit changed after this
    /// statement began is checked again as it is now (PostgreSQL re-reads a locked row's latest version), so media
    /// being attached at this moment is never deleted from under its post.
    /// </summary>
    private static readonly string DeleteUnusedMediaSql = $"""
        DELETE FROM media WHERE id IN (
            SELECT m.id FROM media AS m
            WHERE m.updated_at < $1 AND NOT EXISTS (SELECT 1 FROM post_part_media AS l WHERE l.media_id = m.id)
            LIMIT {MediaBatch} FOR UPDATE SKIP LOCKED)
        """;

    /// <summary>
    /// Media used only by posts final for the retention (a published post since it was published, a cancelled one since
    /// its last change): the contents go, the metadata stays (the posts still show it) with <c>content_removed_at</c>.
    /// </summary>
    private static readonly string RemoveFinalContentsSql = $"""
        WITH due AS (
            SELECT m.id FROM media AS m
            WHERE m.content_removed_at IS NULL AND m.updated_at < $1
              AND EXISTS (SELECT 1 FROM post_part_media AS l WHERE l.media_id = m.id)
              AND NOT EXISTS (
                  SELECT 1 FROM post_part_media AS l JOIN scheduled_posts AS p ON p.id = l.post_id
                  WHERE l.media_id = m.id
                    AND NOT (p.status IN {PostStatuses.FinalSql}
                             AND CASE WHEN p.status = 'published' THEN COALESCE(p.published_at, p.updated_at) ELSE p.updated_at END < $1))
            LIMIT {MediaBatch} FOR UPDATE OF m SKIP LOCKED
        ), removed AS (
            UPDATE media SET content_removed_at = $2 FROM due WHERE media.id = due.id RETURNING media.id
        ), pieces AS (
            DELETE FROM media_contents WHERE media_id IN (SELECT id FROM removed)
        )
        SELECT count(*)::int FROM removed
        """;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                var cleaned = await RunOnceAsync(stoppingToken);
                LogCleaned(logger, cleaned.States, cleaned.WebhookIds, cleaned.UnusedMedia, cleaned.MediaContents);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                // The database may be restarting; the next hour tries again.
                LogFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>How many rows one run removed (media contents: how many media items lost theirs).</summary>
    public sealed record Cleaned(int States, int WebhookIds, int UnusedMedia, int MediaContents);

    /// <summary>Deletes what has expired.</summary>
    public async Task<Cleaned> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var states = await ExecuteAsync("DELETE FROM x_oauth_states WHERE expires_at < $1", now - ExpiredStateRetention, cancellationToken);
        var webhookIds = await ExecuteAsync("DELETE FROM clerk_webhook_deliveries WHERE received_at < $1", now - WebhookIdRetention, cancellationToken);
        var unusedMedia = await InBatchesAsync(() => ExecuteAsync(DeleteUnusedMediaSql, now - UnusedMediaRetention, cancellationToken));
        var contents = await InBatchesAsync(async () =>
        {
            await using var command = dataSource.CreateCommand(RemoveFinalContentsSql);
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = now - FinalMediaRetention });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = now });
            return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
        });
        return new Cleaned(states, webhookIds, unusedMedia, contents);
    }

    private static async Task<int> InBatchesAsync(Func<Task<int>> batch)
    {
        var total = 0;
        int done;
        do
        {
            done = await batch();
            total += done;
        }
        while (done == MediaBatch);
        return total;
    }

    private async Task<int> ExecuteAsync(string sql, DateTimeOffset before, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = before });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Housekeeping removed {States} expired OAuth states, {WebhookIds} old webhook ids, {UnusedMedia} unused media and the contents of {MediaContents} media of final posts.")]
    private static partial void LogCleaned(ILogger logger, int states, int webhookIds, int unusedMedia, int mediaContents);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Housekeeping could not reach the database.")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
