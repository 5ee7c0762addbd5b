using Npgsql;
using XGrowth.Data;

namespace XGrowth.Api.Posts;

/// <summary>
/// Posts read as <see cref="PostRow"/>s with hand-written SQL, for the answers that list many of them (the calendar, the
/// queue): each post's parts and its parts' media (metadata, never contents) come as arrays from subqueries on the post's
/// own keys.
/// </summary>
/// <remarks>
/// Rather than EF Core's joins: those let the planner choose to hash every part in the table (a seq scan of all of
/// post_parts) when its row estimate for the range is off, as it is after a schedule change re-placed an account's queue;
/// GET /queue then took 60–90 ms instead of under 1 ms (bench/QueueBench, auto_explain). Subqueries on the post's id are
/// always index lookups. EF Core's materialization of hundreds of posts also cost more than the query (bench/CalendarBench).
/// </remarks>
public static class PostRowSql
{
    /// <summary>The select list for <c>scheduled_posts AS p</c>, in the order <see cref="Read"/> reads it.</summary>
    public const string Columns = """
        p.id, p.x_account_id, p.scheduled_at, p.status, p.published_at, p.error, p.queued,
        ARRAY(SELECT pp.text FROM post_parts AS pp WHERE pp.post_id = p.id ORDER BY pp.position),
        ARRAY(SELECT pp.x_post_id FROM post_parts AS pp WHERE pp.post_id = p.id ORDER BY pp.position),
        ARRAY(SELECT l.part_position FROM post_part_media AS l WHERE l.post_id = p.id ORDER BY l.part_position, l.position),
        ARRAY(SELECT l.media_id FROM post_part_media AS l WHERE l.post_id = p.id ORDER BY l.part_position, l.position),
        ARRAY(SELECT m.type FROM post_part_media AS l JOIN media AS m ON m.id = l.media_id WHERE l.post_id = p.id ORDER BY l.part_position, l.position),
        ARRAY(SELECT m.alt_text FROM post_part_media AS l JOIN media AS m ON m.id = l.media_id WHERE l.post_id = p.id ORDER BY l.part_position, l.position),
        p.slot_at
        """;

    /// <summary>The post in the reader's current row of <see cref="Columns"/>.</summary>
    public static PostRow Read(NpgsqlDataReader row)
    {
        SnakeCaseEnumConverter<ScheduledPostStatus>.TryParse(row.GetString(3), out var status);
        var texts = row.GetFieldValue<string[]>(7);
        var xPostIds = row.GetFieldValue<string?[]>(8);
        var parts = new List<PartRow>(texts.Length);
        for (var i = 0; i < texts.Length; i++)
        {
            parts.Add(new PartRow(texts[i], xPostIds[i], []));
        }

        var mediaParts = row.GetFieldValue<int[]>(9);
        if (mediaParts.Length > 0)
        {
            var mediaIds = row.GetFieldValue<Guid[]>(10);
            var types = row.GetFieldValue<string[]>(11);
            var altTexts = row.GetFieldValue<string?[]>(12);
            for (var i = 0; i < mediaParts.Length; i++)
            {
                SnakeCaseEnumConverter<MediaType>.TryParse(types[i], out var type);
                parts[mediaParts[i]].Media.Add(new PostMediaResponse(mediaIds[i], type, altTexts[i]));
            }
        }

        return new PostRow(row.GetGuid(0), row.GetGuid(1), NullableTime(row, 2), status, NullableTime(row, 4),
            row.IsDBNull(5) ? null : row.GetString(5), row.GetBoolean(6), NullableTime(row, 13), parts);
    }

    private static DateTimeOffset? NullableTime(NpgsqlDataReader row, int ordinal) =>
        row.IsDBNull(ordinal) ? null : row.GetFieldValue<DateTimeOffset>(ordinal);
}
