using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace XGrowth.X;

/// <summary>One media item to upload: what it is, and a way to read its bytes piece by piece (never whole).</summary>
/// <param name="ReadPieces">The bytes in order, in pieces of any size; each call starts from the first byte.</param>
public sealed record MediaUpload(string ContentType, bool IsGif, long Bytes, string? AltText,
    Func<CancellationToken, IAsyncEnumerable<ReadOnlyMemory<byte>>> ReadPieces);

/// <summary>What became of one media upload. No post exists yet whatever happened, so every failure is safe to retry.</summary>
public abstract record MediaUploadResult
{
    /// <summary>X holds the media (processed, with its alt text): its id goes into the post's <c>media.media_ids</c>.</summary>
    public sealed record Uploaded(string MediaId) : MediaUploadResult;

    /// <summary>429: wait until X's reset.</summary>
    public sealed record RateLimited(DateTimeOffset Reset) : MediaUploadResult;

    /// <summary>401: the token was refused.</summary>
    public sealed record Unauthorized : MediaUploadResult;

    /// <summary>403: the token may not upload media (granted without <c>media.write</c>): the account must reconnect.</summary>
    public sealed record Forbidden(string Reason) : MediaUploadResult;

    /// <summary>Another 4xx, or X could not process the file: final, with X's reason.</summary>
    public sealed record Rejected(string Reason) : MediaUploadResult;

    /// <summary>5xx, a timeout, X unreachable, processing that did not end in time: try again later.</summary>
    public sealed record Failed(string Reason) : MediaUploadResult;
}

/// <summary>
/// Uploads media with X API v2 (REFERENCE.md): images in one <c>POST /2/media/upload</c>, GIFs in chunks
/// (<c>initialize</c>, <c>append</c> per piece, <c>finalize</c>, then <c>STATUS</c> while X processes), then the alt text
/// (<c>POST /2/media/metadata</c>). The bytes are written to the request as they are read, so an upload holds one
/// piece in memory, not the file.
/// </summary>
public sealed class XMediaClient(HttpClient http, IOptions<XOptions> options, TimeProvider time)
{
    /// <summary>How long X may process a GIF before the upload counts as failed (and is tried again later).</summary>
    public static readonly TimeSpan MaxProcessingWait = TimeSpan.FromMinutes(2);

    /// <summary>X's <c>check_after_secs</c> is followed, within these bounds.</summary>
    private static readonly TimeSpan MinStatusDelay = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxStatusDelay = TimeSpan.FromSeconds(30);

    private string Base => options.Value.ApiBaseUrl.TrimEnd('/');

    public async Task<MediaUploadResult> UploadAsync(string accessToken, MediaUpload media, CancellationToken cancellationToken)
    {
        var uploaded = media.IsGif
            ? await UploadChunkedAsync(accessToken, media, cancellationToken)
            : await UploadInOneRequestAsync(accessToken, media, cancellationToken);
        if (uploaded is not MediaUploadResult.Uploaded { MediaId: var id } || string.IsNullOrEmpty(media.AltText))
        {
            return uploaded;
        }

        var altText = await SendAsync(accessToken, HttpMethod.Post, "/2/media/metadata", JsonContent.Create(new JsonObject
        {
            ["id"] = id,
            ["metadata"] = new JsonObject { ["alt_text"] = new JsonObject { ["text"] = media.AltText } },
        }), "setting the alt text", cancellationToken);
        return altText.Failure ?? uploaded;
    }

    private async Task<MediaUploadResult> UploadInOneRequestAsync(string accessToken, MediaUpload media, CancellationToken cancellationToken)
    {
        var form = new MultipartFormDataContent
        {
            { new PiecesContent(media.ReadPieces, media.Bytes, media.ContentType), "media", "media" },
            { new StringContent("tweet_image"), "media_category" },
        };
        var answer = await SendAsync(accessToken, HttpMethod.Post, "/2/media/upload", form, "uploading the image", cancellationToken);
        return answer.Failure ?? IdOf(answer);
    }

    private async Task<MediaUploadResult> UploadChunkedAsync(string accessToken, MediaUpload media, CancellationToken cancellationToken)
    {
        var initialized = await SendAsync(accessToken, HttpMethod.Post, "/2/media/upload/initialize", JsonContent.Create(new JsonObject
        {
            ["media_type"] = media.ContentType,
            ["total_bytes"] = media.Bytes,
            ["media_category"] = "tweet_gif",
        }), "starting the GIF's upload", cancellationToken);
        if (initialized.Failure is not null)
        {
            return initialized.Failure;
        }

        if (IdOf(initialized) is not MediaUploadResult.Uploaded { MediaId: var id })
        {
            return IdOf(initialized);
        }

        var segment = 0;
        await foreach (var piece in media.ReadPieces(cancellationToken))
        {
            var form = new MultipartFormDataContent
            {
                { new ReadOnlyMemoryContent(piece), "media", "media" },
                { new StringContent(segment.ToString(CultureInfo.InvariantCulture)), "segment_index" },
            };
            var appended = await SendAsync(accessToken, HttpMethod.Post, $"/2/media/upload/{Uri.EscapeDataString(id)}/append", form,
                $"sending part {segment + 1} of the GIF", cancellationToken);
            if (appended.Failure is not null)
            {
                return appended.Failure;
            }

            segment++;
        }

        var finalized = await SendAsync(accessToken, HttpMethod.Post, $"/2/media/upload/{Uri.EscapeDataString(id)}/finalize", null,
            "finishing the GIF's upload", cancellationToken);
        return finalized.Failure ?? await WaitForProcessingAsync(accessToken, id, finalized.Body, cancellationToken);
    }

    /// <summary>Follows X's <c>processing_info</c> until the GIF is ready (or not), asking for its STATUS as X says.</summary>
    private async Task<MediaUploadResult> WaitForProcessingAsync(string accessToken, string id, JsonNode? answer, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + MaxProcessingWait;
        while (true)
        {
            var processing = answer?["data"]?["processing_info"];
            switch ((string?)processing?["state"])
            {
                case null or "succeeded":
                    return new MediaUploadResult.Uploaded(id);
                case "failed":
                    var error = processing!["error"];
                    return new MediaUploadResult.Rejected("X could not process the GIF: "
                        + ((string?)error?["message"] ?? (string?)error?["name"] ?? "no reason given."));
            }

            var delay = TimeSpan.FromSeconds(processing?["check_after_secs"]?.GetValueKind() == System.Text.Json.JsonValueKind.Number
                ? (double)processing["check_after_secs"]! : 1);
            delay = delay < MinStatusDelay ? MinStatusDelay : delay > MaxStatusDelay ? MaxStatusDelay : delay;
            if (time.GetUtcNow() + delay > deadline)
            {
                return new MediaUploadResult.Failed($"X was still processing the GIF after {MaxProcessingWait.TotalMinutes:0} minutes.");
            }

            await Task.Delay(delay, time, cancellationToken);
            var status = await SendAsync(accessToken, HttpMethod.Get, $"/2/media/upload?command=STATUS&media_id={Uri.EscapeDataString(id)}", null,
                "asking whether the GIF is processed", cancellationToken);
            if (status.Failure is not null)
            {
                return status.Failure;
            }

            answer = status.Body;
        }
    }

    private static MediaUploadResult IdOf(Answer answer) =>
        (string?)answer.Body?["data"]?["id"] is { Length: > 0 } id
            ? new MediaUploadResult.Uploaded(id)
            : new MediaUploadResult.Failed("X answered success without a media id.");

    /// <summary>X's answer to one request, or, when it is not a success, what that means (<see cref="Answer.Failure"/>).</summary>
    private sealed record Answer(JsonNode? Body, MediaUploadResult? Failure);

    private async Task<Answer> SendAsync(string accessToken, HttpMethod method, string path, HttpContent? content, string step, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, Base + path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (Exception e) when (XFailures.IsTransient(e, cancellationToken))
        {
            return new Answer(null, new MediaUploadResult.Failed(e is HttpRequestException
                ? $"X could not be reached while {step}: {e.Message}"
                : $"X did not answer in time while {step}."));
        }

        using (response)
        {
            JsonNode? body;
            try
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                body = text.Length == 0 ? null : JsonNode.Parse(text);
            }
            catch (System.Text.Json.JsonException)
            {
                body = null;
            }

            var reason = (string?)body?["detail"] ?? (string?)body?["title"] ?? $"X answered {(int)response.StatusCode}.";
            return (int)response.StatusCode switch
            {
                >= 200 and < 300 => new Answer(body, null),
                429 => new Answer(body, new MediaUploadResult.RateLimited(Reset(response))),
                401 => new Answer(body, new MediaUploadResult.Unauthorized()),
                403 => new Answer(body, new MediaUploadResult.Forbidden(reason)),
                >= 400 and < 500 => new Answer(body, new MediaUploadResult.Rejected($"X refused {step}: {reason}")),
                _ => new Answer(body, new MediaUploadResult.Failed($"X answered {(int)response.StatusCode} while {step}.")),
            };
        }
    }

    /// <summary>X's reset, or 15 minutes (X's rate-limit window) when it does not say.</summary>
    private DateTimeOffset Reset(HttpResponseMessage response) => XFailures.RateLimitReset(response) ?? time.GetUtcNow().AddMinutes(15);

    /// <summary>
    /// The media's bytes as a request body, written piece by piece as they are read, with the length known up front
    /// (so the request is not chunked and nothing is buffered). HttpClient has no content over an async sequence.
    /// </summary>
    private sealed class PiecesContent : HttpContent
    {
        private readonly Func<CancellationToken, IAsyncEnumerable<ReadOnlyMemory<byte>>> _read;
        private readonly long _length;

        public PiecesContent(Func<CancellationToken, IAsyncEnumerable<ReadOnlyMemory<byte>>> read, long length, string contentType)
        {
            _read = read;
            _length = length;
            Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            long written = 0;
            await foreach (var piece in _read(cancellationToken))
            {
                await stream.WriteAsync(piece, cancellationToken);
                written += piece.Length;
            }

            if (written != _length)
            {
                // Sending fewer or more bytes than announced would leave X waiting or cut the request: fail it instead.
                throw new IOException($"The media has {written} bytes stored, not the {_length} its metadata says.");
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _length;
            return true;
        }
    }
}
