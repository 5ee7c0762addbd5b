using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace XGrowth.Tests.Events;

/// <summary>One frame of a Server-Sent Events stream as a client parses it: an event, a comment, or a <c>retry:</c> hint.</summary>
public sealed record SseFrame(string? Id, string? Event, string? Data, string? Comment, int? Retry)
{
    public JsonObject Json => (JsonObject)JsonNode.Parse(Data ?? "null")!;

    public override string ToString() => Comment is not null ? $": {Comment}" : $"{Event} {Id} {Data}";
}

/// <summary>
/// An open <c>GET /api/events</c> stream read line by line, as <c>EventSource</c> parses it (the WHATWG rules for
/// fields, comments and blank lines), keeping everything it saw.
/// </summary>
public sealed class ServerSentEventsClient : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private ServerSentEventsClient(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public HttpResponseMessage Response => _response;

    /// <summary>Every frame read so far.</summary>
    public List<SseFrame> Seen { get; } = [];

    /// <summary>The id of the last event read (what a browser sends back as <c>Last-Event-ID</c>).</summary>
    public string? LastEventId { get; private set; }

    /// <summary>Opens the stream; the answer must be 200 (see <see cref="SendAsync"/> to check another).</summary>
    public static async Task<ServerSentEventsClient> OpenAsync(HttpClient client, string? lastEventId = null, string path = "/api/events")
    {
        var response = await SendAsync(client, lastEventId, path);
        if (!response.IsSuccessStatusCode)
        {
            Assert.Fail($"GET {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}");
        }

        var stream = new ServerSentEventsClient(response, new StreamReader(await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken)));
        return stream;
    }

    public static Task<HttpResponseMessage> SendAsync(HttpClient client, string? lastEventId = null, string path = "/api/events")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        return client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
    }

    /// <summary>The next frame, or null when the server ended the stream; fails the test after <paramref name="timeout"/>.</summary>
    public async Task<SseFrame?> NextAsync(TimeSpan timeout)
    {
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cancellation.CancelAfter(timeout);
        string? id = null, type = null, comment = null;
        int? retry = null;
        List<string>? data = null;
        try
        {
            while (true)
            {
                var line = await _reader.ReadLineAsync(cancellation.Token);
                if (line is null)
                {
                    return null;
                }

                if (line.Length == 0)
                {
                    if (data is null && comment is null && retry is null && id is null && type is null)
                    {
                        continue;
                    }

                    var frame = new SseFrame(id, type ?? (data is null ? null : "message"), data is null ? null : string.Join('\n', data), comment, retry);
                    if (id is not null)
                    {
                        LastEventId = id;
                    }

                    Seen.Add(frame);
                    return frame;
                }

                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon == 0)
                {
                    comment = line[1..].TrimStart();
                    continue;
                }

                var field = colon < 0 ? line : line[..colon];
                var value = colon < 0 ? "" : line[(colon + 1)..];
                if (value.StartsWith(' '))
                {
                    value = value[1..];
                }

                switch (field)
                {
                    case "id": id = value; break;
                    case "event": type = value; break;
                    case "data": (data ??= []).Add(value); break;
                    case "retry": retry = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                }
            }
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"No complete frame within {timeout}. Seen: {string.Join(" | ", Seen)}");
            throw;
        }
    }

    /// <summary>Reads until an event matching <paramref name="match"/> (skipping heartbeats and other events).</summary>
    public async Task<SseFrame> NextEventAsync(Func<SseFrame, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            Assert.True(left > TimeSpan.Zero, $"No matching event in time. Seen: {string.Join(" | ", Seen)}");
            var frame = await NextAsync(left);
            Assert.True(frame is not null, $"The stream ended before a matching event. Seen: {string.Join(" | ", Seen)}");
            if (frame.Event is not null && match(frame))
            {
                return frame;
            }
        }
    }

    public Task<SseFrame> NextEventAsync(string type, TimeSpan? timeout = null) => NextEventAsync(f => f.Event == type, timeout);

    /// <summary>Reads the stream's opening (the retry hint and the replay) up to its <c>ready</c> event, which it returns.</summary>
    public Task<SseFrame> ReadyAsync() => NextEventAsync("ready");

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}
