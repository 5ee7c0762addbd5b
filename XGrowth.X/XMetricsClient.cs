using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace XGrowth.X;

/// <summary>What X's <c>x-rate-limit-*</c> headers said about the endpoint for this account.</summary>
public sealed record XRateLimit(int? Remaining, DateTimeOffset? Reset)
{
    /// <summary>The window's requests are used up: nothing more until <see cref="Reset"/>.</summary>
    public bool IsExhausted => Remaining is 0 && Reset is not null;
}

/// <summary>What happened to one read of X's metrics.</summary>
public abstract record XReadResult<T>
{
    /// <summary>200, with what X said and its rate-limit headers.</summary>
    public sealed record Ok(T Value, XRateLimit Limit) : XReadResult<T>;

    /// <summary>429: nothing more for this account and endpoint until <paramref name="Reset"/>.</summary>
    public sealed record RateLimited(DateTimeOffset Reset) : XReadResult<T>;

    /// <summary>401: the token was refused.</summary>
    public sealed record Unauthorized : XReadResult<T>;

    /// <summary>X failed (5xx, timeout, unreachable, an answer that is not what X documents) or refused the request (another 4xx).</summary>
    public sealed record Failed(string Reason) : XReadResult<T>;
}

/// <summary>An account's public counts (<c>public_metrics</c> of <c>GET /2/users/me</c>).</summary>
public sealed record XAccountMetrics(long Followers, long Following, long Tweets, long Listed);

/// <summary>A post's metrics; the click counts come from <c>non_public_metrics</c> and are null when not asked for.</summary>
public sealed record XPostMetrics(long Impressions, long Likes, long Reposts, long Replies, long Quotes, long Bookmarks, long? UrlClicks, long? ProfileClicks);

/// <summary>X's answer for a batch of post ids: the metrics of those it has, and the ids it no longer has.</summary>
public sealed record XPostMetricsAnswer(IReadOnlyDictionary<string, XPostMetrics> Found, IReadOnlyList<string> Missing);

/// <summary>
/// Reads account and post metrics with X API v2 (REFERENCE.md, "metrics"), with the account's user token, and says
/// what happened in the classes the analytics collector acts on.
/// </summary>
/// <remarks>
/// The client never retries: X bills every read, and the collector reserves each read in the shared daily budget
/// before the request leaves; a retry would read more than was reserved.
/// </remarks>
public sealed class XMetricsClient(HttpClient http, IOptions<XOptions> options, TimeProvider time)
{
    /// <summary>The most post ids X takes in one <c>GET /2/tweets</c>.</summary>
    public const int MaxIdsPerRequest = 100;

    /// <summary>X gives <c>non_public_metrics</c> only for posts younger than this; asking for an older one is an error.</summary>
    public static readonly TimeSpan NonPublicMetricsAge = TimeSpan.FromDays(30);

    /// <summary><c>GET /2/users/me?user.fields=public_metrics</c>.</summary>
    public Task<XReadResult<XAccountMetrics>> GetAccountMetricsAsync(string accessToken, CancellationToken cancellationToken) =>
        ReadAsync(accessToken, "/2/users/me?user.fields=public_metrics", ParseAccount, cancellationToken);

    /// <summary>
    /// <c>GET /2/tweets?ids=...</c> for up to <see cref="MaxIdsPerRequest"/> posts of the token's account;
    /// <paramref name="withNonPublicMetrics"/> only when every one of them is under <see cref="NonPublicMetricsAge"/>.
    /// </summary>
    public Task<XReadResult<XPostMetricsAnswer>> GetPostMetricsAsync(
        string accessToken, IReadOnlyCollection<string> ids, bool withNonPublicMetrics, CancellationToken cancellationToken)
    {
        if (ids.Count is 0 or > MaxIdsPerRequest)
        {
            throw new ArgumentOutOfRangeException(nameof(ids), $"X takes 1 to {MaxIdsPerRequest} ids per request.");
        }

        var fields = withNonPublicMetrics ? "public_metrics,non_public_metrics,created_at" : "public_metrics,created_at";
        return ReadAsync(accessToken, $"/2/tweets?ids={string.Join(',', ids)}&tweet.fields={fields}",
            root => ParsePosts(root, ids), cancellationToken);
    }

    private async Task<XReadResult<T>> ReadAsync<T>(string accessToken, string pathAndQuery, Func<JsonElement, T?> parse, CancellationToken cancellationToken)
        where T : class
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, options.Value.ApiBaseUrl.TrimEnd('/') + pathAndQuery);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        }
        catch (Exception e) when (XFailures.IsTransient(e, cancellationToken))
        {
            return new XReadResult<T>.Failed(e is HttpRequestException ? "X could not be reached: " + e.Message : "X did not answer in time.");
        }

        using (response)
        {
            var limit = RateLimitOf(response);
            switch ((int)response.StatusCode)
            {
                case 200:
                    try
                    {
                        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
                        using var document = await JsonDocument.ParseAsync(body, cancellationToken: cancellationToken);
                        return parse(document.RootElement) is { } value
                            ? new XReadResult<T>.Ok(value, limit)
                            : new XReadResult<T>.Failed("X answered without the metrics asked for.");
                    }
                    catch (Exception e) when (XFailures.IsTransient(e, cancellationToken) || e is InvalidOperationException or FormatException)
                    {
                        return new XReadResult<T>.Failed("X's answer could not be read: " + e.GetType().Name);
                    }

                case 429:
                    return new XReadResult<T>.RateLimited(limit.Reset ?? time.GetUtcNow().AddMinutes(15));
                case 401:
                    return new XReadResult<T>.Unauthorized();
                default:
                    return new XReadResult<T>.Failed($"X answered {(int)response.StatusCode}.");
            }
        }
    }

    private static XRateLimit RateLimitOf(HttpResponseMessage response)
    {
        int? remaining = response.Headers.TryGetValues("x-rate-limit-remaining", out var r)
            && int.TryParse(r.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var left) ? left : null;
        return new XRateLimit(remaining, XFailures.RateLimitReset(response));
    }

    private static XAccountMetrics? ParseAccount(JsonElement root) =>
        root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
        && data.TryGetProperty("public_metrics", out var metrics) && metrics.ValueKind == JsonValueKind.Object
            ? new XAccountMetrics(Count(metrics, "followers_count"), Count(metrics, "following_count"), Count(metrics, "tweet_count"),
                Count(metrics, "listed_count"))
            : null;

    /// <summary>
    /// The posts in <c>data</c>; every asked id missing from it is one X no longer has (it names them in <c>errors</c>,
    /// "Could not find tweet").
    /// </summary>
    private static XPostMetricsAnswer? ParsePosts(JsonElement root, IReadOnlyCollection<string> ids)
    {
        var found = new Dictionary<string, XPostMetrics>(StringComparer.Ordinal);
        if (root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
        {
            foreach (var post in data.EnumerateArray())
            {
                if (post.ValueKind != JsonValueKind.Object || !post.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String
                    || !post.TryGetProperty("public_metrics", out var metrics) || metrics.ValueKind != JsonValueKind.Object)
                {
                    return null;
                }

                var hidden = post.TryGetProperty("non_public_metrics", out var nonPublic) && nonPublic.ValueKind == JsonValueKind.Object
                    ? nonPublic : (JsonElement?)null;
                found[id.GetString()!] = new XPostMetrics(Count(metrics, "impression_count"), Count(metrics, "like_count"),
                    Count(metrics, "retweet_count"), Count(metrics, "reply_count"), Count(metrics, "quote_count"), Count(metrics, "bookmark_count"),
                    hidden is { } h ? Count(h, "url_link_clicks") : null, hidden is { } p ? Count(p, "user_profile_clicks") : null);
            }
        }
        else if (!root.TryGetProperty("errors", out _))
        {
            return null;
        }

        return new XPostMetricsAnswer(found, [.. ids.Where(id => !found.ContainsKey(id))]);
    }

    private static long Count(JsonElement metrics, string name) =>
        metrics.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var count) && count >= 0 ? count : 0;
}
