using System.Net;
using System.Text;
using XGrowth.DevStandIns.Clerk;

namespace XGrowth.DevStandIns.X;

/// <summary>The X stand-in's HTTP face: X's API paths under <c>/x</c>, its consent page, and a page per post.</summary>
public static class XStandInApi
{
    public static void MapXStandIn(this IEndpointRouteBuilder endpoints)
    {
        var x = endpoints.MapGroup(XStandIn.PathBase);
        x.MapGet("/i/oauth2/authorize", AuthorizePage);
        x.MapPost("/i/oauth2/authorize", DecideAsync).DisableAntiforgery();
        x.MapPost("/2/oauth2/token", (XStandIn standIn, HttpContext context) => standIn.TokenAsync(context));
        x.MapPost("/2/oauth2/revoke", (XStandIn standIn, HttpContext context) => standIn.RevokeAsync(context));
        x.MapGet("/2/users/me", (XStandIn standIn, HttpContext context) => standIn.Me(context));
        x.MapPost("/2/tweets", (XStandIn standIn, HttpContext context) => standIn.CreatePostAsync(context));
        x.MapGet("/2/tweets", (XStandIn standIn, HttpContext context) => standIn.PostMetrics(context));
        x.MapPost("/2/media/upload", (XStandIn standIn, HttpContext context) => standIn.UploadMediaAsync(context)).DisableAntiforgery();
        x.MapGet("/2/media/upload", (XStandIn standIn, HttpContext context) => standIn.MediaStatus(context));
        x.MapPost("/2/media/upload/initialize", (XStandIn standIn, HttpContext context) => standIn.InitializeMediaAsync(context));
        x.MapPost("/2/media/upload/{id}/append", (XStandIn standIn, HttpContext context, string id) => standIn.AppendMediaAsync(context, id)).DisableAntiforgery();
        x.MapPost("/2/media/upload/{id}/finalize", (XStandIn standIn, HttpContext context, string id) => standIn.FinalizeMedia(context, id));
        x.MapPost("/2/media/metadata", (XStandIn standIn, HttpContext context) => standIn.MediaMetadataAsync(context));
        x.MapGet("/i/web/status/{id}", PostPage);
        x.MapGet("/", HomePage);
        // The frontend's callback page (X:RedirectUri), played here so that the local flow is the real one: X sends the
        // browser here, and the page hands code and state to the API with the signed-in user's session token.
        endpoints.MapGet("/app/x-callback", FrontendCallbackPage);
        endpoints.MapPost("/app/x-callback", FrontendCallbackAsync).DisableAntiforgery();
    }

    private static IResult AuthorizePage(HttpContext context, XStandIn x)
    {
        var query = context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString());
        if (x.CheckAuthorizeRequest(query) is { } problem)
        {
            return Page("Authorize app", $"<p class=err>X refuses this request: {Encode(problem)}</p>", StatusCodes.Status400BadRequest);
        }

        var hidden = new StringBuilder();
        foreach (var (name, value) in query)
        {
            hidden.Append(CultureInfoInvariant($"<input type=hidden name=\"{Encode(name)}\" value=\"{Encode(value)}\">"));
        }

        var scopes = string.Join("", query["scope"].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => $"<li><code>{Encode(s)}</code></li>"));
        return Page("Authorize app", $"""
            <p><b>{Encode(query["client_id"])}</b> wants to access your X account.</p>
            <p>It asks for:</p><ul>{scopes}</ul>
            <form method=post>
              {hidden}
              <label>Sign in to the local X as <input name=username value="local_dev" pattern="[A-Za-z0-9_]{"{1,15}"}" required></label>
              <p><button name=decision value=approve id=authorize>Authorize app</button>
                 <button name=decision value=deny id=cancel formnovalidate>Cancel</button></p>
            </form>
            <p class=note>This is XGrowth's local stand-in for X (Development only). Nothing here reaches x.com.</p>
            """);
    }

    private static async Task<IResult> DecideAsync(HttpContext context, XStandIn x)
    {
        var form = await context.Request.ReadFormAsync();
        var query = form.Where(f => f.Key is not ("username" or "decision")).ToDictionary(f => f.Key, f => f.Value.ToString());
        if (x.CheckAuthorizeRequest(query) is { } problem)
        {
            return Page("Authorize app", $"<p class=err>X refuses this request: {Encode(problem)}</p>", StatusCodes.Status400BadRequest);
        }

        if (form["decision"] != "approve")
        {
            return Results.Redirect(XStandIn.Deny(query));
        }

        var username = form["username"].ToString();
        if (username.Length is < 1 or > 15 || !username.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            return Page("Authorize app", "<p class=err>A username is 1 to 15 letters, digits or underscores.</p>", StatusCodes.Status400BadRequest);
        }

        return Results.Redirect(x.Approve(query, username));
    }

    private static IResult PostPage(string id, XStandIn x)
    {
        if (x.FindPost(id) is not { } post)
        {
            return Page("Post not found", "<p class=err>This post does not exist on the local X (it may predate its data directory).</p>", StatusCodes.Status404NotFound);
        }

        var thread = new List<XStandIn.XPost> { post };
        while (thread[0].InReplyTo is { } parent && x.FindPost(parent) is { } previous && thread.Count < 100)
        {
            thread.Insert(0, previous);
        }

        var items = string.Join("", thread.Select(p =>
            $"<article{(p.Id == id ? " class=current" : "")}><header>@{Encode(p.Username)} · {p.CreatedAt:yyyy-MM-dd HH:mm:ss} UTC</header><p>{Encode(p.Text)}</p>{MediaOf(p, x)}<footer><a href=\"{Encode(p.Id)}\">{Encode(p.Id)}</a></footer></article>"));
        return Page($"Post by @{post.Username}", items);
    }

    private static IResult HomePage(XStandIn x)
    {
        var posts = x.Posts.Reverse().Take(50).Select(p =>
            $"<article><header>@{Encode(p.Username)} · {p.CreatedAt:yyyy-MM-dd HH:mm:ss} UTC</header><p>{Encode(p.Text)}</p>{MediaOf(p, x)}<footer><a href=\"{XStandIn.PathBase}/i/web/status/{Encode(p.Id)}\">{Encode(p.Id)}</a></footer></article>");
        return Page("Local X: latest posts", string.Join("", posts) is { Length: > 0 } list ? list : "<p>No posts yet.</p>");
    }

    private static IResult FrontendCallbackPage(HttpContext context)
    {
        var hidden = string.Join("", context.Request.Query.Where(q => q.Key is "code" or "state" or "error")
            .Select(q => $"<input type=hidden name=\"{Encode(q.Key)}\" value=\"{Encode(q.Value)}\">"));
        return Page("Back in the app", $"""
            <p>X sent the browser back with {(context.Request.Query.ContainsKey("error") ? "an error" : "a code")}. A frontend now calls
            <code>POST /api/x-accounts/callback</code> with it and the signed-in user's session token; this page plays that part,
            with a token from the Clerk stand-in.</p>
            <form method=post>{hidden}
              <label>Signed in as <input name=userId value="user_local_dev" required></label>
              <p><button id=finish>Finish connecting</button></p>
            </form>
            """);
    }

    private static async Task<IResult> FrontendCallbackAsync(HttpContext context, ClerkStandIn clerk, IHttpClientFactory httpClients,
        Microsoft.Extensions.Options.IOptions<StandInsOptions> options)
    {
        var form = await context.Request.ReadFormAsync();
        if (options.Value.ApiUrl is not { Length: > 0 } apiUrl)
        {
            return Page("Back in the app", "<p class=err>StandIns:ApiUrl is not set (the AppHost sets it).</p>", StatusCodes.Status503ServiceUnavailable);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, apiUrl.TrimEnd('/') + "/api/x-accounts/callback")
        {
            Content = JsonContent.Create(new
            {
                code = form["code"].ToString() is { Length: > 0 } code ? code : null,
                state = form["state"].ToString(),
                error = form["error"].ToString() is { Length: > 0 } error ? error : null,
            }),
        };
        request.Headers.Authorization = new("Bearer", clerk.Mint(form["userId"].ToString(), TimeSpan.FromMinutes(1)));
        using var response = await httpClients.CreateClient(StandInsApp.OutgoingHttpClient).SendAsync(request, context.RequestAborted);
        var body = await response.Content.ReadAsStringAsync(context.RequestAborted);
        return response.IsSuccessStatusCode
            ? Page("Back in the app", $"<p class=ok>X account connected.</p><pre>{Encode(body)}</pre><p>Schedule a post on it (dashboard command \"Schedule test post\", or the README's walkthrough).</p>")
            : Page("Back in the app", $"<p class=err>Connecting failed ({(int)response.StatusCode}).</p><pre>{Encode(body)}</pre>", StatusCodes.Status400BadRequest);
    }

    /// <summary>The post's media as the stand-in knows it (it keeps sizes and hashes, not the pictures).</summary>
    private static string MediaOf(XStandIn.XPost post, XStandIn x) => post.MediaIds is not { Count: > 0 } ids ? "" :
        "<ul class=note>" + string.Join("", ids.Select(id => x.FindMedia(id) is { } media
            ? CultureInfoInvariant($"<li>{(media.IsGif ? "GIF" : "image")} {Encode(id)}: {media.TotalBytes:N0} bytes, SHA-256 {Encode(media.Sha256?[..16])}…{(media.AltText is { } alt ? ", alt text: " + Encode(alt) : "")}</li>")
            : $"<li>media {Encode(id)} (forgotten since a restart)</li>")) + "</ul>";

    private static string CultureInfoInvariant(FormattableString value) => FormattableString.Invariant(value);

    private static string Encode(string? value) => WebUtility.HtmlEncode(value ?? "");

    private static IResult Page(string title, string body, int status = StatusCodes.Status200OK) => Results.Content($"""
        <!doctype html>
        <html lang=en><head><meta charset=utf-8><title>{Encode(title)} · local X</title>
        <style>body{"{"}font:16px system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem{"}"}
        button{"{"}font-size:1rem;padding:.5rem 1rem;margin-right:.5rem{"}"}#authorize{"{"}background:#000;color:#fff;border:0;border-radius:2rem{"}"}
        article{"{"}border:1px solid #ddd;border-radius:.5rem;padding:.75rem;margin:.5rem 0{"}"}article.current{"{"}border-color:#1d9bf0{"}"}
        header,footer,.note{"{"}color:#666;font-size:.85rem{"}"}.err{"{"}color:#b00{"}"}.ok{"{"}color:#070{"}"}</style></head>
        <body><h1>{Encode(title)}</h1>{body}</body></html>
        """, "text/html; charset=utf-8", Encoding.UTF8, status);
}
