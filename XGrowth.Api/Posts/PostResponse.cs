using System.Linq.Expressions;
using XGrowth.Api.Development;
using XGrowth.Data;

namespace XGrowth.Api.Posts;

/// <summary>A scheduled post as the frontend sees it.</summary>
public sealed record PostResponse(
    Guid Id,
    Guid XAccountId,
    string Text,
    DateTimeOffset ScheduledAt,
    ScheduledPostStatus Status,
    string? XPostId,
    string? XPostUrl,
    DateTimeOffset? PublishedAt,
    string? Error)
{
    /// <summary>For EF Core projections: reads only the columns the response needs.</summary>
    public static readonly Expression<Func<ScheduledPost, PostResponse>> FromEntity = post => new PostResponse(
        post.Id, post.XAccountId, post.Text, post.ScheduledAt, post.Status, post.XPostId,
        post.XPostId == null || post.XPostId.StartsWith(XSandbox.PostIdPrefix) ? null : "https://x.com/i/web/status/" + post.XPostId,
        post.PublishedAt, post.Error);

    /// <summary>The post's address on X (this form needs no username); none for a post of the local X sandbox.</summary>
    public static string? UrlOnX(string? xPostId) =>
        xPostId is null || xPostId.StartsWith(XSandbox.PostIdPrefix, StringComparison.Ordinal) ? null : "https://x.com/i/web/status/" + xPostId;

    private static readonly Func<ScheduledPost, PostResponse> FromEntityCompiled = FromEntity.Compile();

    public static PostResponse From(ScheduledPost post) => FromEntityCompiled(post);
}

/// <summary>A page of a list; <c>nextCursor</c> is null on the last page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);
