using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using XGrowth.Data;

namespace XGrowth.Api.Posts;

/// <summary>A part as the API accepted it: its normalized text (empty only with media) and its media ids, in order.</summary>
public sealed record PartInput(string Text, IReadOnlyList<Guid> MediaIds);

/// <summary>
/// What media a post's part may hold, as X allows: up to 4 images, or 1 GIF, not both; each the user's own, at most once
/// in a part, with its contents still stored.
/// </summary>
public static class PartMediaRules
{
    public const int MaxImagesPerPart = 4;

    /// <summary>The checks that need no database: how many ids, none twice. Null (with the reason) when refused.</summary>
    public static IReadOnlyList<Guid>? Validate(IReadOnlyList<Guid>? mediaIds, string key, Dictionary<string, string[]> errors)
    {
        if (mediaIds is null)
        {
            return [];
        }

        if (mediaIds.Count > MaxImagesPerPart)
        {
            errors[key] = [$"A part holds up to {MaxImagesPerPart} images or 1 GIF; this one has {mediaIds.Count} media."];
            return null;
        }

        if (mediaIds.Distinct().Count() != mediaIds.Count)
        {
            errors[key] = ["A part holds each media once."];
            return null;
        }

        return mediaIds;
    }

    /// <summary>
    /// The 400 to answer when a part's media cannot be used, else null. Locks, and marks as just used, every media item
    /// the post gets or loses (<paramref name="detached"/>): a deletion of one of them at this moment (the API's, or
    /// housekeeping's of unused media) waits for this transaction and then sees it in use, and media taken out of a post
    /// is kept a full day from now before it counts as unused. Call with the user's row locked (one change at a time).
    /// </summary>
    public static async Task<ValidationProblem?> RefusedAsync(
        XGrowthDbContext db, string userId, IReadOnlyList<PartInput> parts, IReadOnlyList<Guid> detached, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var wanted = parts.SelectMany(part => part.MediaIds).ToList();
        var touched = wanted.Concat(detached).Distinct().Order().ToList();
        if (touched.Count == 0)
        {
            return null;
        }

        await db.Media.Where(m => m.UserId == userId && touched.Contains(m.Id))
            .ExecuteUpdateAsync(set => set.SetProperty(m => m.UpdatedAt, now), cancellationToken);
        var found = await db.Media.AsNoTracking().Where(m => m.UserId == userId && wanted.Contains(m.Id))
            .Select(m => new { m.Id, m.Type, m.ContentRemovedAt }).ToDictionaryAsync(m => m.Id, cancellationToken);

        var errors = new Dictionary<string, string[]>();
        var unknown = false;
        for (var i = 0; i < parts.Count; i++)
        {
            var ids = parts[i].MediaIds;
            for (var j = 0; j < ids.Count; j++)
            {
                if (!found.TryGetValue(ids[j], out var media))
                {
                    // Another user's media is as unknown as media that never existed.
                    errors[$"parts[{i}].mediaIds[{j}]"] = [$"Media {ids[j]} not found: upload it with POST /api/media."];
                    unknown = true;
                }
                else if (media.ContentRemovedAt is not null)
                {
                    errors[$"parts[{i}].mediaIds[{j}]"] = [$"Media {ids[j]} can no longer be used: its contents were removed. Upload it again."];
                    unknown = true;
                }
            }

            var gifs = ids.Count(id => found.TryGetValue(id, out var media) && media.Type == MediaType.Gif);
            if (gifs > 0 && ids.Count > 1)
            {
                errors[$"parts[{i}].mediaIds"] = [$"A part holds up to {MaxImagesPerPart} images or 1 GIF, not both, and never two GIFs."];
            }
        }

        return errors.Count == 0
            ? null
            : TypedResults.ValidationProblem(errors, title: unknown ? "Unknown media" : null,
                extensions: unknown ? new Dictionary<string, object?> { ["code"] = "unknown_media" } : null);
    }

    /// <summary>The part's links to its media, in order.</summary>
    public static List<PostPartMedia> Links(PartInput part) =>
        [.. part.MediaIds.Select((id, position) => new PostPartMedia { Position = position, MediaId = id })];
}
