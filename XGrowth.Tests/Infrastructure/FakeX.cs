using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace XGrowth.Tests.Infrastructure;

/// <summary>
/// A local stand-in for X's OAuth 2.0 and users endpoints that checks what real X checks: the client's HTTP Basic
/// authentication, the exact redirect URI, the PKCE verifier against the challenge, single-use codes and refresh tokens.
/// </summary>
public sealed class FakeX : IAsyncDisposable
{
    public const string ClientId = "fake-client-id";
    public const string ClientSecret = "fake-client-secret";
    public const string RedirectUri = "http://localhost:8002/api/x-accounts/callback";
    public const string FrontendReturnUrl = "http://localhost:3000/settings/x";

    private readonly ConcurrentDictionary<string, (string Challenge, string RedirectUri, string XUserId, string Username)> _codes = new();
    private readonly ConcurrentDictionary<string, (string XUserId, string Username)> _accessTokens = new();
    private readonly ConcurrentDictionary<string, (string XUserId, string Username)> _refreshTokens = new();
    private WebApplication? _server;
    private int _refreshCalls;

    public string BaseUrl { get; private set; } = "";

    public int RefreshCalls => Volatile.Read(ref _refreshCalls);

    public ConcurrentQueue<string> Revoked { get; } = new();

    /// <summary>Every token X has handed out, to check none is stored in the clear.</summary>
    public ConcurrentQueue<string> IssuedTokens { get; } = new();

    /// <summary>When set, the token endpoint answers this status (a failing X).</summary>
    public int? TokenEndpointFailure { get; set; }

    public int? RevokeFailure { get; set; }

    /// <summary>How long a refresh takes at X: widens the window in which concurrent refreshes would collide.</summary>
    public TimeSpan RefreshDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Whether a refresh answers a new refresh token (X does; the API must cope when one does not).</summary>
    public bool RotateRefreshTokens { get; set; } = true;

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _server = builder.Build();
        _server.MapPost("/2/oauth2/token", (Delegate)TokenAsync);
        _server.MapPost("/2/oauth2/revoke", (Delegate)RevokeAsync);
        _server.MapPost("/2/tweets", (Delegate)CreatePostAsync);
        _server.MapGet("/2/users/me", (HttpContext context) =>
        {
            var token = context.Request.Headers.Authorization.ToString().Replace("Bearer ", "", StringComparison.Ordinal);
            return _accessTokens.TryGetValue(token, out var user)
                ? Results.Json(new { data = new { id = user.XUserId, name = "Name " + user.Username, username = user.Username } })
                : Results.Json(new { title = "Unauthorized", status = 401 }, statusCode: 401);
        });
        await _server.StartAsync();
        BaseUrl = _server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    /// <summary>
    /// What X's consent page does when the user approves: checks the authorize URL and answers the redirect (the
    /// callback URL with <c>code</c> and <c>state</c>) the browser would follow.
    /// </summary>
    public string Approve(string authorizeUrl, string xUserId, string username)
    {
        var query = QueryHelpers.ParseQuery(new Uri(authorizeUrl).Query);
        string Get(string name) => query.TryGetValue(name, out var value) ? value.ToString() : throw new InvalidOperationException($"authorize URL lacks {name}");
        if (Get("client_id") != ClientId || Get("response_type") != "code" || Get("code_challenge_method") != "S256")
        {
            throw new InvalidOperationException("X would refuse this authorize request.");
        }

        var scopes = Get("scope").Split(' ');
        if (!new[] { "tweet.read", "tweet.write", "users.read", "offline.access" }.All(scopes.Contains))
        {
            throw new InvalidOperationException("missing scopes: " + Get("scope"));
        }

        var code = "code_" + Guid.NewGuid().ToString("N");
        _codes[code] = (Get("code_challenge"), Get("redirect_uri"), xUserId, username);
        return QueryHelpers.AddQueryString(Get("redirect_uri"), new Dictionary<string, string?> { ["state"] = Get("state"), ["code"] = code });
    }

    private async Task<IResult> TokenAsync(HttpContext context)
    {
        if (!IsClient(context))
        {
            return Results.Json(new { error = "unauthorized_client" }, statusCode: 401);
        }

        if (TokenEndpointFailure is { } failure)
        {
            return Results.Json(new { title = "Service Unavailable" }, statusCode: failure);
        }

        var form = await context.Request.ReadFormAsync();
        switch (form["grant_type"].ToString())
        {
            case "authorization_code":
                if (!_codes.TryRemove(form["code"].ToString(), out var grant) || grant.RedirectUri != form["redirect_uri"].ToString()
                    || Challenge(form["code_verifier"].ToString()) != grant.Challenge)
                {
                    return Results.Json(new { error = "invalid_request", error_description = "Value passed for the authorization code was invalid." }, statusCode: 400);
                }

                return Issue(grant.XUserId, grant.Username, withRefresh: true);
            case "refresh_token":
                Interlocked.Increment(ref _refreshCalls);
                await Task.Delay(RefreshDelay);
                if (!_refreshTokens.TryRemove(form["refresh_token"].ToString(), out var owner))
                {
                    return Results.Json(new { error = "invalid_grant", error_description = "Value passed for the token was invalid." }, statusCode: 400);
                }

                return Issue(owner.XUserId, owner.Username, withRefresh: RotateRefreshTokens);
            default:
                return Results.Json(new { error = "unsupported_grant_type" }, statusCode: 400);
        }
    }

    private async Task<IResult> RevokeAsync(HttpContext context)
    {
        if (!IsClient(context))
        {
            return Results.Json(new { error = "unauthorized_client" }, statusCode: 401);
        }

        if (RevokeFailure is { } failure)
        {
            return Results.StatusCode(failure);
        }

        var token = (await context.Request.ReadFormAsync())["token"].ToString();
        Revoked.Enqueue(token);
        _refreshTokens.TryRemove(token, out _);
        _accessTokens.TryRemove(token, out _);
        return Results.Json(new { revoked = true });
    }

    private IResult Issue(string xUserId, string username, bool withRefresh)
    {
        var access = "xat_" + Guid.NewGuid().ToString("N");
        _accessTokens[access] = (xUserId, username);
        IssuedTokens.Enqueue(access);
        string? refresh = null;
        if (withRefresh)
        {
            refresh = "xrt_" + Guid.NewGuid().ToString("N");
            _refreshTokens[refresh] = (xUserId, username);
            IssuedTokens.Enqueue(refresh);
        }

        return Results.Json(new { token_type = "bearer", expires_in = 7200, access_token = access, refresh_token = refresh, scope = "tweet.read tweet.write users.read offline.access" });
    }

    /// <summary>Every post X created: its text and the X user it was created for.</summary>
    public ConcurrentQueue<(string Text, string XUserId)> CreatedPosts { get; } = new();

    /// <summary>How long creating a post takes.</summary>
    public TimeSpan CreatePostDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Makes X refuse the next request with this access token (as when X revoked it).</summary>
    public void RevokeAccessToken(string token) => _accessTokens.TryRemove(token, out _);

    private readonly ConcurrentDictionary<string, int> _rateLimitedOnce = new();

    /// <summary>
    /// <c>POST /2/tweets</c>. Texts carrying a marker make X misbehave: <c>[500]</c> fails after creating nothing,
    /// <c>[dup]</c> is refused as duplicate content, <c>[429]</c> is rate limited once (reset in 2 s), <c>[slow]</c>
    /// answers after 3 s (the post is created, but the worker has given up by then).
    /// </summary>
    private async Task<IResult> CreatePostAsync(HttpContext context)
    {
        var token = context.Request.Headers.Authorization.ToString().Replace("Bearer ", "", StringComparison.Ordinal);
        if (!_accessTokens.TryGetValue(token, out var user))
        {
            return Results.Json(new { title = "Unauthorized", type = "about:blank", status = 401, detail = "Unauthorized" }, statusCode: 401);
        }

        var body = await System.Text.Json.JsonDocument.ParseAsync(context.Request.Body);
        var text = body.RootElement.GetProperty("text").GetString()!;
        await Task.Delay(text.Contains("[slow]", StringComparison.Ordinal) ? TimeSpan.FromSeconds(3) : CreatePostDelay);
        if (text.Contains("[500]", StringComparison.Ordinal))
        {
            return Results.Json(new { title = "Internal Server Error", status = 500 }, statusCode: 500);
        }

        if (text.Contains("[dup]", StringComparison.Ordinal))
        {
            return Results.Json(new { title = "Forbidden", status = 403, detail = "You are not allowed to create a Tweet with duplicate content.",
                type = "about:blank" }, statusCode: 403);
        }

        if (text.Contains("[429]", StringComparison.Ordinal) && _rateLimitedOnce.TryAdd(text, 1))
        {
            context.Response.Headers["x-rate-limit-reset"] = DateTimeOffset.UtcNow.AddSeconds(2).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Results.Json(new { title = "Too Many Requests", status = 429, detail = "Too Many Requests" }, statusCode: 429);
        }

        CreatedPosts.Enqueue((text, user.XUserId));
        return Results.Json(new { data = new { id = Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture), text } }, statusCode: 201);
    }

    /// <summary>Whether a refresh token is still live at X (refresh tokens are single-use).</summary>
    public bool IsLiveRefreshToken(string token) => _refreshTokens.ContainsKey(token);

    private static bool IsClient(HttpContext context) =>
        context.Request.Headers.Authorization.ToString() == "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{ClientId}:{ClientSecret}"));

    private static string Challenge(string verifier) =>
        System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
