using System.Linq.Expressions;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Api.Posts;

/// <summary>A post as the frontend sees it. <c>scheduledAt</c> is null only for a draft; <c>queued</c> says it holds a queue slot.</summary>
public sealed record PostResponse(
    Guid Id,
    Guid XAccountId,
    string Text,
    DateTimeOffset? ScheduledAt,
    ScheduledPostStatus Status,
    string? XPostId,
    string? XPostUrl,
    DateTimeOffset? PublishedAt,
    string? Error,
    bool Queued)
{
    /// <summary>For EF Core projections: reads only the columns the response needs; <see cref="WithLink"/> adds the URL.</summary>
    public static readonly Expression<Func<ScheduledPost, PostResponse>> FromEntity = post => new PostResponse(
        post.Id, post.XAccountId, post.Text, post.ScheduledAt, post.Status, post.XPostId, null, post.PublishedAt, post.Error, post.Queued);

    private static readonly Func<ScheduledPost, PostResponse> FromEntityCompiled = FromEntity.Compile();

    public static PostResponse From(ScheduledPost post, XPostLinks links) => FromEntityCompiled(post).WithLink(links);

    /// <summary>The response with the post's address on X (which depends on where X is: <c>X:WebUrl</c>).</summary>
    public PostResponse WithLink(XPostLinks links) => this with { XPostUrl = links.UrlOf(XPostId) };
}

/// <summary>A page of a list; <c>nextCursor</c> is null on the last page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);
