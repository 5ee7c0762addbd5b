using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Reflection;
using System.Security.Claims;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Api.Auth;
using XGrowth.Api.Http;
using XGrowth.Api.OpenApi;
using XGrowth.Data;

namespace XGrowth.Api.Media;

/// <summary>The signed-in user's images and GIFs: upload, read, show, describe (alt text) and delete.</summary>
public static class MediaApi
{
    public const int MaxAltTextChars = 1_000;
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;

    /// <summary>
    /// The most an upload request may carry: a GIF at its limit, plus the form's boundaries, headers and alt text.
    /// Anything longer is cut off as it arrives (413), never read whole.
    /// </summary>
    public const long MaxRequestBytes = MediaInspector.MaxGifBytes + 64 * 1024;

    /// <summary>The most a text field of the upload form may carry.</summary>
    private const int MaxFormValueBytes = 64 * 1024;

    public static RouteGroupBuilder MapMediaApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/media").WithTags("Media").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        group.MapPost("/", UploadAsync).WithName("uploadMedia").WithWriteRateLimit()
            .WithMetadata(new UploadSizeLimit())
            .WithUploadForm()
            .WithSummary("Upload an image or GIF")
            .WithDescription("`multipart/form-data` with `file` (JPEG, PNG or WebP up to 5 MB, GIF up to 15 MB, 4 to 8,192 px a side) " +
                "and optionally `altText` (up to 1,000 characters). The type is read from the file's contents, never from its name " +
                "or declared type, and the file is decoded to be sure it is whole. Attach it to a post's parts with `mediaIds`; " +
                "media attached to no post is deleted after 24 hours.")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        group.MapGet("/", ListAsync).WithName("listMedia").WithSummary("List media")
            .WithDescription("The user's media, newest first, paged with `cursor` (the previous page's `nextCursor`).");
        group.MapGet("/{id:guid}", GetAsync).WithName("getMedia").WithSummary("Get media")
            .WithDescription("An image's or GIF's metadata.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/{id:guid}/content", GetContentAsync).WithName("getMediaContent").WithSummary("Get media contents")
            .WithDescription("The file's bytes as uploaded, for previews. `410` once the contents were removed (30 days after every post using them was published or cancelled).")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status410Gone);
        group.MapPatch("/{id:guid}", UpdateAsync).WithName("updateMedia").WithWriteRateLimit().WithJsonBodyLimit()
            .WithSummary("Change alt text")
            .WithDescription("Sets the alt text X shows for the image (up to 1,000 characters); null or empty clears it. " +
                "Posts already on X keep the text they were published with.")
            .WithRequestExample(new JsonObject { ["altText"] = "A bar chart: followers doubled from March to June." })
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{id:guid}", DeleteAsync).WithName("deleteMedia").WithWriteRateLimit()
            .WithSummary("Delete media")
            .WithDescription("Deletes the media and its contents. `409` while a post that is not published or cancelled uses it: " +
                "take it out of the post first. Published and cancelled posts that used it lose it from their parts.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        return group;
    }

    /// <summary>An uploaded image or GIF. <c>type</c> is <c>image</c> (JPEG, PNG, WebP) or <c>gif</c>.</summary>
    public sealed record MediaResponse(
        Guid Id, MediaType Type, string ContentType, long Bytes, int Width, int Height, string? AltText, DateTimeOffset CreatedAt)
    {
        public static readonly System.Linq.Expressions.Expression<Func<Data.Media, MediaResponse>> FromEntity =
            m => new MediaResponse(m.Id, m.Type, m.ContentType, m.Bytes, m.Width, m.Height, m.AltText, m.CreatedAt);

        private static readonly Func<Data.Media, MediaResponse> Of = FromEntity.Compile();

        public static MediaResponse From(Data.Media media) => Of(media);
    }

    /// <summary>
    /// The upload form in the OpenAPI document. Described here rather than bound to a parameter: the handler reads the
    /// form itself, to bound it and to answer a body that is not a form with its own 400.
    /// </summary>
    private static RouteHandlerBuilder WithUploadForm(this RouteHandlerBuilder builder) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["multipart/form-data"] = new()
                    {
                        Schema = new OpenApiSchema
                        {
                            Type = JsonSchemaType.Object,
                            Required = new HashSet<string> { "file" },
                            Properties = new Dictionary<string, IOpenApiSchema>
                            {
                                ["file"] = new OpenApiSchema
                                {
                                    Type = JsonSchemaType.String, Format = "binary",
                                    Description = "The image (JPEG, PNG, WebP: up to 5 MB) or GIF (up to 15 MB), 4 to 8,192 px a side.",
                                },
                                ["altText"] = new OpenApiSchema
                                {
                                    Type = JsonSchemaType.String, MaxLength = MaxAltTextChars,
                                    Description = "What the image shows, for people who cannot see it; X shows it as the image's description.",
                                },
                            },
                        },
                    },
                },
            };
            return Task.CompletedTask;
        });

    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record UpdateMediaRequest([property: JsonRequired, NullClears] string? AltText);

    public sealed record ListQuery([FromQuery(Name = "limit")] int? Limit, [FromQuery(Name = "cursor")] string? Cursor);

    public sealed record MediaServices(XGrowthDbContext Db, TimeProvider Time, MediaDecodeGate Gate, IOptions<MediaOptions> Options);

    internal static async Task<Results<Created<MediaResponse>, ValidationProblem, ProblemHttpResult>> UploadAsync(
        HttpRequest request, ClaimsPrincipal user, [AsParameters] MediaServices services, CancellationToken cancellationToken)
    {
        if (!request.HasFormContentType || request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) != true)
        {
            return Problem(StatusCodes.Status400BadRequest, "not_multipart",
                "Send the file as multipart/form-data, in a field named file (and the alt text in altText).");
        }

        // The test host does not enforce the request size limit (Kestrel does): a declared length over it is refused
        // here before anything is read, and a chunked body by the form reader's own limit below.
        if (request.ContentLength > MaxRequestBytes)
        {
            return TooLarge();
        }

        IFormCollection form;
        try
        {
            // Files over 64 KiB are buffered to a temporary file, not memory; the limits stop a body at MaxRequestBytes.
            request.HttpContext.Features.Set<IFormFeature>(new FormFeature(request, new FormOptions
            {
                MultipartBodyLengthLimit = MaxRequestBytes,
                BufferBodyLengthLimit = MaxRequestBytes,
                // A text field is alt text, at most 1,000 characters (a few KiB of UTF-8 before composing): a longer
                // one is refused as it arrives instead of being held in memory whole.
                ValueLengthLimit = MaxFormValueBytes,
                ValueCountLimit = 16,
            }));
            form = await request.ReadFormAsync(cancellationToken);
        }
        catch (InvalidDataException e) when (e.Message.Contains("body length limit", StringComparison.OrdinalIgnoreCase))
        {
            return TooLarge();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's own cut-off (UploadSizeLimit) of a body that did not declare its length.
            return TooLarge();
        }
        catch (InvalidDataException e)
        {
            return Problem(StatusCodes.Status400BadRequest, "not_multipart", $"The form cannot be read: {e.Message}");
        }
        catch (IOException) when (!request.HttpContext.RequestAborted.IsCancellationRequested)
        {
            // The body ended before the form's closing boundary (or never had the boundary it declared).
            return Problem(StatusCodes.Status400BadRequest, "not_multipart",
                "The form cannot be read: it ends before its closing boundary.");
        }

        var errors = new Dictionary<string, string[]>();
        if (form.Keys.Concat(form.Files.Select(f => f.Name)).FirstOrDefault(name => name is not ("file" or "altText")) is { } unknown)
        {
            errors[unknown] = ["Unknown field: the form has file and altText only."];
        }

        if (form.Files.Any(f => f.Name == "altText"))
        {
            errors["altText"] = ["altText is text, not a file."];
        }

        var files = form.Files.GetFiles("file");
        if (files.Count != 1)
        {
            errors["file"] = [files.Count == 0 ? "file is required: the image or GIF, as a file field." : "Send one file per upload."];
        }

        var altText = form.TryGetValue("altText", out var altTexts) ? ValidateAltText(altTexts.Count == 1 ? altTexts[0] : null, altTexts.Count > 1, errors) : null;
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var file = files[0];
        var inspected = await services.Gate.RunAsync(() =>
        {
            // The codec closes the stream it reads; storing opens the file again.
            using var content = file.OpenReadStream();
            return MediaInspector.Inspect(content);
        }, cancellationToken);
        if (inspected.Refusal is { } refusal)
        {
            return Problem(refusal.Status, refusal.Code, refusal.Detail);
        }

        var userId = user.ClerkUserId();
        var db = services.Db;
        var limits = services.Options.Value;
        var (stored, problem) = await db.InTransactionAsync(async ct =>
        {
            // The user's row, held for the transaction: their uploads are counted against the limits one at a time, and
            // a deletion of the user (which holds it too) either comes after, and removes this, or before, and stops it.
            var present = await db.Database.SqlQuery<int>($"SELECT 1 AS \"Value\" FROM users WHERE id = {userId} AND deleted_at IS NULL FOR UPDATE")
                .ToListAsync(ct);
            if (present.Count == 0)
            {
                return (null, ApiProblems.NotFound("User not found."));
            }

            if (await LimitExceededAsync(db, userId, file.Length, limits, ct) is { } exceeded)
            {
                return (null, exceeded);
            }

            // PostgreSQL keeps microseconds: the answer says what a later read will.
            var now = services.Time.GetUtcNow();
            now = now.AddTicks(-(now.Ticks % 10));
            var media = new Data.Media
            {
                Id = Guid.CreateVersion7(now),
                UserId = userId,
                Type = inspected.Media!.Type,
                ContentType = inspected.Media.ContentType,
                Bytes = file.Length,
                Width = inspected.Media.Width,
                Height = inspected.Media.Height,
                AltText = altText,
                CreatedAt = now,
                UpdatedAt = now,
            };
            db.Media.Add(media);
            await db.SaveChangesAsync(ct);
            await using var content = file.OpenReadStream();
            await StorePiecesAsync(db, media.Id, content, ct);
            return (media, (ProblemHttpResult?)null);
        }, cancellationToken);

        return stored is null ? problem! : TypedResults.Created($"/api/media/{stored.Id}", MediaResponse.From(stored));
    }

    /// <summary>
    /// Writes the contents as <see cref="MediaChunk.Size"/> pieces, in order, in the caller's transaction: one piece is in
    /// memory at a time, and the worker streams them to X the same way.
    /// </summary>
    private static async Task StorePiecesAsync(XGrowthDbContext db, Guid mediaId, Stream content, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var transaction = (NpgsqlTransaction)db.Database.CurrentTransaction!.GetDbTransaction();
        var buffer = ArrayPool<byte>.Shared.Rent(MediaChunk.Size);
        try
        {
            for (var index = 0; ; index++)
            {
                var read = await content.ReadAtLeastAsync(buffer.AsMemory(0, MediaChunk.Size), MediaChunk.Size, throwOnEndOfStream: false, cancellationToken);
                if (read == 0)
                {
                    return;
                }

                await using var insert = new NpgsqlCommand("INSERT INTO media_contents (media_id, index, data) VALUES ($1, $2, $3)", connection, transaction);
                insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = mediaId });
                insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = index });
                insert.Parameters.Add(new NpgsqlParameter<ReadOnlyMemory<byte>> { NpgsqlDbType = NpgsqlDbType.Bytea, TypedValue = buffer.AsMemory(0, read) });
                await insert.ExecuteNonQueryAsync(cancellationToken);
                if (read < MediaChunk.Size)
                {
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The 400 to answer when one more upload would pass the user's limits (README, "Limits"): media attached to no post
    /// (uploaded and not used yet), and the contents the user has stored in all.
    /// </summary>
    private static async Task<ProblemHttpResult?> LimitExceededAsync(XGrowthDbContext db, string userId, long bytes, MediaOptions limits, CancellationToken cancellationToken)
    {
        var usage = await db.Media.Where(m => m.UserId == userId)
            .GroupBy(m => 1)
            .Select(g => new
            {
                Unattached = g.Count(m => !db.PostPartMedia.Any(l => l.MediaId == m.Id)),
                Stored = g.Where(m => m.ContentRemovedAt == null).Sum(m => m.Bytes),
            })
            .SingleOrDefaultAsync(cancellationToken);
        if (usage is null)
        {
            return null;
        }

        if (usage.Unattached >= limits.MaxUnattachedPerUser)
        {
            return Problem(StatusCodes.Status400BadRequest, "limit_reached",
                $"You already have {limits.MaxUnattachedPerUser} uploads that no post uses, the most a user may have. Use or delete some (unused uploads go after 24 hours).");
        }

        return usage.Stored + bytes > limits.MaxStoredBytesPerUser
            ? Problem(StatusCodes.Status400BadRequest, "limit_reached",
                $"Your media would take more than {limits.MaxStoredBytesPerUser / (1024 * 1024):N0} MB, the most a user may store. Delete some.")
            : null;
    }

    internal static async Task<Results<Ok<MediaPage>, ValidationProblem>> ListAsync(
        [AsParameters] ListQuery query, ClaimsPrincipal user, XGrowthDbContext db, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var limit = query.Limit ?? DefaultPageSize;
        if (limit is < 1 or > MaxPageSize)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxPageSize}."];
        }

        (DateTimeOffset At, Guid Id)? after = null;
        if (query.Cursor is not null && (after = DecodeCursor(query.Cursor)) is null)
        {
            errors["cursor"] = ["cursor is not one this API returned."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var userId = user.ClerkUserId();
        var media = db.Media.AsNoTracking().Where(m => m.UserId == userId);
        if (after is { } cursor)
        {
            media = media.Where(m => m.CreatedAt < cursor.At || (m.CreatedAt == cursor.At && m.Id.CompareTo(cursor.Id) < 0));
        }

        var items = await media.OrderByDescending(m => m.CreatedAt).ThenByDescending(m => m.Id).Take(limit + 1)
            .Select(MediaResponse.FromEntity).ToListAsync(cancellationToken);
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(limit);
            next = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
                $"{items[^1].CreatedAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}:{items[^1].Id:N}"));
        }

        return TypedResults.Ok(new MediaPage(items, next));
    }

    /// <summary>A page of <see cref="MediaResponse"/>; <c>nextCursor</c> is null on the last page.</summary>
    public sealed record MediaPage(IReadOnlyList<MediaResponse> Items, string? NextCursor);

    private static (DateTimeOffset, Guid)? DecodeCursor(string cursor)
    {
        try
        {
            var parts = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor)).Split(':');
            return parts.Length == 2 && Guid.TryParseExact(parts[1], "N", out var id)
                && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) && ticks <= DateTimeOffset.MaxValue.UtcTicks
                ? (new DateTimeOffset(ticks, TimeSpan.Zero), id)
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    internal static async Task<Results<Ok<MediaResponse>, ProblemHttpResult>> GetAsync(
        Guid id, ClaimsPrincipal user, XGrowthDbContext db, CancellationToken cancellationToken)
    {
        var userId = user.ClerkUserId();
        var media = await db.Media.AsNoTracking().Where(m => m.Id == id && m.UserId == userId)
            .Select(MediaResponse.FromEntity).SingleOrDefaultAsync(cancellationToken);
        return media is null ? NotFound() : TypedResults.Ok(media);
    }

    internal static async Task<Results<MediaContent, ProblemHttpResult>> GetContentAsync(
        Guid id, ClaimsPrincipal user, XGrowthDbContext db, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var userId = user.ClerkUserId();
        var media = await db.Media.AsNoTracking().Where(m => m.Id == id && m.UserId == userId)
            .Select(m => new { m.ContentType, m.Bytes, m.ContentRemovedAt }).SingleOrDefaultAsync(cancellationToken);
        if (media is null)
        {
            return NotFound();
        }

        return media.ContentRemovedAt is not null
            ? Problem(StatusCodes.Status410Gone, "media_content_removed",
                "The contents were removed: every post that used them was published or cancelled more than 30 days ago.")
            : new MediaContent(dataSource, id, media.ContentType, media.Bytes);
    }

    /// <summary>
    /// The stored bytes, written piece by piece as each is read (one query per piece: the connection goes back to the
    /// pool between pieces, and a slow download holds neither a connection nor the whole file).
    /// </summary>
    public sealed class MediaContent(NpgsqlDataSource dataSource, Guid id, string contentType, long bytes) : IResult, IEndpointMetadataProvider
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            var etag = $"\"{id:N}\"";
            // The bytes of an id never change: a browser may keep them (privately: they are the user's).
            response.Headers.CacheControl = "private, max-age=31536000, immutable";
            response.Headers.ETag = etag;
            response.Headers.XContentTypeOptions = "nosniff";
            if (NoneMatches(httpContext.Request, etag))
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }

            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = contentType;
            response.ContentLength = bytes;
            var pieces = (int)((bytes + MediaChunk.Size - 1) / MediaChunk.Size);
            var cancellationToken = httpContext.RequestAborted;
            for (var index = 0; index < pieces; index++)
            {
                await using var command = dataSource.CreateCommand("SELECT data FROM media_contents WHERE media_id = $1 AND index = $2");
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = index });
                await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken);
                if (!await reader.ReadAsync(cancellationToken))
                {
                    // Removed while it was being sent: the client sees a body shorter than its length, i.e. a failed download.
                    httpContext.Abort();
                    return;
                }

                await using var piece = await reader.GetStreamAsync(0, cancellationToken);
                await piece.CopyToAsync(response.Body, cancellationToken);
            }
        }

        /// <summary>
        /// Whether <c>If-None-Match</c> names these bytes: <c>*</c>, or the tag in a list, weak or strong (a GET compares
        /// tags weakly).
        /// </summary>
        private static bool NoneMatches(HttpRequest request, string etag) =>
            Microsoft.Net.Http.Headers.EntityTagHeaderValue.TryParseList(request.Headers.IfNoneMatch, out var tags)
            && tags.Any(tag => tag.Equals(Microsoft.Net.Http.Headers.EntityTagHeaderValue.Any)
                || tag.Tag.Equals(etag, StringComparison.Ordinal));

        public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
            builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(Stream), ["image/jpeg", "image/png", "image/webp", "image/gif"]));
    }

    internal static async Task<Results<Ok<MediaResponse>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        Guid id, UpdateMediaRequest request, ClaimsPrincipal user, [AsParameters] MediaServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var altText = ValidateAltText(request.AltText, multiple: false, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var userId = user.ClerkUserId();
        var media = await services.Db.Media.SingleOrDefaultAsync(m => m.Id == id && m.UserId == userId, cancellationToken);
        if (media is null)
        {
            return NotFound();
        }

        media.AltText = altText;
        media.UpdatedAt = services.Time.GetUtcNow();
        await services.Db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(MediaResponse.From(media));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        Guid id, ClaimsPrincipal user, XGrowthDbContext db, CancellationToken cancellationToken)
    {
        var userId = user.ClerkUserId();
        var (deleted, problem) = await db.InTransactionAsync(async ct =>
        {
            // Locked first: a post being given this media at the same moment either finishes before (and the check
            // below sees it) or waits and then finds the media gone.
            var found = await db.Database.SqlQuery<Guid>($"SELECT id AS \"Value\" FROM media WHERE id = {id} AND user_id = {userId} FOR UPDATE")
                .ToListAsync(ct);
            if (found.Count == 0)
            {
                return (null, NotFound());
            }

            var live = await db.PostPartMedia.Where(l => l.MediaId == id && !PostStatuses.Final.Contains(l.Part!.Post!.Status))
                .Select(l => l.PostId).Distinct().Take(5).ToListAsync(ct);
            if (live.Count > 0)
            {
                return (null, Problem(StatusCodes.Status409Conflict, "media_in_use",
                    $"Posts that are not published or cancelled use this media ({string.Join(", ", live)}): take it out of them first."));
            }

            await db.Media.Where(m => m.Id == id).ExecuteDeleteAsync(ct);
            return ((object?)id, (ProblemHttpResult?)null);
        }, cancellationToken);
        return deleted is null ? problem! : TypedResults.NoContent();
    }

    private static string? ValidateAltText(string? value, bool multiple, Dictionary<string, string[]> errors)
    {
        if (multiple)
        {
            errors["altText"] = ["Send altText once."];
            return null;
        }

        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var text = value.Normalize(NormalizationForm.FormC);
        if (text.Length > MaxAltTextChars)
        {
            errors["altText"] = [$"altText is {text.Length} characters long; the most X takes is {MaxAltTextChars}."];
        }
        else if (text.Contains('\0', StringComparison.Ordinal))
        {
            errors["altText"] = ["altText must not contain NUL characters."];
        }

        return errors.ContainsKey("altText") ? null : text;
    }

    private static ProblemHttpResult NotFound() => ApiProblems.NotFound("Media not found.");

    private static ProblemHttpResult TooLarge() => Problem(StatusCodes.Status413PayloadTooLarge, "media_too_large",
        $"An upload may be at most {MediaInspector.MaxGifBytes / (1024 * 1024)} MB (a GIF; a JPEG, PNG or WebP image {MediaInspector.MaxImageBytes / (1024 * 1024)} MB).");

    private static ProblemHttpResult Problem(int status, string code, string detail) => TypedResults.Problem(
        title: status switch
        {
            StatusCodes.Status413PayloadTooLarge => "Payload too large",
            StatusCodes.Status415UnsupportedMediaType => "Unsupported media type",
            StatusCodes.Status409Conflict => "Media in use",
            StatusCodes.Status410Gone => "Contents removed",
            _ => code == "limit_reached" ? "Limit reached" : "Bad request",
        },
        detail: detail, statusCode: status, extensions: new Dictionary<string, object?> { ["code"] = code });

    /// <summary>Kestrel's request body limit for uploads (the JSON endpoints' is 64 KiB): a larger body is cut off at this size.</summary>
    private sealed class UploadSizeLimit : IRequestSizeLimitMetadata
    {
        public long? MaxRequestBodySize => MaxRequestBytes;
    }
}
