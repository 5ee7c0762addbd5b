using System.Diagnostics;
using Microsoft.Extensions.Options;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Worker.Analytics;

/// <summary>
/// One claimed piece of collection: an account's snapshot, or a batch of its due post metrics. Reserves the reads in the
/// shared budget, reads X with the account's token, and records what X said, by the class of its answer (REFERENCE.md).
/// </summary>
public sealed partial class MetricsCollection(
    AnalyticsStore store, XMetricsClient x, IServiceScopeFactory scopes, IOptions<AnalyticsOptions> options, TimeProvider time,
    ILogger<MetricsCollection> logger)
{
    public static readonly ActivitySource ActivitySource = new("XGrowth.Worker.Analytics");

    /// <summary>
    /// Posts this close to X's 30-day limit are read without <c>non_public_metrics</c>: asking for them on a post X
    /// counts as older is an error, and clocks differ.
    /// </summary>
    private static readonly TimeSpan NonPublicMargin = TimeSpan.FromHours(1);

    /// <summary>Takes the account's snapshot for the claimed due time (one read).</summary>
    public async Task TakeSnapshotAsync(SnapshotClaim claim, CancellationToken cancellationToken)
    {
        using var activity = ActivitySource.StartActivity("collect follower snapshot", ActivityKind.Internal, parentContext: default);
        activity?.SetTag("xgrowth.x_account_id", claim.XAccountId);
        try
        {
            if (!await ReserveAsync(1, cancellationToken))
            {
                activity?.SetTag("xgrowth.analytics.outcome", "budget_spent");
                return;
            }

            var result = await ReadAsync(claim.XAccountId, XReadEndpoint.Users, 1, "snapshot",
                token => x.GetAccountMetricsAsync(token, cancellationToken), cancellationToken);
            if (result is not null)
            {
                await store.StoreSnapshotAsync(claim, result, cancellationToken);
            }

            activity?.SetTag("xgrowth.analytics.outcome", result is null ? "not_read" : "stored");
        }
        finally
        {
            await store.ReleaseAsync(claim, CancellationToken.None);
        }
    }

    /// <summary>
    /// Reads the account's newest due posts (at most 100, in one request, or two when some are past X's 30 days for
    /// <c>non_public_metrics</c>), stores a reading for each, and marks the posts X no longer has as deleted on X.
    /// </summary>
    public async Task ReadPostMetricsAsync(PostsClaim claim, CancellationToken cancellationToken)
    {
        using var activity = ActivitySource.StartActivity("collect post metrics", ActivityKind.Internal, parentContext: default);
        activity?.SetTag("xgrowth.x_account_id", claim.XAccountId);
        try
        {
            var due = await store.DuePostsAsync(claim.XAccountId, cancellationToken);
            var now = time.GetUtcNow();
            var youngAfter = now - XMetricsClient.NonPublicMetricsAge + NonPublicMargin;
            // Newest first in each group: when the budget grants fewer reads than asked, the newest posts get them.
            foreach (var (posts, withNonPublic) in new[] { (due.Where(p => p.PublishedAt > youngAfter).ToList(), true),
                         (due.Where(p => p.PublishedAt <= youngAfter).ToList(), false) })
            {
                if (posts.Count == 0)
                {
                    continue;
                }

                var (granted, _) = await ReserveWithCountAsync(posts.Count, cancellationToken);
                if (granted == 0)
                {
                    activity?.SetTag("xgrowth.analytics.outcome", "budget_spent");
                    return;
                }

                var batch = posts.Take(granted).ToList();
                var answer = await ReadAsync(claim.XAccountId, XReadEndpoint.Tweets, batch.Count, "post",
                    token => x.GetPostMetricsAsync(token, [.. batch.Select(p => p.XPostId)], withNonPublic, cancellationToken), cancellationToken);
                if (answer is null)
                {
                    activity?.SetTag("xgrowth.analytics.outcome", "not_read");
                    return;
                }

                var readings = new List<(DuePost, PostMetricKind, XPostMetrics)>();
                var deleted = new List<DuePost>();
                foreach (var post in batch)
                {
                    if (answer.Found.TryGetValue(post.XPostId, out var metrics))
                    {
                        readings.Add((post, PostMetricSchedule.DueNow(post.PublishedAt, now) ?? PostMetricKind.OneHour, metrics));
                    }
                    else
                    {
                        deleted.Add(post);
                    }
                }

                await store.RecordPostReadingsAsync(readings, deleted, cancellationToken);
                activity?.SetTag("xgrowth.analytics.posts_read", readings.Count);
                activity?.SetTag("xgrowth.analytics.posts_deleted_on_x", deleted.Count);
            }
        }
        finally
        {
            await store.ReleaseAsync(claim, CancellationToken.None);
        }
    }

    private async Task<bool> ReserveAsync(int reads, CancellationToken cancellationToken) =>
        (await ReserveWithCountAsync(reads, cancellationToken)).Granted == reads;

    private async Task<(int Granted, long Left)> ReserveWithCountAsync(int reads, CancellationToken cancellationToken)
    {
        var (granted, left) = await store.ReserveReadsAsync(reads, options.Value.MaxReadsPerDay, cancellationToken);
        AnalyticsMetrics.SetBudgetLeft(left);
        return (granted, left);
    }

    /// <summary>
    /// One read with the account's token, its <paramref name="reads"/> already reserved. A 401 refreshes the token once
    /// and reads again (reserving again); a second 401, or X refusing the refresh, makes the account
    /// <c>needs_reconnect</c>, which stops its collection. A 429, or a window X says is used up, pauses this account's
    /// endpoint until X's reset; a failure pauses it for <see cref="AnalyticsOptions.RetryDelay"/>. Null unless X answered.
    /// </summary>
    private async Task<T?> ReadAsync<T>(Guid accountId, XReadEndpoint endpoint, int reads, string kind,
        Func<string, Task<XReadResult<T>>> read, CancellationToken cancellationToken) where T : class
    {
        await using var scope = scopes.CreateAsyncScope();
        var tokens = scope.ServiceProvider.GetRequiredService<XAccessTokens>();
        string? token;
        try
        {
            token = await tokens.GetAsync(accountId, cancellationToken);
        }
        catch (Exception e) when (XFailures.IsTransient(e, cancellationToken))
        {
            LogTokenUnavailable(logger, accountId, e);
            await store.PauseAsync(accountId, endpoint, time.GetUtcNow() + options.Value.RetryDelay, cancellationToken);
            return null;
        }

        if (token is null)
        {
            return null; // Not connected (any more): its claims stop here.
        }

        var result = await SendAsync(read, token, endpoint, reads, kind);
        if (result is XReadResult<T>.Unauthorized)
        {
            string? fresh;
            try
            {
                fresh = await tokens.RefreshRejectedAsync(accountId, token, cancellationToken);
            }
            catch (Exception e) when (XFailures.IsTransient(e, cancellationToken))
            {
                LogTokenUnavailable(logger, accountId, e);
                await store.PauseAsync(accountId, endpoint, time.GetUtcNow() + options.Value.RetryDelay, cancellationToken);
                return null;
            }

            if (fresh is null)
            {
                LogNeedsReconnect(logger, accountId);
                return null; // X refused the refresh: XAccessTokens marked the account needs_reconnect.
            }

            if (!await ReserveAsync(reads, cancellationToken))
            {
                return null;
            }

            result = await SendAsync(read, fresh, endpoint, reads, kind);
            if (result is XReadResult<T>.Unauthorized)
            {
                LogNeedsReconnect(logger, accountId);
                await tokens.MarkNeedsReconnectAsync(accountId, cancellationToken);
                return null;
            }
        }

        switch (result)
        {
            case XReadResult<T>.Ok ok:
                if (ok.Limit.IsExhausted)
                {
                    await store.PauseAsync(accountId, endpoint, ok.Limit.Reset!.Value, cancellationToken);
                }

                return ok.Value;
            case XReadResult<T>.RateLimited limited:
                LogRateLimited(logger, accountId, endpoint, limited.Reset);
                await store.PauseAsync(accountId, endpoint, limited.Reset, cancellationToken);
                return null;
            case XReadResult<T>.Failed failed:
                LogReadFailed(logger, accountId, endpoint, failed.Reason, options.Value.RetryDelay);
                await store.PauseAsync(accountId, endpoint, time.GetUtcNow() + options.Value.RetryDelay, cancellationToken);
                return null;
            default:
                return null;
        }
    }

    private static async Task<XReadResult<T>> SendAsync<T>(Func<string, Task<XReadResult<T>>> read, string token, XReadEndpoint endpoint, int reads, string kind)
    {
        AnalyticsMetrics.Reads.Add(reads, new KeyValuePair<string, object?>("kind", kind));
        var result = await read(token);
        AnalyticsMetrics.Requests.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint == XReadEndpoint.Users ? "users" : "tweets"),
            new KeyValuePair<string, object?>("outcome", result switch
            {
                XReadResult<T>.Ok => "ok",
                XReadResult<T>.RateLimited => "rate_limited",
                XReadResult<T>.Unauthorized => "unauthorized",
                _ => "failed",
            }));
        return result;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Account {AccountId}: X's rate limit for {Endpoint} is reached; its collection waits until {Reset}.")]
    private static partial void LogRateLimited(ILogger logger, Guid accountId, XReadEndpoint endpoint, DateTimeOffset reset);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Account {AccountId}: reading {Endpoint} failed ({Reason}); trying again in {RetryDelay}.")]
    private static partial void LogReadFailed(ILogger logger, Guid accountId, XReadEndpoint endpoint, string reason, TimeSpan retryDelay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Account {AccountId}: X refused its authorization; it needs reconnecting and its collection stops.")]
    private static partial void LogNeedsReconnect(ILogger logger, Guid accountId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Account {AccountId}: its token could not be refreshed (X unreachable); collection tries again later.")]
    private static partial void LogTokenUnavailable(ILogger logger, Guid accountId, Exception exception);
}
