using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using XGrowth.X;

namespace XGrowth.X;

/// <summary>What happened to one request to create a post on X.</summary>
public abstract record PublishResult
{
    /// <summary>201: the post exists on X.</summary>
    public sealed record Published(string XPostId) : PublishResult;

    /// <summary>429: wait until X's reset; the post was not created.</summary>
    public sealed record RateLimited(DateTimeOffset Reset) : PublishResult;

    /// <summary>401: the token was refused; the post was not created.</summary>
    public sealed record Unauthorized : PublishResult;

    /// <summary>403 or another 4xx: final (duplicate content, policy...); X's reason is kept for the user.</summary>
    public sealed record Rejected(string Reason) : PublishResult;

    /// <summary>5xx, a timeout, a connection lost after sending: the post may exist. Never retried blindly.</summary>
    public sealed record Unknown(string Reason) : PublishResult;

    /// <summary>The request provably never left (connection refused, name not resolved): safe to retry.</summary>
    public sealed record NotSent(string Reason) : PublishResult;
}

/// <summary>Creates posts with X API v2 (<c>POST /2/tweets</c>) and says what happened, in the classes the worker acts on.</summary>
/// <remarks>The client has no retry handler: X has no idempotency key, so a retry could post twice.</remarks>
public sealed class XPostClient(HttpClient http, IOptions<XOptions> options, TimeProvider time)
{
    /// <summary>
    /// Creates a post; with <paramref name="inReplyTo"/>, as a reply to that post (the next part of a thread); with
    /// <paramref name="mediaIds"/> (uploaded by <see cref="XMediaClient"/>), showing that media.
    /// </summary>
    public async Task<PublishResult> CreatePostAsync(string accessToken, string text, string? inReplyTo, IReadOnlyList<string>? mediaIds,
        CancellationToken cancellationToken)
    {
        // A post with media may have no text; X then takes no "text" at all rather than an empty one.
        var body = text.Length > 0 || mediaIds is not { Count: > 0 } ? new JsonObject { ["text"] = text } : new JsonObject();
        if (mediaIds is { Count: > 0 })
        {
            body["media"] = new JsonObject { ["media_ids"] = new JsonArray([.. mediaIds.Select(id => JsonValue.Create(id))]) };
        }

        if (inReplyTo is not null)
        {
            body["reply"] = new JsonObject { ["in_reply_to_tweet_id"] = inReplyTo };
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, options.Value.ApiBaseUrl.TrimEnd('/') + "/2/tweets")
        {
            Content = JsonContent.Create(body),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (Exception e) when (XFailures.IsTransient(e, cancellationToken))
        {
            return XFailures.WasNotSent(e) ? new PublishResult.NotSent(e.Message)
                : e is HttpRequestException ? new PublishResult.Unknown("The connection to X failed after the request was sent: " + e.Message)
                : new PublishResult.Unknown("X did not answer in time.");
        }

        using (response)
        {
            var answer = await SafeReadAsync(response, cancellationToken);
            switch ((int)response.StatusCode)
            {
                case 200 or 201:
                    var id = (string?)answer?["data"]?["id"];
                    return id is { Length: > 0 } ? new PublishResult.Published(id) : new PublishResult.Unknown("X answered success without a post id.");
                case 429:
                    return new PublishResult.RateLimited(Reset(response));
                case 401:
                    return new PublishResult.Unauthorized();
                case >= 400 and < 500:
                    return new PublishResult.Rejected((string?)answer?["detail"] ?? (string?)answer?["title"] ?? $"X refused the post ({(int)response.StatusCode}).");
                default:
                    return new PublishResult.Unknown($"X answered {(int)response.StatusCode}; the post may or may not exist.");
            }
        }
    }

    /// <summary>X's reset, or 15 minutes (X's rate-limit window) when it does not say.</summary>
    private DateTimeOffset Reset(HttpResponseMessage response) => XFailures.RateLimitReset(response) ?? time.GetUtcNow().AddMinutes(15);

    private static async Task<JsonNode?> SafeReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
