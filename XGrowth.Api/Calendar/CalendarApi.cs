using System.Buffers;
using System.Globalization;
using System.Reflection;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Api.Auth;
using XGrowth.Api.Http;
using XGrowth.Api.Posts;
using XGrowth.Data;
using XGrowth.X;
using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Mvc;
using XGrowth.Api.OpenApi;

namespace XGrowth.Api.Calendar;

/// <summary><c>GET /api/calendar</c>: the user's posts grouped by day in a time zone of the user's choosing.</summary>
public static class CalendarApi
{
    public const int MaxDays = 93;

    public sealed record CalendarDay([property: DataType(DataType.Date)] string Date, IReadOnlyList<PostResponse> Posts);

    /// <summary>The calendar; <c>drafts</c> (the user's drafts, which have no day) only with <c>includeDrafts=true</c>.</summary>
    public sealed record CalendarResponse(
        string TimeZone,
        IReadOnlyList<CalendarDay> Days,
        [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
        IReadOnlyList<PostResponse>? Drafts = null);

    public sealed record CalendarQuery(
        [FromQuery(Name = "from")] DateOnly? From,
        [FromQuery(Name = "to")] DateOnly? To,
        [FromQuery(Name = "tz")] string? Tz,
        [FromQuery(Name = "includeDrafts")] bool? IncludeDrafts);

    public static RouteGroupBuilder MapCalendarApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/calendar").WithTags("Calendar").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        group.MapGet("/", Get).WithName("getCalendar").WithSummary("Get the calendar")
            .WithDescription("Every day from `from` to `to` (inclusive, at most 93 days) in the IANA time zone `tz` (default UTC), " +
                "each with the user's posts scheduled that local day, in time order. Cancelled posts are left out; drafts have no day " +
                "and come in `drafts` with `includeDrafts=true`.")
            .WithRequiredQuery("from", "to");
        return group;
    }

    internal static Results<CalendarJson, ValidationProblem> Get(
        [AsParameters] CalendarQuery query, ClaimsPrincipal principal, NpgsqlDataSource dataSource, XPostLinks links)
    {
        var errors = new Dictionary<string, string[]>();
        if (query.From is null)
        {
            errors["from"] = ["from is required (yyyy-MM-dd)."];
        }

        if (query.To is null)
        {
            errors["to"] = ["to is required (yyyy-MM-dd)."];
        }

        if (!LocalDays.TryFindZone(query.Tz, out var zone))
        {
            errors["tz"] = [$"'{query.Tz}' is not an IANA time zone such as Europe/Berlin."];
        }

        foreach (var (name, value) in new[] { ("from", query.From), ("to", query.To) })
        {
            // Posts live at most a year ahead; far dates would only overflow the time zone arithmetic.
            if (value is { Year: < 2000 or > 2999 })
            {
                errors[name] = [$"{name} must be a date between 2000-01-01 and 2999-12-31."];
            }
        }

        if (errors.Count == 0 && query is { From: { } f, To: { } t })
        {
            var days = t.DayNumber - f.DayNumber + 1;
            if (days < 1)
            {
                errors["to"] = ["to must not be before from."];
            }
            else if (days > MaxDays)
            {
                errors["to"] = [$"The range is {days} days; at most {MaxDays} are allowed."];
            }
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var from = query.From!.Value;
        var to = query.To!.Value;
        var start = LocalDays.StartOfDay(from, zone);
        var end = LocalDays.StartOfDay(to.AddDays(1), zone);
        // The query runs as the answer is written: see CalendarJson.
        return new CalendarJson(zone, from, to, new PostsInRange(dataSource, links, principal.ClerkUserId(), start, end, query.IncludeDrafts == true));
    }

    // Hand-written rather than EF Core: a month can hold hundreds of posts, and EF Core's materialization of them
    // costs more than the query itself (measured with bench/CalendarBench).
    private const string PostsInRangeSql = $"""
        SELECT {PostRowSql.Columns}
        FROM scheduled_posts AS p
        JOIN x_accounts AS a ON a.id = p.x_account_id
        WHERE a.user_id = $1 AND p.scheduled_at >= $2 AND p.scheduled_at < $3 AND p.status <> 'cancelled'
        ORDER BY p.scheduled_at, p.id
        """;

    // A user's drafts are bounded (PostLimits), oldest first.
    private const string DraftsSql = $"""
        SELECT {PostRowSql.Columns}
        FROM scheduled_posts AS p
        JOIN x_accounts AS a ON a.id = p.x_account_id
        WHERE a.user_id = $1 AND p.status = 'draft'
        ORDER BY p.created_at, p.id
        """;

    /// <summary>The posts a calendar shows: read while the answer is written, never held all at once.</summary>
    public sealed record PostsInRange(NpgsqlDataSource DataSource, XPostLinks Links, string UserId, DateTimeOffset Start, DateTimeOffset End, bool IncludeDrafts);

    /// <summary>
    /// The calendar's 200 answer, written with a <see cref="Utf8JsonWriter"/> straight to the response: the same JSON
    /// as serializing <see cref="CalendarResponse"/> (a test compares them), without building the day list. Each post is
    /// the <see cref="PostResponse"/> every other endpoint answers, serialized as its row is read.
    /// </summary>
    /// <remarks>
    /// The rows are written as they are read, so an answer costs the same little memory whether it holds ten posts or
    /// the largest a user can have in range (README, "Limits"): parallel calendars cannot grow the process.
    /// </remarks>
    public sealed class CalendarJson(TimeZoneInfo zone, DateOnly from, DateOnly to, PostsInRange posts) : IResult, IEndpointMetadataProvider
    {
        private static readonly JsonEncodedText TimeZoneName = JsonEncodedText.Encode("timeZone");
        private static readonly JsonEncodedText DaysName = JsonEncodedText.Encode("days");
        private static readonly JsonEncodedText DateName = JsonEncodedText.Encode("date");
        private static readonly JsonEncodedText PostsName = JsonEncodedText.Encode("posts");
        private static readonly JsonEncodedText DraftsName = JsonEncodedText.Encode("drafts");

        private const int FlushEvery = 32 * 1024;

        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var cancellationToken = httpContext.RequestAborted;
            await using var command = posts.DataSource.CreateCommand(PostsInRangeSql);
            command.Parameters.Add(new NpgsqlParameter { Value = posts.UserId });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = posts.Start });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = posts.End });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var hasRow = await reader.ReadAsync(cancellationToken);

            var response = httpContext.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json; charset=utf-8";
            // Over the body stream, not the PipeWriter: the writer then keeps its own small buffer, while asking the
            // PipeWriter for room for a long text made Kestrel set aside that much for every post (bench/CalendarMemoryBench).
            await using var writer = new Utf8JsonWriter(response.Body);
            var postWriter = new PostWriter(httpContext, posts.Links);
            writer.WriteStartObject();
            writer.WriteString(TimeZoneName, zone.Id);
            writer.WriteStartArray(DaysName);
            for (var day = from; day <= to; day = day.AddDays(1))
            {
                writer.WriteStartObject();
                WriteDate(writer, day);
                writer.WriteStartArray(PostsName);
                // Posts come in time order: this day's are those before the next local midnight (the same boundaries
                // as the query's range), with no time zone conversion per post.
                var endOfDay = LocalDays.StartOfDay(day.AddDays(1), zone);
                while (hasRow && reader.GetFieldValue<DateTimeOffset>(2) < endOfDay)
                {
                    postWriter.Write(writer, reader);
                    hasRow = await reader.ReadAsync(cancellationToken);
                    await FlushWhenFullAsync(writer, cancellationToken);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
                await FlushWhenFullAsync(writer, cancellationToken);
            }

            writer.WriteEndArray();
            // The day rows are all read: their connection goes back to the pool before the drafts are read.
            await reader.DisposeAsync();
            if (posts.IncludeDrafts)
            {
                await using var drafts = posts.DataSource.CreateCommand(DraftsSql);
                drafts.Parameters.Add(new NpgsqlParameter { Value = posts.UserId });
                await using var draftRows = await drafts.ExecuteReaderAsync(cancellationToken);
                writer.WriteStartArray(DraftsName);
                while (await draftRows.ReadAsync(cancellationToken))
                {
                    postWriter.Write(writer, draftRows);
                    await FlushWhenFullAsync(writer, cancellationToken);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
            await writer.FlushAsync(cancellationToken);
        }

        private static void WriteDate(Utf8JsonWriter writer, DateOnly day)
        {
            Span<char> date = stackalloc char[10];
            day.TryFormat(date, out _, "yyyy-MM-dd", CultureInfo.InvariantCulture);
            writer.WriteString(DateName, date);
        }

        private static async ValueTask FlushWhenFullAsync(Utf8JsonWriter writer, CancellationToken cancellationToken)
        {
            if (writer.BytesPending > FlushEvery)
            {
                await writer.FlushAsync(cancellationToken);
            }
        }

        /// <summary>
        /// Writes a row of <see cref="PostRowSql.Columns"/> as the <see cref="PostResponse"/> every other endpoint answers, with
        /// the same serializer. It is serialized to a buffer and copied in: the serializer flushes the writer it is given,
        /// synchronously, which the response body refuses.
        /// </summary>
        private sealed class PostWriter(HttpContext httpContext, XPostLinks links)
        {
            private readonly JsonTypeInfo<PostResponse> _json = (JsonTypeInfo<PostResponse>)httpContext.RequestServices
                .GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions.GetTypeInfo(typeof(PostResponse));

            private readonly ArrayBufferWriter<byte> _buffer = new();
            private Utf8JsonWriter? _post;

            public void Write(Utf8JsonWriter writer, NpgsqlDataReader row)
            {
                _post ??= new Utf8JsonWriter(_buffer);
                JsonSerializer.Serialize(_post, PostResponse.From(PostRowSql.Read(row), links), _json);
                writer.WriteRawValue(_buffer.WrittenSpan, skipInputValidation: true);
                _buffer.ResetWrittenCount();
                _post.Reset();
            }
        }

        /// <summary>Describes the answer in the OpenAPI document as the <see cref="CalendarResponse"/> it is.</summary>
        public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
            builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(CalendarResponse), ["application/json"]));
    }
}
