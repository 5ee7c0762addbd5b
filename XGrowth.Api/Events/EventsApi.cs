using System.Buffers;
using System.Reflection;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using XGrowth.Api.Auth;

namespace XGrowth.Api.Events;

/// <summary>
/// <c>GET /api/events</c>: the signed-in user's live updates as Server-Sent Events. Every API replica listens to
/// PostgreSQL (one connection each, <see cref="UserEventListener"/>), so any replica can serve any stream.
/// </summary>
public static partial class EventsApi
{
    /// <summary>Most events a resumed stream replays (the latest of each post or account); beyond it the client reloads instead.</summary>
    public const int MaxReplay = 1_000;

    /// <summary>How long a request waits for the listener of a process that is just starting.</summary>
    private static readonly TimeSpan ListenerStartWait = TimeSpan.FromSeconds(5);

    public static WebApplicationBuilder AddUserEvents(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<EventsOptions>().BindConfiguration(EventsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<UserEventHub>();
        builder.Services.AddSingleton<UserEventStore>();
        if (!OpenApi.BuildTimeDocument.IsGenerating)
        {
            // Writing the document at build time starts the host without a database to listen to.
            builder.Services.AddHostedService<UserEventListener>();
        }

        return builder;
    }

    public static RouteGroupBuilder MapEventsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/events").WithTags("Live updates").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        group.MapGet("/", StreamAsync).WithName("streamEvents").WithSummary("Stream live updates")
            .WithDescription("Server-Sent Events of the user's changes: `post.updated` (the post as `getPost` answers it), " +
                "`x-account.updated` (the account as `listXAccounts` lists it), `ready` first (`{\"resumed\": bool, \"reason\"}`: " +
                "reload when not resumed) and `user.deleted` last. Send the last event's `id` back as `Last-Event-ID` (or " +
                "`lastEventId`) to resume within 5 minutes without losing an event. A `: keep-alive` comment comes every 15 s. " +
                "429 (`too_many_streams`) beyond 10 open streams per user.")
            .ProducesProblem(StatusCodes.Status429TooManyRequests).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return group;
    }

    public sealed record StreamServices(UserEventHub Hub, UserEventStore Store, TimeProvider Time, IOptions<EventsOptions> Options, ILogger<EventStreamResult> Logger);

    /// <param name="lastEventIdHeader">The last event's <c>id</c>, which a browser's <c>EventSource</c> sends by itself when it reconnects.</param>
    /// <param name="lastEventId">The same, for clients that cannot set headers (a new <c>EventSource</c> after a page reload); the header wins.</param>
    internal static async Task<Results<EventStreamResult, ProblemHttpResult>> StreamAsync(
        ClaimsPrincipal principal, [FromHeader(Name = "Last-Event-ID")] string? lastEventIdHeader, [FromQuery] string? lastEventId,
        [AsParameters] StreamServices services, CancellationToken cancellationToken)
    {
        var userId = principal.ClerkUserId();
        var hub = services.Hub;
        if (!hub.Listening.IsCompleted)
        {
            try
            {
                await hub.Listening.WaitAsync(ListenerStartWait, services.Time, cancellationToken);
            }
            catch (TimeoutException)
            {
                return Unavailable("Live updates are not available yet: the API cannot reach its database.");
            }
        }

        if (hub.TryOpen(userId) is not { } stream)
        {
            return TypedResults.Problem(title: "Too many streams",
                detail: $"At most {services.Options.Value.MaxStreamsPerUser} live update streams per user are open at once: close one (one per browser tab is plenty).",
                statusCode: StatusCodes.Status429TooManyRequests, extensions: new Dictionary<string, object?> { ["code"] = "too_many_streams" });
        }

        try
        {
            var opening = await OpenAsync(userId, lastEventIdHeader ?? lastEventId, services, cancellationToken);
            return new EventStreamResult(stream, opening, services);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
        {
            hub.Close(stream);
            LogOpenFailed(services.Logger, e);
            return Unavailable("Live updates are not available right now: the API cannot reach its database. Try again shortly.");
        }
        catch
        {
            hub.Close(stream);
            throw;
        }
    }

    /// <summary>What a stream writes before its live events: the replay (when it resumes) and the <c>ready</c> event.</summary>
    public sealed record StreamOpening(List<ServerSentEvent> Replay, ServerSentEvent Ready, HashSet<long> ReplayedIds);

    private static async Task<StreamOpening> OpenAsync(string userId, string? lastEventId, StreamServices services, CancellationToken cancellationToken)
    {
        var now = services.Time.GetUtcNow();
        string? notResumedBecause = null;
        (long, ulong)? from = null;
        if (string.IsNullOrEmpty(lastEventId))
        {
            notResumedBecause = "no_last_event_id";
        }
        else if (!EventPosition.TryParse(lastEventId, out var position) || position.IssuedAt > now + TimeSpan.FromMinutes(1))
        {
            notResumedBecause = "unrecognized";
        }
        else if (now - position.IssuedAt > EventsOptions.ResumeWindow)
        {
            notResumedBecause = "expired";
        }
        else
        {
            from = (position.EventId, position.TxXmin);
        }

        // The hub already queues this user's live events: everything that commits after this read reaches the stream.
        var (rows, at, truncated) = await services.Store.ReadAfterAsync(userId, from, MaxReplay, cancellationToken);
        if (truncated)
        {
            notResumedBecause = "too_many_changes";
            rows.Clear();
        }

        var replay = (await services.Store.RenderAsync(rows, now, cancellationToken)).Select(r => r.Event).ToList();
        var ready = ServerSentEvent.Create(UserEventTypes.Ready,
            notResumedBecause is null ? """{"resumed":true}""" : $$"""{"resumed":false,"reason":"{{notResumedBecause}}"}""",
            new EventPosition(at.EventId, at.TxXmin, now));
        return new StreamOpening(replay, ready, [.. rows.Select(r => r.Id)]);
    }

    private static ProblemHttpResult Unavailable(string detail) =>
        TypedResults.Problem(title: "Live updates unavailable", detail: detail, statusCode: StatusCodes.Status503ServiceUnavailable);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A live update stream could not be opened.")]
    private static partial void LogOpenFailed(ILogger logger, Exception exception);
}

/// <summary>Writes one stream: the reconnect hint, the replay, <c>ready</c>, then live events and heartbeats until it ends.</summary>
public sealed partial class EventStreamResult(UserEventStream stream, EventsApi.StreamOpening opening, EventsApi.StreamServices services)
    : IResult, IEndpointMetadataProvider
{
    public const string ContentType = "text/event-stream";

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        var aborted = httpContext.RequestAborted;
        try
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = ContentType;
            response.Headers.CacheControl = "no-cache";
            // nginx (and proxies that follow it) would otherwise buffer the stream and deliver events late, in bunches.
            response.Headers["X-Accel-Buffering"] = "no";
            httpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            var writer = response.BodyWriter;
            writer.Write(ServerSentEvent.Retry(services.Options.Value.ReconnectDelay).Frame.AsSpan());
            foreach (var replayed in opening.Replay)
            {
                writer.Write(replayed.Frame.AsSpan());
            }

            writer.Write(opening.Ready.Frame.AsSpan());
            await writer.FlushAsync(aborted);
            LogOpened(services.Logger, stream.UserId, opening.Replay.Count);

            var events = stream.Events;
            while (await events.WaitToReadAsync(aborted))
            {
                while (events.TryRead(out var message))
                {
                    // A live event that committed while the replay was read is already there.
                    if (message.EventId is not { } id || !opening.ReplayedIds.Contains(id))
                    {
                        writer.Write(message.Frame.AsSpan());
                    }
                }

                await writer.FlushAsync(aborted);
            }

            LogEnded(services.Logger, stream.UserId, stream.EndedBecause);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client left.
        }
        finally
        {
            services.Hub.Close(stream);
        }
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(string), [ContentType]));

    [LoggerMessage(Level = LogLevel.Debug, Message = "Live update stream opened for {UserId} ({Replayed} events replayed).")]
    private static partial void LogOpened(ILogger logger, string userId, int replayed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Live update stream of {UserId} ended by the server: {Reason}.")]
    private static partial void LogEnded(ILogger logger, string userId, StreamEnd? reason);
}
