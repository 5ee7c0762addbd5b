using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using XGrowth.X;

namespace XGrowth.Worker.Publishing;

/// <summary>Publishes one claimed post and records what happened, by the class of X's answer (REFERENCE.md).</summary>
public sealed partial class PostPublisher(
    DuePostClaimer claimer, XPostClient x, XMediaClient xMedia, XTokenProtector protector, IServiceScopeFactory scopes, IOptions<PublishingOptions> options,
    TimeProvider time, ILogger<PostPublisher> logger)
{
    public static readonly ActivitySource ActivitySource = new("XGrowth.Worker.Publishing");
    private static readonly Meter Meter = new("XGrowth.Worker.Publishing");
    private static readonly Counter<long> Outcomes = Meter.CreateCounter<long>("xgrowth.posts.published", "{post}", "Publishing attempts by outcome.");
    private static readonly Histogram<double> Lateness = Meter.CreateHistogram<double>("xgrowth.posts.lateness", "ms",
        "Time from a post's scheduled time to its request leaving for X.");

    public async Task<string> PublishAsync(ClaimedPost post, CancellationToken cancellationToken)
    {
        // A later trace of its own, linked to the request that created the post.
        ActivityLink[] links = ActivityContext.TryParse(post.CreationTraceParent, null, out var creation) ? [new ActivityLink(creation)] : [];
        using var activity = ActivitySource.StartActivity("publish post", ActivityKind.Internal, parentContext: default, links: links);
        activity?.SetTag("xgrowth.post_id", post.Id);
        activity?.SetTag("xgrowth.x_account_id", post.XAccountId);
        var outcome = await PublishCoreAsync(post, activity, cancellationToken);
        activity?.SetTag("xgrowth.publish.outcome", outcome);
        Outcomes.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
        LogOutcome(logger, post.Id, outcome);
        return outcome;
    }

    private async Task<string> PublishCoreAsync(ClaimedPost post, Activity? activity, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var tokens = scope.ServiceProvider.GetRequiredService<XAccessTokens>();
        string? token;
        try
        {
            token = post is { AccessTokenProtected: { } fresh, AccessTokenExpiresAt: { } expiresAt }
                && expiresAt - time.GetUtcNow() > XAccessTokens.RefreshMargin
                ? protector.Unprotect(fresh)
                : await tokens.GetAsync(post.XAccountId, cancellationToken);
        }
        catch (Exception e) when (XFailures.IsTransient(e, cancellationToken))
        {
            // The token could not be refreshed (X unreachable, or its answer lost): nothing was posted, try again later.
            return await RetryOrFailAsync(post, "X could not be reached to refresh the account's token.", e, cancellationToken);
        }

        if (token is null)
        {
            await claimer.FailedAsync(post, "The X account must be reconnected before this post can be published.", cancellationToken);
            return "failed_needs_reconnect";
        }

        var parts = await claimer.ReadPartsAsync(post.Id, cancellationToken);
        activity?.SetTag("xgrowth.post.parts", parts.Count);
        if (parts.Count == 0)
        {
            // The API never makes such a post; one written around it has nothing to publish.
            await claimer.FailedAsync(post, "The post has no text to publish.", cancellationToken);
            return "failed_empty";
        }

        var unsentMedia = parts.Where(p => p.XPostId is null).SelectMany(p => p.Media).ToList();
        if (unsentMedia.Count > 0 && !post.MayUploadMedia)
        {
            // Known before anything is sent: a thread is not left half published for want of a permission.
            await tokens.MarkNeedsReconnectAsync(post.XAccountId, cancellationToken);
            await claimer.FailedAsync(post, "This post has media, and the X account was connected without permission to upload media "
                + "(media.write): reconnect the account, then retry.", cancellationToken);
            return "failed_needs_media_scope";
        }

        if (unsentMedia.Any(m => m.ContentRemoved))
        {
            await claimer.FailedAsync(post, "An image of this post was removed from storage: edit the post's media, then retry.", cancellationToken);
            return "failed_media_removed";
        }

        var sentThisAttempt = false;
        string? previous = null;
        foreach (var part in parts)
        {
            if (part.XPostId is not null)
            {
                // On X already (an earlier attempt sent it): never again; the next part replies to it.
                previous = part.XPostId;
                continue;
            }

            // The part's media goes to X first: until its post is created, a failure there has posted nothing.
            var mediaIds = new List<string>(part.Media.Count);
            foreach (var media in part.Media)
            {
                var upload = new MediaUpload(media.ContentType, media.IsGif, media.Bytes, media.AltText,
                    pieces => claimer.ReadMediaPiecesAsync(media.Id, pieces));
                (var uploaded, token, var uploadRefreshFailure) = await SendRefreshingOnceAsync(tokens, post.XAccountId, token,
                    current => xMedia.UploadAsync(current, upload, cancellationToken), r => r is MediaUploadResult.Unauthorized, cancellationToken);
                if (uploadRefreshFailure is not null)
                {
                    return await RetryOrFailAsync(post, RefreshUnreachable, uploadRefreshFailure, cancellationToken);
                }

                if (uploaded is not MediaUploadResult.Uploaded { MediaId: var mediaId })
                {
                    return await RecordMediaFailureAsync(post, tokens, PartLabel(part, parts.Count), uploaded, cancellationToken);
                }

                mediaIds.Add(mediaId);
            }

            if (!await claimer.MarkSentAsync(post, part.Position, firstOfAttempt: !sentThisAttempt, options.Value.Lease, cancellationToken))
            {
                return "claim_lost";
            }

            if (!sentThisAttempt)
            {
                var lateness = (time.GetUtcNow() - post.ScheduledAt).TotalMilliseconds;
                Lateness.Record(lateness);
                activity?.SetTag("xgrowth.publish.lateness_ms", lateness);
                sentThisAttempt = true;
            }

            (var result, token, var refreshFailure) = await SendRefreshingOnceAsync(tokens, post.XAccountId, token,
                current => x.CreatePostAsync(current, part.Text, previous, mediaIds, cancellationToken), r => r is PublishResult.Unauthorized, cancellationToken);
            if (refreshFailure is not null)
            {
                return await RetryOrFailAsync(post, RefreshUnreachable, refreshFailure, cancellationToken);
            }

            if (result is PublishResult.Published published)
            {
                if (!await claimer.PartPublishedAsync(post, part.Position, published.XPostId, cancellationToken))
                {
                    return "claim_lost";
                }

                previous = published.XPostId;
                continue;
            }

            return await RecordFailureAsync(post, tokens, PartLabel(part, parts.Count), result, cancellationToken);
        }

        await claimer.PublishedAsync(post, cancellationToken);
        return "published";
    }

    private const string RefreshUnreachable = "X refused the account's token and could not be reached to refresh it.";

    /// <summary>
    /// Sends a request to X; after a 401, which proves X did nothing with it (no post, no media), refreshes the token
    /// once and sends it again, so this can never act twice. Answers the last result and the token to go on with, or
    /// the failure of a refresh X could not be reached for (the 401 says nothing about the account: try again later).
    /// </summary>
    private static async Task<(T Result, string Token, Exception? RefreshFailure)> SendRefreshingOnceAsync<T>(XAccessTokens tokens, Guid accountId,
        string token, Func<string, Task<T>> send, Func<T, bool> isUnauthorized, CancellationToken cancellationToken)
    {
        var result = await send(token);
        if (!isUnauthorized(result))
        {
            return (result, token, null);
        }

        string? fresh;
        try
        {
            fresh = await tokens.RefreshRejectedAsync(accountId, token, cancellationToken);
        }
        catch (Exception e) when (XFailures.IsTransient(e, cancellationToken))
        {
            return (result, token, e);
        }

        // X refused the refresh: the unauthorized result stands, and the caller marks the account for reconnection.
        return fresh is null ? (result, token, null) : (await send(fresh), fresh, null);
    }

    /// <summary>How a part is named in a reason the user reads: nothing for a one-part post.</summary>
    private static string PartLabel(ClaimedPart part, int count) =>
        part.Position switch
        {
            _ when count == 1 => "",
            0 => $"Part 1 of {count}: ",
            1 => $"Part 2 of {count} (part 1 is on X): ",
            _ => $"Part {part.Position + 1} of {count} (parts 1 to {part.Position} are on X): ",
        };

    /// <summary>A part was not published: what becomes of the post, by the class of X's answer.</summary>
    private async Task<string> RecordFailureAsync(ClaimedPost post, XAccessTokens tokens, string part, PublishResult result, CancellationToken cancellationToken)
    {
        switch (result)
        {
            case PublishResult.RateLimited limited:
                await claimer.RateLimitAccountAsync(post.XAccountId, limited.Reset, cancellationToken);
                await claimer.RescheduleAsync(post, limited.Reset, part + "X's rate limit for this account was reached; waiting for its reset.", cancellationToken);
                return "rate_limited";
            case PublishResult.Unauthorized:
                await tokens.MarkNeedsReconnectAsync(post.XAccountId, cancellationToken);
                await claimer.FailedAsync(post, part + "X refused the account's authorization: reconnect the account, then retry.", cancellationToken);
                return "failed_unauthorized";
            case PublishResult.Rejected rejected:
                await claimer.FailedAsync(post, part + "X refused the post: " + rejected.Reason, cancellationToken);
                return "failed_rejected";
            case PublishResult.NotSent notSent:
                return await RetryOrFailAsync(post, part + "X could not be reached: " + notSent.Reason, null, cancellationToken);
            case PublishResult.Unknown unknown:
                await claimer.UnconfirmedAsync(post, part + unknown.Reason + " Check X, then retry or dismiss.", cancellationToken);
                return "unconfirmed";
            default:
                throw new UnreachableException();
        }
    }

    /// <summary>A part's media could not be uploaded: nothing of that part was posted, so nothing is unconfirmed.</summary>
    private async Task<string> RecordMediaFailureAsync(ClaimedPost post, XAccessTokens tokens, string part, MediaUploadResult result, CancellationToken cancellationToken)
    {
        switch (result)
        {
            case MediaUploadResult.RateLimited limited:
                await claimer.RateLimitAccountAsync(post.XAccountId, limited.Reset, cancellationToken);
                await claimer.RescheduleAsync(post, limited.Reset, part + "X's rate limit for media uploads was reached; waiting for its reset.", cancellationToken);
                return "rate_limited";
            case MediaUploadResult.Unauthorized:
                await tokens.MarkNeedsReconnectAsync(post.XAccountId, cancellationToken);
                await claimer.FailedAsync(post, part + "X refused the account's authorization: reconnect the account, then retry.", cancellationToken);
                return "failed_unauthorized";
            case MediaUploadResult.Forbidden forbidden:
                // X's 403 on an upload is a token without media.write (an account connected before it was asked for).
                await tokens.MarkNeedsReconnectAsync(post.XAccountId, cancellationToken);
                await claimer.FailedAsync(post, part + "X refused to take media from this account (" + forbidden.Reason
                    + "): reconnect the account so that XGrowth may upload media (media.write), then retry.", cancellationToken);
                return "failed_needs_media_scope";
            case MediaUploadResult.Rejected rejected:
                await claimer.FailedAsync(post, part + rejected.Reason, cancellationToken);
                return "failed_media_rejected";
            case MediaUploadResult.Failed failed:
                return await RetryOrFailAsync(post, part + failed.Reason, null, cancellationToken);
            default:
                throw new UnreachableException();
        }
    }

    /// <summary>
    /// For a failure where nothing was posted: backs off from <see cref="PublishingOptions.FirstRetryDelay"/>, doubling
    /// to an hour, with jitter; fails after the last attempt. Logged either way, with what X did.
    /// </summary>
    private async Task<string> RetryOrFailAsync(ClaimedPost post, string reason, Exception? failure, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var attempt = post.Attempts + 1;
        if (attempt >= settings.MaxAttempts)
        {
            LogGivingUp(logger, post.Id, attempt, reason, failure);
            await claimer.FailedAsync(post, reason, cancellationToken);
            return "failed_unreachable";
        }

        var backoff = settings.FirstRetryDelay * Math.Pow(2, attempt - 1);
        if (backoff > TimeSpan.FromHours(1))
        {
            backoff = TimeSpan.FromHours(1);
        }

        backoff *= 0.8 + (Random.Shared.NextDouble() * 0.4);
        LogRetrying(logger, post.Id, attempt, reason, backoff, failure);
        await claimer.RescheduleAsync(post, time.GetUtcNow() + backoff, reason, cancellationToken);
        return "retry_scheduled";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Post {PostId}: {Outcome}")]
    private static partial void LogOutcome(ILogger logger, Guid postId, string outcome);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Post {PostId}, attempt {Attempt}: {Reason} Nothing was posted; trying again in {Backoff}.")]
    private static partial void LogRetrying(ILogger logger, Guid postId, int attempt, string reason, TimeSpan backoff, Exception? exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Post {PostId}, attempt {Attempt}: {Reason} Nothing was posted; giving up (the post fails).")]
    private static partial void LogGivingUp(ILogger logger, Guid postId, int attempt, string reason, Exception? exception);
}
