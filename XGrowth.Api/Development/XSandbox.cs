using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace XGrowth.Api.Development;

/// <summary>
/// A local stand-in for X's <c>POST /2/tweets</c> (Development only, under <c>/dev/x-sandbox</c>): sandbox X accounts
/// publish here, through the worker's real claiming, timing and state machine. It answers as X does, including the
/// 403 for duplicate content, and keeps the last posts in memory so that a developer can see what was "published".
/// </summary>
public sealed class XSandbox(TimeProvider time)
{
    /// <summary>Sandbox access tokens start with this; anything else is a 401, as a bad token is at X.</summary>
    public const string TokenPrefix = "sandbox_";

    /// <summary>Sandbox post ids start with this, so that they are never mistaken for posts on X.</summary>
    public const string PostIdPrefix = "sandbox-";

    private const int KeptPosts = 1000;

    private readonly Lock _lock = new();
    private readonly LinkedList<SandboxPost> _posts = new();
    private long _sequence;

    /// <summary>A post the sandbox accepted. <c>Account</c> is a hash of the token: it tells accounts apart, nothing more.</summary>
    public sealed record SandboxPost(string Id, string Text, DateTimeOffset CreatedAt, string Account);

    public sealed record SandboxPostList(IReadOnlyList<SandboxPost> Items);

    public static RouteGroupBuilder Map(RouteGroupBuilder group)
    {
        group.MapPost("/2/tweets", (HttpContext context, XSandbox sandbox) => sandbox.CreatePostAsync(context))
            .WithName("SandboxCreatePost").AllowAnonymous()
            .WithSummary("The local X sandbox's POST /2/tweets: where the worker publishes the posts of sandbox accounts.")
            .ExcludeFromDescription();
        group.MapGet("/posts", (XSandbox sandbox) => TypedResults.Ok(new SandboxPostList(sandbox.Posts())))
            .WithName("ListSandboxPosts").AllowAnonymous()
            .WithSummary("What the local X sandbox has received, newest first (kept in memory, the last 1,000).");
        return group;
    }

    public IReadOnlyList<SandboxPost> Posts()
    {
        lock (_lock)
        {
            return [.. _posts];
        }
    }

    private async Task<IResult> CreatePostAsync(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer " + TokenPrefix, StringComparison.Ordinal))
        {
            return XProblem(StatusCodes.Status401Unauthorized, "Unauthorized", "Unauthorized");
        }

        string? text;
        try
        {
            text = (string?)(await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted))?["text"];
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
            text = null;
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            return XProblem(StatusCodes.Status400BadRequest, "Invalid Request", "One or more parameters to your request was invalid.");
        }

        var account = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(authorization)))[..16];
        SandboxPost post;
        lock (_lock)
        {
            if (_posts.Any(p => p.Account == account && p.Text == text))
            {
                return XProblem(StatusCodes.Status403Forbidden, "Forbidden", "You are not allowed to create a Tweet with duplicate content.");
            }

            var now = time.GetUtcNow();
            // Shaped like X's snowflake ids (milliseconds and a sequence), behind the sandbox prefix.
            post = new SandboxPost($"{PostIdPrefix}{now.ToUnixTimeMilliseconds()}{++_sequence % 10_000:D4}", text, now, account);
            _posts.AddFirst(post);
            if (_posts.Count > KeptPosts)
            {
                _posts.RemoveLast();
            }
        }

        return Results.Json(new JsonObject { ["data"] = new JsonObject { ["id"] = post.Id, ["text"] = post.Text } },
            statusCode: StatusCodes.Status201Created);
    }

    /// <summary>An error body as X writes it (a problem document).</summary>
    private static IResult XProblem(int status, string title, string detail) => Results.Json(new JsonObject
    {
        ["title"] = title,
        ["detail"] = detail,
        ["type"] = "about:blank",
        ["status"] = status,
    }, contentType: "application/problem+json", statusCode: status);
}
