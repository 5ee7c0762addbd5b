using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace XGrowth.Api.Events;

/// <summary>Why the server ended a stream.</summary>
public enum StreamEnd
{
    /// <summary>The client did not read its events fast enough (it resumes with <c>Last-Event-ID</c>).</summary>
    TooSlow,

    /// <summary>The user was deleted.</summary>
    UserDeleted,

    /// <summary>The API process is stopping.</summary>
    ServerStopping,

    /// <summary>This process missed more events than it can catch up with; the client resumes from its own position.</summary>
    CatchUpTooLarge,
}

/// <summary>One open <c>GET /api/events</c> stream: the events waiting to be written to its client.</summary>
public sealed class UserEventStream
{
    private readonly Channel<ServerSentEvent> _queue;
    private int _ended;

    internal UserEventStream(string userId, int capacity)
    {
        UserId = userId;
        // Bounded, and written only with TryWrite: the hub never waits for a client.
        _queue = Channel.CreateBounded<ServerSentEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public string UserId { get; }

    /// <summary>Why the server ended it; null while it runs or when its client left.</summary>
    public StreamEnd? EndedBecause { get; private set; }

    public ChannelReader<ServerSentEvent> Events => _queue.Reader;

    /// <summary>Queues an event; a stream whose client is too slow to take it is ended instead.</summary>
    internal void Send(ServerSentEvent message)
    {
        if (!_queue.Writer.TryWrite(message))
        {
            End(StreamEnd.TooSlow);
        }
    }

    /// <summary>Ends the stream once what is queued has been written.</summary>
    internal void End(StreamEnd reason)
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            EndedBecause = reason;
            _queue.Writer.TryComplete();
        }
    }
}

/// <summary>
/// The open streams of this API process, by user: the listener hands each event to the streams of its user, and
/// only theirs. Also sends every stream its heartbeat (one timer for all).
/// </summary>
public sealed class UserEventHub : IDisposable
{
    private readonly Dictionary<string, List<UserEventStream>> _byUser = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly IOptions<EventsOptions> _options;
    private readonly ITimer _heartbeat;
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenRegistration _stopping;
    private int _count;

    public UserEventHub(IOptions<EventsOptions> options, TimeProvider time, IHostApplicationLifetime lifetime)
    {
        _options = options;
        var interval = options.Value.HeartbeatInterval;
        _heartbeat = time.CreateTimer(_ => SendToAll(ServerSentEvent.Heartbeat), null, interval, interval);
        // Open streams would hold the server's shutdown until their clients leave: end them, the clients reconnect
        // (to another replica, or to this one when it is back) and resume.
        _stopping = lifetime.ApplicationStopping.Register(() => EndAll(StreamEnd.ServerStopping));
    }

    /// <summary>Streams open on this process.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Completes once the listener listens: a stream opened before could miss what commits meanwhile.</summary>
    public Task Listening => _listening.Task;

    internal void MarkListening() => _listening.TrySetResult();

    /// <summary>Opens a stream for the user, or answers null when the user has <see cref="EventsOptions.MaxStreamsPerUser"/> open already.</summary>
    public UserEventStream? TryOpen(string userId)
    {
        var options = _options.Value;
        lock (_lock)
        {
            if (!_byUser.TryGetValue(userId, out var streams))
            {
                streams = _byUser[userId] = [];
            }

            if (streams.Count >= options.MaxStreamsPerUser)
            {
                return null;
            }

            var stream = new UserEventStream(userId, options.StreamBuffer);
            streams.Add(stream);
            _count++;
            return stream;
        }
    }

    public void Close(UserEventStream stream)
    {
        lock (_lock)
        {
            if (_byUser.TryGetValue(stream.UserId, out var streams) && streams.Remove(stream))
            {
                _count--;
                if (streams.Count == 0)
                {
                    _byUser.Remove(stream.UserId);
                }
            }
        }
    }

    public bool HasStreams(string userId)
    {
        lock (_lock)
        {
            return _byUser.ContainsKey(userId);
        }
    }

    /// <summary>Queues the event on each of the user's streams.</summary>
    public void Send(string userId, ServerSentEvent message)
    {
        lock (_lock)
        {
            if (_byUser.TryGetValue(userId, out var streams))
            {
                foreach (var stream in streams)
                {
                    stream.Send(message);
                }
            }
        }
    }

    /// <summary>Sends the user's streams a last event and ends them.</summary>
    public void End(string userId, ServerSentEvent last, StreamEnd reason)
    {
        lock (_lock)
        {
            if (_byUser.TryGetValue(userId, out var streams))
            {
                foreach (var stream in streams)
                {
                    stream.Send(last);
                    stream.End(reason);
                }
            }
        }
    }

    public void EndAll(StreamEnd reason)
    {
        lock (_lock)
        {
            foreach (var stream in _byUser.Values.SelectMany(s => s))
            {
                stream.End(reason);
            }
        }
    }

    private void SendToAll(ServerSentEvent message)
    {
        lock (_lock)
        {
            foreach (var streams in _byUser.Values)
            {
                foreach (var stream in streams)
                {
                    stream.Send(message);
                }
            }
        }
    }

    public void Dispose()
    {
        _heartbeat.Dispose();
        _stopping.Dispose();
    }
}
