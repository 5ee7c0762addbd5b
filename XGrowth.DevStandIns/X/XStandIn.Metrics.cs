using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace XGrowth.DevStandIns.X;

/// <summary>
/// X's metrics on the stand-in: <c>GET /2/users/me?user.fields=public_metrics</c> and
/// <c>GET /2/tweets?ids=...&amp;tweet.fields=public_metrics,non_public_metrics</c>, answering deterministic, plausible
/// numbers that grow with time (a function of the account or post and of its age), so that a local dashboard shows
/// growth with no X account. With X's rules: at most 100 ids, <c>non_public_metrics</c> only for the token's own posts
/// under 30 days old (else the request is refused), posts X does not have in <c>errors</c>, and a rate limit per
/// user and endpoint in 15-minute windows with the <c>x-rate-limit-*</c> headers.
/// </summary>
public sealed partial class XStandIn
{
    public enum MetricsEndpoint
    {
        Users,
        Tweets,
    }

    /// <summary>One metrics request the stand-in answered: whose token, which endpoint, the ids and fields asked for, the status.</summary>
    public sealed record MetricsRequest(MetricsEndpoint Endpoint, string XUserId, IReadOnlyList<string> Ids, string Fields, int Status);

    /// <summary>Requests per user and 15-minute window, as X allows them (users/me 75, tweets lookup 900).</summary>
    public static readonly IReadOnlyDictionary<MetricsEndpoint, int> ReadLimits = new Dictionary<MetricsEndpoint, int>
    {
        [MetricsEndpoint.Users] = 75,
        [MetricsEndpoint.Tweets] = 900,
    };

    public static readonly TimeSpan RateLimitWindow = TimeSpan.FromMinutes(15);

    private readonly ConcurrentDictionary<(string XUserId, MetricsEndpoint Endpoint), (DateTimeOffset WindowStart, int Count)> _readWindows = new();

    /// <summary>Access tokens <see cref="RevokeUser"/> took away, and whose they were: a read with one is logged as that user's 401.</summary>
    private readonly ConcurrentDictionary<string, string> _revokedAccessTokens = new();

    /// <summary>Every metrics request, in order of arrival (tests count them and check what was asked).</summary>
    public ConcurrentQueue<MetricsRequest> MetricsRequests { get; } = new();

    /// <summary>Users whose metrics reads answer 429 until the given time, with that reset in <c>x-rate-limit-reset</c>.</summary>
    public ConcurrentDictionary<string, DateTimeOffset> ReadsRateLimitedUntil { get; } = new();

    /// <summary>Makes X forget every token of this user (the user revoked the app on X): reads answer 401 and refreshing fails.</summary>
    public void RevokeUser(string xUserId) => Mutate(state =>
    {
        foreach (var token in state.AccessTokens.Where(t => t.Value.XUserId == xUserId).Select(t => t.Key).ToList())
        {
            state.AccessTokens.Remove(token);
            _revokedAccessTokens[token] = xUserId;
        }

        foreach (var token in state.RefreshTokens.Where(t => t.Value.XUserId == xUserId).Select(t => t.Key).ToList())
        {
            state.RefreshTokens.Remove(token);
        }
    });

    /// <summary>Deletes a post on X (as its author would): its metrics are no longer answered.</summary>
    public void DeletePost(string id) => Mutate(state => state.Posts.RemoveAll(p => p.Id == id));

    /// <summary>Adds a post as if it had been created at <paramref name="createdAt"/> (to have old posts); answers its id.</summary>
    public string AddPost(string xUserId, string username, string text, DateTimeOffset createdAt)
    {
        var post = new XPost(NewPostId(), xUserId, username, text, null, createdAt);
        Mutate(state => state.Posts.Add(post));
        return post.Id;
    }

    /// <summary><c>GET /2/tweets?ids=...</c>.</summary>
    public IResult PostMetrics(HttpContext context)
    {
        if (UserOf(context) is not { } user)
        {
            return UnauthorizedRead(context, MetricsEndpoint.Tweets);
        }

        var ids = context.Request.Query["ids"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries);
        var fields = context.Request.Query["tweet.fields"].ToString();
        if (ids.Length is 0 or > 100 || ids.Any(id => id.Length > 19 || !id.All(char.IsAsciiDigit)))
        {
            return Problem(400, "Invalid Request", "The `ids` query parameter value must be 1 to 100 comma-separated post ids.");
        }

        var wanted = fields.Split(',');
        var now = DateTimeOffset.UtcNow;
        var posts = ids.Select(id => (Id: id, Post: FindPost(id))).ToList();
        if (wanted.Contains("non_public_metrics")
            && posts.Any(p => p.Post is { } post && (post.XUserId != user.XUserId || now - post.CreatedAt >= TimeSpan.FromDays(30))))
        {
            MetricsRequests.Enqueue(new MetricsRequest(MetricsEndpoint.Tweets, user.XUserId, ids, fields, 400));
            return Problem(400, "Invalid Request",
                "non_public_metrics are available only for the authenticating user's own posts created within the last 30 days.");
        }

        return ReadMetrics(context, user, MetricsEndpoint.Tweets, ids, () =>
        {
            var data = posts.Where(p => p.Post is not null).Select(p => PostJson(p.Post!, wanted, now)).ToList();
            var errors = posts.Where(p => p.Post is null).Select(p => new Dictionary<string, object>
            {
                ["value"] = p.Id, ["detail"] = $"Could not find tweet with ids: [{p.Id}].", ["title"] = "Not Found Error",
                ["resource_type"] = "tweet", ["parameter"] = "ids", ["resource_id"] = p.Id,
                ["type"] = "https://api.twitter.com/2/problems/resource-not-found",
            }).ToList();
            var body = new Dictionary<string, object>();
            if (data.Count > 0)
            {
                body["data"] = data;
            }

            if (errors.Count > 0)
            {
                body["errors"] = errors;
            }

            return Results.Json(body);
        }, fields);
    }

    private IResult UnauthorizedRead(HttpContext context, MetricsEndpoint endpoint)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.Ordinal) && _revokedAccessTokens.TryGetValue(header["Bearer ".Length..], out var xUserId))
        {
            MetricsRequests.Enqueue(new MetricsRequest(endpoint, xUserId, [], context.Request.QueryString.Value ?? "", 401));
        }

        return Unauthorized();
    }

    /// <summary>Counts the read in the user's window, sets X's rate-limit headers, and answers 429 past the limit (or while a test says so).</summary>
    private IResult ReadMetrics(HttpContext context, Grant user, MetricsEndpoint endpoint, IReadOnlyList<string> ids, Func<IResult> answer, string fields = "public_metrics")
    {
        var now = DateTimeOffset.UtcNow;
        var window = _readWindows.AddOrUpdate((user.XUserId, endpoint), (now, 1),
            (_, current) => now - current.WindowStart >= RateLimitWindow ? (now, 1) : (current.WindowStart, current.Count + 1));
        var limit = ReadLimits[endpoint];
        var reset = window.WindowStart + RateLimitWindow;
        var status = 200;
        if (ReadsRateLimitedUntil.TryGetValue(user.XUserId, out var until) && until > now)
        {
            (reset, status) = (until, 429);
        }
        else if (window.Count > limit)
        {
            status = 429;
        }

        context.Response.Headers["x-rate-limit-limit"] = limit.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["x-rate-limit-remaining"] = (status == 429 ? 0 : Math.Max(0, limit - window.Count)).ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["x-rate-limit-reset"] = reset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        MetricsRequests.Enqueue(new MetricsRequest(endpoint, user.XUserId, ids, fields, status));
        return status == 429 ? Problem(429, "Too Many Requests", "Too Many Requests") : answer();
    }

    /// <summary>
    /// An account's counts at <paramref name="at"/>: the account "was created" at a date taken from its id, and gains
    /// followers at its own rate, faster on some days of the week than others, never fewer than the day before.
    /// </summary>
    public static Dictionary<string, long> AccountMetrics(string xUserId, DateTimeOffset at)
    {
        var seed = Seed(xUserId);
        var createdAt = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero).AddDays(seed % 1500);
        var days = Math.Max(0, (at - createdAt).TotalDays);
        var perDay = 1 + (seed >> 12) % 40;
        // The weekly wave's slope never exceeds the steady rate: the count never goes down.
        var followers = 50 + (long)(seed % 950) + (long)((perDay * days) + (perDay * 0.8 * 7 / (2 * Math.PI) * Math.Sin(days * 2 * Math.PI / 7)));
        return new Dictionary<string, long>
        {
            ["followers_count"] = Math.Max(0, followers),
            ["following_count"] = 100 + (long)((seed >> 24) % 400) + (long)(days * 0.2),
            ["tweet_count"] = 10 + (long)((seed >> 32) % 500) + (long)(days * 1.5),
            ["listed_count"] = Math.Max(0, followers) / 200,
            ["like_count"] = 200 + (long)(days * 4),
        };
    }

    /// <summary>
    /// A post's metrics at <paramref name="at"/>: its reach (from its id) comes mostly in the first day and keeps
    /// trickling in after; the engagements are fractions of the impressions that differ from post to post.
    /// </summary>
    public static (long Impressions, long Likes, long Reposts, long Replies, long Quotes, long Bookmarks, long UrlClicks, long ProfileClicks) PostMetricsAt(
        string postId, DateTimeOffset createdAt, DateTimeOffset at)
    {
        var seed = Seed(postId);
        var hours = Math.Max(0, (at - createdAt).TotalHours);
        var reach = 300 + (double)(seed % 20_000);
        var impressions = (long)((reach * (1 - Math.Exp(-hours / 10))) + (reach * 0.05 * Math.Log(1 + (hours / 24))));
        double Share(int shift, double max) => impressions * (double)((seed >> shift) % 1000) / 1000.0 * max;
        return (impressions, (long)Share(8, 0.04), (long)Share(16, 0.008), (long)Share(24, 0.006), (long)Share(32, 0.002),
            (long)Share(40, 0.005), (long)Share(48, 0.004), (long)Share(52, 0.006));
    }

    private static Dictionary<string, object> PostJson(XPost post, string[] fields, DateTimeOffset now)
    {
        var m = PostMetricsAt(post.Id, post.CreatedAt, now);
        var json = new Dictionary<string, object> { ["id"] = post.Id, ["text"] = post.Text, ["edit_history_tweet_ids"] = new[] { post.Id } };
        if (fields.Contains("created_at"))
        {
            json["created_at"] = post.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        }

        if (fields.Contains("public_metrics"))
        {
            json["public_metrics"] = new Dictionary<string, long>
            {
                ["retweet_count"] = m.Reposts, ["reply_count"] = m.Replies, ["like_count"] = m.Likes, ["quote_count"] = m.Quotes,
                ["bookmark_count"] = m.Bookmarks, ["impression_count"] = m.Impressions,
            };
        }

        if (fields.Contains("non_public_metrics"))
        {
            json["non_public_metrics"] = new Dictionary<string, long>
            {
                ["impression_count"] = m.Impressions, ["url_link_clicks"] = m.UrlClicks, ["user_profile_clicks"] = m.ProfileClicks,
            };
        }

        return json;
    }

    private static ulong Seed(string id) => BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes(id)));
}
