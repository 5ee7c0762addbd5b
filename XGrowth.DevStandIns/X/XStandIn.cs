using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace XGrowth.DevStandIns.X;

/// <summary>
/// X on this machine: an app's OAuth 2.0 (authorize, token, refresh, revoke) with the checks X makes (client
/// authentication, exact redirect URI, PKCE S256, codes valid 30 s and once, single-use refresh tokens), the user
/// behind a token, posts with reply chains, media (XStandIn.Media.cs) and X's duplicate-content rule. With a data directory its tokens
/// and posts survive a restart (the API keeps the tokens it was given).
/// </summary>
/// <remarks>
/// Texts can ask for X's failures, to try them locally and in tests: <c>[500]</c> fails creating nothing,
/// <c>[500once]</c> does so the first time its text is sent only,
/// <c>[dup]</c> is refused as duplicate content, <c>[429]</c> is rate limited once (reset in 2 s), <c>[slow]</c>
/// answers after <see cref="SlowAnswerDelay"/>, having created the post.
/// </remarks>
public sealed partial class XStandIn
{
    /// <summary>Where X's paths live on the stand-in: the API's <c>X:ApiBaseUrl</c> is the base URL plus this.</summary>
    public const string PathBase = "/x";

    public static readonly string[] RequiredScopes = ["tweet.read", "tweet.write", "users.read", "offline.access"];
    public static readonly TimeSpan AccessTokenLifetime = TimeSpan.FromHours(2);
    public static readonly TimeSpan CodeLifetime = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan SlowAnswerDelay = TimeSpan.FromSeconds(3);

    private const string StateFile = "x-state.json";

    private readonly StandInsOptions _options;
    private readonly string? _statePath;
    private readonly Lock _lock = new();
    private readonly State _state;
    private readonly ConcurrentDictionary<string, Code> _codes = new();
    private readonly ConcurrentDictionary<string, int> _rateLimitedOnce = new();
    private readonly ConcurrentDictionary<string, int> _failedOnce = new();
    private int _refreshCalls;

    public XStandIn(IOptions<StandInsOptions> options)
    {
        _options = options.Value;
        _statePath = _options.DataDirectory is { Length: > 0 } directory ? Path.Combine(directory, StateFile) : null;
        _state = _statePath is not null && File.Exists(_statePath)
            ? JsonSerializer.Deserialize<State>(File.ReadAllText(_statePath)) ?? new State()
            : new State();
    }

    /// <summary>What the API's <c>X:ApiBaseUrl</c> (and <c>X:WebUrl</c>) is set to.</summary>
    public string BaseUrl => (_options.BaseUrl ?? throw new InvalidOperationException("StandIns:BaseUrl is not set.")).TrimEnd('/') + PathBase;

    public string AuthorizeUrl => BaseUrl + "/i/oauth2/authorize";

    public string ClientId => _options.X.ClientId;

    // What tests (and a curious developer) can change or watch.

    /// <summary>When set, the token endpoint answers this status (a failing X).</summary>
    public int? TokenEndpointFailure { get; set; }

    /// <summary>When set, the revoke endpoint answers this status.</summary>
    public int? RevokeFailure { get; set; }

    /// <summary>How long a refresh takes: a longer one widens the window in which concurrent refreshes would collide.</summary>
    public TimeSpan RefreshDelay { get; set; }

    /// <summary>Whether a refresh answers a new refresh token (X does; a client must cope when one does not).</summary>
    public bool RotateRefreshTokens { get; set; } = true;

    /// <summary>How long creating a post takes.</summary>
    public TimeSpan CreatePostDelay { get; set; }

    /// <summary>
    /// How long creating a post takes when its text contains one of these keys, instead of <see cref="CreatePostDelay"/>:
    /// a test makes X slow for its own posts (keyed by the test's tag) without slowing anyone else's.
    /// </summary>
    public ConcurrentDictionary<string, TimeSpan> CreatePostDelays { get; } = new();

    public int RefreshCalls => Volatile.Read(ref _refreshCalls);

    public ConcurrentQueue<string> Revoked { get; } = new();

    /// <summary>Every token handed out, to check that none is stored or logged in the clear.</summary>
    public ConcurrentQueue<string> IssuedTokens { get; } = new();

    /// <summary>Every post created since this process started: its text and the X user it was created for.</summary>
    public ConcurrentQueue<(string Text, string XUserId)> CreatedPosts { get; } = new();

    /// <summary>The posts X holds (kept across restarts with a data directory), newest last.</summary>
    public IReadOnlyList<XPost> Posts
    {
        get
        {
            lock (_lock)
            {
                return [.. _state.Posts];
            }
        }
    }

    private TimeSpan CreatePostDelayFor(string text)
    {
        if (text.Contains("[slow]", StringComparison.Ordinal))
        {
            return SlowAnswerDelay;
        }

        foreach (var (key, delay) in CreatePostDelays)
        {
            if (text.Contains(key, StringComparison.Ordinal))
            {
                return delay;
            }
        }

        return CreatePostDelay;
    }

    public XPost? FindPost(string id)
    {
        lock (_lock)
        {
            return _state.Posts.FirstOrDefault(p => p.Id == id);
        }
    }

    /// <summary>Makes X refuse this access token from now on (as when the user revoked the app on X).</summary>
    public void RevokeAccessToken(string token) => Mutate(state => state.AccessTokens.Remove(token));

    /// <summary>Whether a refresh token is still live (they are single-use).</summary>
    public bool IsLiveRefreshToken(string token)
    {
        lock (_lock)
        {
            return _state.RefreshTokens.ContainsKey(token);
        }
    }

    /// <summary>A stable numeric X user id for a username, so that approving twice as one name is one X user.</summary>
    public static string UserIdFor(string username) =>
        (BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes(username.ToLowerInvariant()))) % 9_000_000_000_000_000_000UL + 1_000_000_000_000_000_000UL)
            .ToString(CultureInfo.InvariantCulture);

    /// <summary>Why X would refuse this authorize request (shown on the page instead of the button), or null.</summary>
    public string? CheckAuthorizeRequest(IReadOnlyDictionary<string, string> query)
    {
        string Get(string name) => query.TryGetValue(name, out var value) ? value : "";
        if (Get("client_id") != ClientId)
        {
            return "Unknown client_id: this app is not registered.";
        }

        if (Get("response_type") != "code")
        {
            return "response_type must be 'code'.";
        }

        if (string.IsNullOrEmpty(_options.X.RedirectUri) || Get("redirect_uri") != _options.X.RedirectUri)
        {
            return "redirect_uri does not match the app's registered callback URL.";
        }

        if (Get("code_challenge_method") != "S256" || Get("code_challenge").Length < 43)
        {
            return "PKCE is required: code_challenge with code_challenge_method=S256.";
        }

        if (string.IsNullOrEmpty(Get("state")))
        {
            return "state is required.";
        }

        var scopes = Get("scope").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var missing = RequiredScopes.Except(scopes).ToArray();
        return missing.Length > 0 ? "Missing scopes: " + string.Join(' ', missing) : null;
    }

    /// <summary>
    /// What the authorize page's "Authorize app" button does: a code for <paramref name="username"/>, and the URL the
    /// browser is sent back to (the redirect URI with <c>code</c> and <c>state</c>).
    /// </summary>
    public string Approve(string authorizeUrl, string username, string? xUserId = null) =>
        Approve(QueryHelpers.ParseQuery(new Uri(authorizeUrl).Query).ToDictionary(q => q.Key, q => q.Value.ToString()), username, xUserId);

    public string Approve(IReadOnlyDictionary<string, string> query, string username, string? xUserId = null)
    {
        if (CheckAuthorizeRequest(query) is { } problem)
        {
            throw new InvalidOperationException("X would refuse this authorize request: " + problem);
        }

        var code = "code_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _codes[code] = new Code(query["code_challenge"], query["redirect_uri"], xUserId ?? UserIdFor(username), username, query["scope"],
            DateTimeOffset.UtcNow + CodeLifetime);
        return QueryHelpers.AddQueryString(query["redirect_uri"], new Dictionary<string, string?> { ["state"] = query["state"], ["code"] = code });
    }

    /// <summary>What the page's "Cancel" does: back to the app with <c>error=access_denied</c>.</summary>
    public static string Deny(IReadOnlyDictionary<string, string> query) => QueryHelpers.AddQueryString(query["redirect_uri"],
        new Dictionary<string, string?> { ["state"] = query.GetValueOrDefault("state"), ["error"] = "access_denied" });

    /// <summary><c>POST /2/oauth2/token</c>.</summary>
    public async Task<IResult> TokenAsync(HttpContext context)
    {
        var form = await ReadFormAsync(context);
        if (!IsClient(context, form))
        {
            return Results.Json(new { error = "unauthorized_client", error_description = "Missing valid authorization header" }, statusCode: 401);
        }

        if (TokenEndpointFailure is { } failure)
        {
            return Results.Json(new { title = "Service Unavailable", status = failure }, statusCode: failure);
        }

        switch (form["grant_type"].ToString())
        {
            case "authorization_code":
                if (!_codes.TryRemove(form["code"].ToString(), out var grant) || grant.ExpiresAt < DateTimeOffset.UtcNow
                    || grant.RedirectUri != form["redirect_uri"].ToString() || Challenge(form["code_verifier"].ToString()) != grant.Challenge)
                {
                    return Results.Json(new { error = "invalid_request", error_description = "Value passed for the authorization code was invalid." }, statusCode: 400);
                }

                return Issue(new Grant(grant.XUserId, grant.Username, grant.Scope), withRefresh: grant.Scope.Split(' ').Contains("offline.access"));
            case "refresh_token":
                Interlocked.Increment(ref _refreshCalls);
                if (RefreshDelay > TimeSpan.Zero)
                {
                    await Task.Delay(RefreshDelay);
                }

                Grant? owner = null;
                Mutate(state =>
                {
                    if (state.RefreshTokens.Remove(form["refresh_token"].ToString(), out var found))
                    {
                        owner = found;
                    }
                });
                return owner is null
                    ? Results.Json(new { error = "invalid_grant", error_description = "Value passed for the token was invalid." }, statusCode: 400)
                    : Issue(owner, withRefresh: RotateRefreshTokens);
            default:
                return Results.Json(new { error = "unsupported_grant_type" }, statusCode: 400);
        }
    }

    /// <summary><c>POST /2/oauth2/revoke</c>.</summary>
    public async Task<IResult> RevokeAsync(HttpContext context)
    {
        var form = await ReadFormAsync(context);
        if (!IsClient(context, form))
        {
            return Results.Json(new { error = "unauthorized_client" }, statusCode: 401);
        }

        if (RevokeFailure is { } failure)
        {
            return Results.StatusCode(failure);
        }

        var token = form["token"].ToString();
        Revoked.Enqueue(token);
        Mutate(state =>
        {
            state.RefreshTokens.Remove(token);
            state.AccessTokens.Remove(token);
        });
        return Results.Json(new { revoked = true });
    }

    /// <summary><c>GET /2/users/me</c>, with <c>public_metrics</c> when <c>user.fields</c> asks for them (XStandIn.Metrics.cs).</summary>
    public IResult Me(HttpContext context)
    {
        var fields = context.Request.Query["user.fields"].ToString().Split(',');
        if (UserOf(context) is not { } user)
        {
            return fields.Contains("public_metrics") ? UnauthorizedRead(context, MetricsEndpoint.Users) : Unauthorized();
        }

        if (!fields.Contains("public_metrics"))
        {
            return Results.Json(new { data = new { id = user.XUserId, name = user.Username, username = user.Username } });
        }

        return ReadMetrics(context, user, MetricsEndpoint.Users, [], () =>
            Results.Json(new { data = new { id = user.XUserId, name = user.Username, username = user.Username, public_metrics = AccountMetrics(user.XUserId, DateTimeOffset.UtcNow) } }));
    }

    /// <summary><c>POST /2/tweets</c>.</summary>
    public async Task<IResult> CreatePostAsync(HttpContext context)
    {
        if (UserOf(context) is not { } user)
        {
            return Unauthorized();
        }

        if (!user.Scope.Split(' ').Contains("tweet.write"))
        {
            return Problem(403, "Forbidden", "You are not permitted to perform this action.");
        }

        JsonDocument body;
        try
        {
            body = await JsonDocument.ParseAsync(context.Request.Body);
        }
        catch (JsonException)
        {
            return Problem(400, "Invalid Request", "The request body is not valid JSON.");
        }

        using (body)
        {
            var root = body.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Problem(400, "Invalid Request", "The request body must be a JSON object.");
            }

            if (root.EnumerateObject().Select(p => p.Name).FirstOrDefault(name => !KnownPostFields.Contains(name)) is { } unknown)
            {
                return Problem(400, "Invalid Request", $"One or more parameters to your request was invalid: [{unknown}] is not a valid field.");
            }

            var text = root.TryGetProperty("text", out var textElement) && textElement.ValueKind == JsonValueKind.String ? textElement.GetString()! : "";
            string? inReplyTo = null;
            if (root.TryGetProperty("reply", out var reply))
            {
                inReplyTo = reply.ValueKind == JsonValueKind.Object && reply.TryGetProperty("in_reply_to_tweet_id", out var id) && id.ValueKind == JsonValueKind.String
                    ? id.GetString() : null;
                if (inReplyTo is null)
                {
                    return Problem(400, "Invalid Request", "reply.in_reply_to_tweet_id is required.");
                }
            }

            if (CheckPostMedia(root, user.XUserId, out var mediaIds) is { } mediaProblem)
            {
                return Problem(400, "Invalid Request", mediaProblem);
            }

            if (string.IsNullOrWhiteSpace(text) && mediaIds.Count == 0)
            {
                return Problem(400, "Invalid Request", "Post text is required (or media).");
            }

            await Task.Delay(CreatePostDelayFor(text));
            if (text.Contains("[500]", StringComparison.Ordinal))
            {
                return Problem(500, "Internal Server Error", "Something went wrong. Try again later.");
            }

            if (text.Contains("[500once]", StringComparison.Ordinal) && _failedOnce.TryAdd(text, 1))
            {
                return Problem(500, "Internal Server Error", "Something went wrong. Try again later.");
            }

            if (text.Contains("[429]", StringComparison.Ordinal) && _rateLimitedOnce.TryAdd(text, 1))
            {
                context.Response.Headers["x-rate-limit-limit"] = "100";
                context.Response.Headers["x-rate-limit-remaining"] = "0";
                context.Response.Headers["x-rate-limit-reset"] = DateTimeOffset.UtcNow.AddSeconds(2).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                return Problem(429, "Too Many Requests", "Too Many Requests");
            }

            XPost? created = null;
            string? refusal = null;
            Mutate(state =>
            {
                if (text.Contains("[dup]", StringComparison.Ordinal) || (text.Length > 0 && state.Posts.Any(p => p.XUserId == user.XUserId && p.Text == text)))
                {
                    refusal = "You are not allowed to create a Tweet with duplicate content.";
                }
                else if (inReplyTo is not null && !state.Posts.Any(p => p.Id == inReplyTo))
                {
                    refusal = "You attempted to reply to a Tweet that is deleted or not visible to you.";
                }
                else
                {
                    created = new XPost(NewPostId(), user.XUserId, user.Username, text, inReplyTo, DateTimeOffset.UtcNow, mediaIds.Count > 0 ? mediaIds : null);
                    state.Posts.Add(created);
                    if (state.Posts.Count > MaxKeptPosts)
                    {
                        state.Posts.RemoveRange(0, state.Posts.Count - MaxKeptPosts);
                    }
                }
            });
            if (created is null)
            {
                return Problem(403, "Forbidden", refusal!);
            }

            CreatedPosts.Enqueue((text, user.XUserId));
            return Results.Json(new { data = new { id = created.Id, text, edit_history_tweet_ids = new[] { created.Id } } }, statusCode: 201);
        }
    }

    /// <summary>Fields X's create-post endpoint knows; it rejects any other.</summary>
    private static readonly HashSet<string> KnownPostFields =
    [
        "text", "reply", "media", "quote_tweet_id", "poll", "reply_settings", "for_super_followers_only", "direct_message_deep_link",
        "geo", "nullcast", "card_uri",
    ];

    /// <summary>Posts kept (the oldest are forgotten): a developer's machine, not an archive.</summary>
    private const int MaxKeptPosts = 10_000;

    private static long _lastPostId = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() << 22;

    /// <summary>Ids shaped like X's snowflakes: increasing, 19 digits.</summary>
    private static string NewPostId() => Interlocked.Increment(ref _lastPostId).ToString(CultureInfo.InvariantCulture);

    private IResult Issue(Grant grant, bool withRefresh)
    {
        var access = "xat_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        string? refresh = withRefresh ? "xrt_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20)) : null;
        Mutate(state =>
        {
            state.AccessTokens[access] = grant with { ExpiresAt = DateTimeOffset.UtcNow + AccessTokenLifetime };
            if (refresh is not null)
            {
                state.RefreshTokens[refresh] = grant;
            }
        });
        IssuedTokens.Enqueue(access);
        if (refresh is not null)
        {
            IssuedTokens.Enqueue(refresh);
        }

        return Results.Json(new
        {
            token_type = "bearer", expires_in = (int)AccessTokenLifetime.TotalSeconds, access_token = access, refresh_token = refresh, scope = grant.Scope,
        });
    }

    private Grant? UserOf(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return null;
        }

        lock (_lock)
        {
            return _state.AccessTokens.TryGetValue(header["Bearer ".Length..], out var grant) && grant.ExpiresAt > DateTimeOffset.UtcNow ? grant : null;
        }
    }

    private static async Task<IFormCollection> ReadFormAsync(HttpContext context) =>
        context.Request.HasFormContentType ? await context.Request.ReadFormAsync() : FormCollection.Empty;

    private bool IsClient(HttpContext context, IFormCollection form)
    {
        var secret = _options.X.ClientSecret;
        if (string.IsNullOrEmpty(secret))
        {
            // A public client names itself in the form.
            return form["client_id"].ToString() == ClientId;
        }

        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(ClientId)}:{Uri.EscapeDataString(secret)}"));
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString()), Encoding.UTF8.GetBytes(expected));
    }

    private static IResult Unauthorized() => Problem(401, "Unauthorized", "Unauthorized");

    private static IResult Problem(int status, string title, string detail) =>
        Results.Json(new { title, detail, type = "about:blank", status }, statusCode: status, contentType: "application/problem+json");

    private static string Challenge(string verifier) => System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));

    /// <summary>Changes the state under the lock and, with a data directory, writes it out before anyone is answered.</summary>
    private void Mutate(Action<State> change)
    {
        lock (_lock)
        {
            change(_state);
            if (_statePath is not null)
            {
                WriteState(_statePath, JsonSerializer.Serialize(_state));
            }
        }
    }

    /// <summary>Written whole to a temporary file (readable by its owner only: it holds tokens) and moved into place.</summary>
    private static void WriteState(string path, string json)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var writer = new StreamWriter(temporary, options))
        {
            writer.Write(json);
        }

        File.Move(temporary, path, overwrite: true);
    }

    private sealed record Code(string Challenge, string RedirectUri, string XUserId, string Username, string Scope, DateTimeOffset ExpiresAt);

    /// <summary>Who a token acts for, with what scopes, until when (access tokens only).</summary>
    public sealed record Grant(string XUserId, string Username, string Scope, DateTimeOffset ExpiresAt = default);

    /// <summary>A post on the stand-in's X.</summary>
    public sealed record XPost(string Id, string XUserId, string Username, string Text, string? InReplyTo, DateTimeOffset CreatedAt,
        IReadOnlyList<string>? MediaIds = null);

    private sealed class State
    {
        public Dictionary<string, Grant> AccessTokens { get; set; } = [];

        public Dictionary<string, Grant> RefreshTokens { get; set; } = [];

        public List<XPost> Posts { get; set; } = [];
    }
}
