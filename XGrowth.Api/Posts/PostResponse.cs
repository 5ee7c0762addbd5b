using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Api.Posts;

/// <summary>
/// A post as the frontend sees it. <c>scheduledAt</c> is null only for a draft; <c>queued</c> says it holds a queue slot.
/// <c>text</c>, <c>xPostId</c> and <c>xPostUrl</c> are the first part's (the whole post, for a one-part post); <c>parts</c>
/// holds every part, in the order they are published.
/// </summary>
public sealed record PostResponse(
    Guid Id,
    Guid XAccountId,
    string Text,
    IReadOnlyList<PostPartResponse> Parts,
    DateTimeOffset? ScheduledAt,
    ScheduledPostStatus Status,
    string? XPostId,
    string? XPostUrl,
    DateTimeOffset? PublishedAt,
    string? Error,
    bool Queued)
{
    /// <summary>
    /// For EF Core projections: reads only the columns the response needs. Every post's JSON (a list, one post, the
    /// calendar's stream, the queue) is made by <see cref="From(PostRow, XPostLinks)"/> from one of these.
    /// </summary>
    public static readonly Expression<Func<ScheduledPost, PostRow>> Rows = post => new PostRow(
        post.Id, post.XAccountId, post.ScheduledAt, post.Status, post.PublishedAt, post.Error, post.Queued, post.SlotAt,
        post.Parts.OrderBy(part => part.Position).Select(part => new PartRow(part.Text, part.XPostId,
            part.Media.OrderBy(link => link.Position).Select(link => new PostMediaResponse(link.MediaId, link.Media!.Type, link.Media.AltText)).ToList())).ToList());

    private static readonly Func<ScheduledPost, PostRow> RowOf = Rows.Compile();

    /// <summary>The response for a post read with its parts.</summary>
    public static PostResponse From(ScheduledPost post, XPostLinks links) => From(RowOf(post), links);

    public static PostResponse From(PostRow row, XPostLinks links)
    {
        var parts = row.Parts.ConvertAll(part => new PostPartResponse(part.Text, part.Media, part.XPostId, links.UrlOf(part.XPostId)));
        var first = parts[0];
        return new PostResponse(row.Id, row.XAccountId, first.Text, parts, row.ScheduledAt, row.Status, first.XPostId, first.XPostUrl,
            row.PublishedAt, row.Error, row.Queued);
    }
}

/// <summary>One part of a post: its text, its media, and its id and address on X once published.</summary>
public sealed record PostPartResponse(string Text, IReadOnlyList<PostMediaResponse> Media, string? XPostId, string? XPostUrl);

/// <summary>An image or GIF attached to a part (details at <c>GET /api/media/{id}</c>).</summary>
public sealed record PostMediaResponse(Guid Id, MediaType Type, string? AltText);

/// <summary>
/// What a post's JSON is made of, as read from the database (parts in order); and the slot a queued post holds, which the
/// JSON does not show but the queue's page places the post by.
/// </summary>
public sealed record PostRow(
    Guid Id, Guid XAccountId, DateTimeOffset? ScheduledAt, ScheduledPostStatus Status, DateTimeOffset? PublishedAt, string? Error, bool Queued,
    DateTimeOffset? SlotAt, List<PartRow> Parts);

/// <summary>A part as read: its media in order (metadata only: a post's JSON never reads media contents).</summary>
public sealed record PartRow(string Text, string? XPostId, List<PostMediaResponse> Media);

/// <summary>Loading posts whole, for the answers made from entities.</summary>
public static class PostQueries
{
    /// <summary>The post's parts and each part's media with its metadata: what <see cref="PostResponse.From(ScheduledPost, XPostLinks)"/> reads.</summary>
    public static IQueryable<ScheduledPost> IncludeParts(this IQueryable<ScheduledPost> posts) =>
        posts.Include(p => p.Parts).ThenInclude(part => part.Media).ThenInclude(link => link.Media);
}

/// <summary>A page of a list; <c>nextCursor</c> is null on the last page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);
