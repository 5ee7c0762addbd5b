using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace XGrowth.DevStandIns.X;

/// <summary>
/// X's media upload on the stand-in (REFERENCE.md): images in one <c>POST /2/media/upload</c>, GIFs in chunks
/// (<c>initialize</c>, <c>append</c>, <c>finalize</c>, then <c>STATUS</c> while "processing"), alt text through
/// <c>POST /2/media/metadata</c>, and media ids checked when a post uses them (the uploader's own, processed, at most 4
/// images or 1 GIF). It needs <c>media.write</c>, as X does. The bytes are not kept, only their size and SHA-256, so
/// that a test can tell the file reached X whole and unchanged.
/// </summary>
/// <remarks>
/// Failures on demand, per X user (tests use their own accounts): <see cref="MediaUploadFailures"/> answers a status to
/// that user's next uploads; <see cref="GifProcessingFails"/> makes that user's GIFs fail processing. A GIF is
/// <c>pending</c> at finalize, then <c>in_progress</c>, then done at the second STATUS (each after
/// <c>check_after_secs</c> = 1). Segments must arrive in order (the worker sends them so; X would also take them out
/// of order).
/// </remarks>
public sealed partial class XStandIn
{
    public const long MaxImageBytes = 5 * 1024 * 1024;
    public const long MaxGifBytes = 15 * 1024 * 1024;
    private const int MaxKeptMedia = 20_000;

    private readonly ConcurrentDictionary<string, XMedia> _media = new();

    /// <summary>Statuses the next uploads of an X user answer (each used once): 400 (X refuses the file), 500, 503, 429, 403.</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<int>> MediaUploadFailures { get; } = new();

    /// <summary>X users whose GIFs fail X's processing.</summary>
    public ConcurrentDictionary<string, bool> GifProcessingFails { get; } = new();

    /// <summary>Every STATUS request, by media id (tests check that the worker waited for processing).</summary>
    public ConcurrentQueue<string> StatusChecks { get; } = new();

    /// <summary>Media uploaded by an X user's next requests fail with <paramref name="status"/>, <paramref name="times"/> times.</summary>
    public void FailMediaUploads(string xUserId, int status, int times = 1)
    {
        var queue = MediaUploadFailures.GetOrAdd(xUserId, _ => new ConcurrentQueue<int>());
        for (var i = 0; i < times; i++)
        {
            queue.Enqueue(status);
        }
    }

    public XMedia? FindMedia(string id) => _media.GetValueOrDefault(id);

    /// <summary>Media the stand-in holds: whose, what, how many bytes with which SHA-256, its alt text and processing state.</summary>
    public sealed class XMedia(string id, string xUserId, string category, long totalBytes)
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public string Id { get; } = id;

        public string XUserId { get; } = xUserId;

        public string Category { get; } = category;

        public long TotalBytes { get; } = totalBytes;

        public long ReceivedBytes { get; private set; }

        /// <summary>Requests the bytes came in: 1 for an image, one per <c>append</c> for a GIF.</summary>
        public int Segments { get; set; }

        public string? Sha256 { get; private set; }

        public string? AltText { get; set; }

        /// <summary>uploading (chunks still coming), pending, in_progress, succeeded or failed.</summary>
        public string State { get; set; } = "uploading";

        public int StatusChecks { get; set; }

        public bool IsGif => Category == "tweet_gif";

        public void Append(ReadOnlySpan<byte> bytes)
        {
            _hash.AppendData(bytes);
            ReceivedBytes += bytes.Length;
        }

        public void Complete() => Sha256 = Convert.ToHexStringLower(_hash.GetHashAndReset());
    }

    /// <summary><c>POST /2/media/upload</c>: an image in one request.</summary>
    public async Task<IResult> UploadMediaAsync(HttpContext context)
    {
        if (MediaCaller(context, out var user) is { } refused)
        {
            return refused;
        }

        if (!context.Request.HasFormContentType)
        {
            return Problem(400, "Invalid Request", "The request must be multipart/form-data.");
        }

        var form = await context.Request.ReadFormAsync();
        if (form.Files.GetFile("media") is not { } file)
        {
            return Problem(400, "Invalid Request", "The media field is required.");
        }

        var category = form["media_category"].ToString();
        if (category != "tweet_image")
        {
            return Problem(400, "Invalid Request", $"media_category '{category}' is not valid for a one-request upload here (tweet_image).");
        }

        if (file.Length > MaxImageBytes)
        {
            return Problem(400, "Invalid Request", "The image is larger than 5 MB.");
        }

        var media = new XMedia(NewPostId(), user!.XUserId, category, file.Length);
        await using (var stream = file.OpenReadStream())
        {
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                media.Append(buffer.AsSpan(0, read));
            }
        }

        media.Segments = 1;
        media.Complete();
        media.State = "succeeded";
        Keep(media);
        return Results.Json(new { data = new { id = media.Id, media_key = "3_" + media.Id, size = media.TotalBytes, expires_after_secs = 86_400 } });
    }

    /// <summary><c>POST /2/media/upload/initialize</c>: a chunked upload begins.</summary>
    public async Task<IResult> InitializeMediaAsync(HttpContext context)
    {
        if (MediaCaller(context, out var user) is { } refused)
        {
            return refused;
        }

        if (await ReadJsonAsync(context) is not { } body)
        {
            return Problem(400, "Invalid Request", "The request body must be a JSON object.");
        }

        var root = body.RootElement;
        var type = root.TryGetProperty("media_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var category = root.TryGetProperty("media_category", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
        var total = root.TryGetProperty("total_bytes", out var b) && b.TryGetInt64(out var bytes) ? bytes : -1;
        body.Dispose();
        if (type != "image/gif" || category != "tweet_gif")
        {
            return Problem(400, "Invalid Request", "This stand-in takes chunked uploads of GIFs only (media_type image/gif, media_category tweet_gif).");
        }

        if (total is <= 0 or > MaxGifBytes)
        {
            return Problem(400, "Invalid Request", "total_bytes must be between 1 and 15 MB for a GIF.");
        }

        var media = new XMedia(NewPostId(), user!.XUserId, category, total);
        Keep(media);
        return Results.Json(new { data = new { id = media.Id, media_key = "16_" + media.Id, expires_after_secs = 86_400 } });
    }

    /// <summary><c>POST /2/media/upload/{id}/append</c>: one segment, in order.</summary>
    public async Task<IResult> AppendMediaAsync(HttpContext context, string id)
    {
        if (MediaCaller(context, out var user) is { } refused)
        {
            return refused;
        }

        if (Owned(id, user!) is not { State: "uploading" } media)
        {
            return Problem(400, "Invalid Request", "Unknown media id, or its upload is finalized.");
        }

        if (!context.Request.HasFormContentType)
        {
            return Problem(400, "Invalid Request", "The request must be multipart/form-data.");
        }

        var form = await context.Request.ReadFormAsync();
        if (form.Files.GetFile("media") is not { } file
            || !int.TryParse(form["segment_index"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var segment))
        {
            return Problem(400, "Invalid Request", "media and segment_index are required.");
        }

        lock (media)
        {
            if (segment != media.Segments)
            {
                return Problem(400, "Invalid Request", $"segment_index {segment} arrived where {media.Segments} was expected.");
            }

            if (media.ReceivedBytes + file.Length > media.TotalBytes)
            {
                return Problem(400, "Invalid Request", "More bytes than total_bytes were appended.");
            }

            using var stream = file.OpenReadStream();
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                media.Append(buffer.AsSpan(0, read));
            }

            media.Segments++;
        }

        return Results.NoContent();
    }

    /// <summary><c>POST /2/media/upload/{id}/finalize</c>: processing starts.</summary>
    public IResult FinalizeMedia(HttpContext context, string id)
    {
        if (MediaCaller(context, out var user) is { } refused)
        {
            return refused;
        }

        if (Owned(id, user!) is not { State: "uploading" } media)
        {
            return Problem(400, "Invalid Request", "Unknown media id, or its upload is finalized.");
        }

        lock (media)
        {
            if (media.ReceivedBytes != media.TotalBytes)
            {
                return Problem(400, "Invalid Request", $"{media.ReceivedBytes} bytes were appended, total_bytes said {media.TotalBytes}.");
            }

            media.Complete();
            media.State = "pending";
        }

        return Results.Json(new
        {
            data = new { id = media.Id, media_key = "16_" + media.Id, size = media.TotalBytes, expires_after_secs = 86_400, processing_info = new { state = "pending", check_after_secs = 1 } },
        });
    }

    /// <summary><c>GET /2/media/upload?command=STATUS&amp;media_id=...</c>: where processing is.</summary>
    public IResult MediaStatus(HttpContext context)
    {
        if (UserOf(context) is not { } user)
        {
            return Unauthorized();
        }

        var id = context.Request.Query["media_id"].ToString();
        if (context.Request.Query["command"] != "STATUS" || Owned(id, user) is not { State: not "uploading" } media)
        {
            return Problem(400, "Invalid Request", "command=STATUS with the media_id of a finalized upload is required.");
        }

        StatusChecks.Enqueue(id);
        lock (media)
        {
            media.StatusChecks++;
            media.State = media.State switch
            {
                "pending" => "in_progress",
                "in_progress" => GifProcessingFails.ContainsKey(media.XUserId) ? "failed" : "succeeded",
                var done => done,
            };
        }

        object info = media.State switch
        {
            "failed" => new { state = "failed", error = new { code = 1, name = "InvalidMedia", message = "Unsupported animated GIF (the stand-in was told to fail it)." } },
            "succeeded" => new { state = "succeeded", progress_percent = 100 },
            _ => new { state = media.State, check_after_secs = 1, progress_percent = 50 },
        };
        return Results.Json(new { data = new { id = media.Id, media_key = "16_" + media.Id, processing_info = info } });
    }

    /// <summary><c>POST /2/media/metadata</c>: the alt text.</summary>
    public async Task<IResult> MediaMetadataAsync(HttpContext context)
    {
        if (MediaCaller(context, out var user) is { } refused)
        {
            return refused;
        }

        if (await ReadJsonAsync(context) is not { } body)
        {
            return Problem(400, "Invalid Request", "The request body must be a JSON object.");
        }

        using (body)
        {
            var root = body.RootElement;
            var id = root.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString()! : "";
            var text = root.TryGetProperty("metadata", out var m) && m.ValueKind == JsonValueKind.Object
                && m.TryGetProperty("alt_text", out var a) && a.ValueKind == JsonValueKind.Object
                && a.TryGetProperty("text", out var x) && x.ValueKind == JsonValueKind.String ? x.GetString() : null;
            if (Owned(id, user!) is not { } media || text is null)
            {
                return Problem(400, "Invalid Request", "id (an uploaded media id) and metadata.alt_text.text are required.");
            }

            if (text.Length > 1000)
            {
                return Problem(400, "Invalid Request", "Alt text is at most 1000 characters.");
            }

            media.AltText = text;
            return Results.Json(new { data = new { associated_metadata = true, id } });
        }
    }

    /// <summary>Why X would refuse this post's <c>media.media_ids</c>, or null; <paramref name="ids"/> is set when there are some.</summary>
    private string? CheckPostMedia(JsonElement root, string xUserId, out List<string> ids)
    {
        ids = [];
        if (!root.TryGetProperty("media", out var media))
        {
            return null;
        }

        if (media.ValueKind != JsonValueKind.Object || !media.TryGetProperty("media_ids", out var list) || list.ValueKind != JsonValueKind.Array
            || list.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String) || list.GetArrayLength() is < 1 or > 4)
        {
            return "media.media_ids must be 1 to 4 media ids (strings).";
        }

        ids = [.. list.EnumerateArray().Select(e => e.GetString()!)];
        var items = ids.Select(id => _media.GetValueOrDefault(id)).ToList();
        if (items.Any(item => item is null || item.XUserId != xUserId))
        {
            return "Your media IDs are invalid.";
        }

        if (items.Any(item => item!.State != "succeeded"))
        {
            return "A media id is not ready: its upload is not finalized or X is still processing it.";
        }

        return items.Any(item => item!.IsGif) && items.Count > 1 ? "A post can have one GIF, or up to 4 images, not both." : null;
    }

    /// <summary>Who calls, when they may upload media; otherwise X's answer (401, 403 without <c>media.write</c>, or a failure asked for).</summary>
    private IResult? MediaCaller(HttpContext context, out Grant? user)
    {
        user = UserOf(context);
        if (user is null)
        {
            return Unauthorized();
        }

        if (!user.Scope.Split(' ').Contains("media.write"))
        {
            return Problem(403, "Forbidden", "You are not permitted to perform this action (the token lacks media.write).");
        }

        if (MediaUploadFailures.TryGetValue(user.XUserId, out var failures) && failures.TryDequeue(out var status))
        {
            if (status == 429)
            {
                context.Response.Headers["x-rate-limit-limit"] = "500";
                context.Response.Headers["x-rate-limit-remaining"] = "0";
                context.Response.Headers["x-rate-limit-reset"] = DateTimeOffset.UtcNow.AddSeconds(2).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            }

            return status switch
            {
                400 => Problem(400, "Invalid Request", "media type unrecognized."),
                403 => Problem(403, "Forbidden", "You are not permitted to perform this action."),
                429 => Problem(429, "Too Many Requests", "Too Many Requests"),
                _ => Problem(status, "Internal Server Error", "Something went wrong. Try again later."),
            };
        }

        return null;
    }

    private XMedia? Owned(string id, Grant user) => _media.TryGetValue(id, out var media) && media.XUserId == user.XUserId ? media : null;

    private void Keep(XMedia media)
    {
        _media[media.Id] = media;
        if (_media.Count > MaxKeptMedia)
        {
            // A developer's machine, not an archive: the oldest ids (smallest) go.
            foreach (var old in _media.Keys.OrderBy(k => k.Length).ThenBy(k => k, StringComparer.Ordinal).Take(_media.Count - MaxKeptMedia))
            {
                _media.TryRemove(old, out _);
            }
        }
    }

    private static async Task<JsonDocument?> ReadJsonAsync(HttpContext context)
    {
        try
        {
            var document = await JsonDocument.ParseAsync(context.Request.Body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
