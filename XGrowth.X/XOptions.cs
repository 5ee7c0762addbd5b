using System.ComponentModel.DataAnnotations;

namespace XGrowth.X;

/// <summary>The <c>X</c> settings: the X app's OAuth 2.0 client and where X is.</summary>
public sealed class XOptions : IValidatableObject
{
    public const string Section = "X";

    public string? ClientId { get; set; }

    /// <summary>For confidential clients (HTTP Basic at the token endpoint); empty for a public client.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>
    /// The callback registered with the X app: the frontend's page that X sends the browser back to, which passes the
    /// code and state on to <c>POST /api/x-accounts/callback</c> with the user's session.
    /// </summary>
    public string? RedirectUri { get; set; }

    public string AuthorizeUrl { get; set; } = "https://x.com/i/oauth2/authorize";

    public string ApiBaseUrl { get; set; } = "https://api.x.com";

    /// <summary>X's website, where published posts are linked to.</summary>
    public string WebUrl { get; set; } = "https://x.com";

    /// <summary>Whether connecting accounts can work: the client id and the redirect URI are set.</summary>
    public bool IsConfigured => !string.IsNullOrWhiteSpace(ClientId) && !string.IsNullOrWhiteSpace(RedirectUri);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (key, value, required) in new[]
        {
            (nameof(RedirectUri), RedirectUri, false),
            (nameof(AuthorizeUrl), AuthorizeUrl, true), (nameof(ApiBaseUrl), ApiBaseUrl, true), (nameof(WebUrl), WebUrl, true),
        })
        {
            if ((required || !string.IsNullOrWhiteSpace(value))
                && !(Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            {
                yield return new ValidationResult($"{Section}:{key} must be an absolute http(s) URL.", [key]);
            }
        }
    }
}

/// <summary>Addresses of posts on X's website (<see cref="XOptions.WebUrl"/>: x.com, or the local stand-in in Development).</summary>
public sealed class XPostLinks(Microsoft.Extensions.Options.IOptions<XOptions> options)
{
    private readonly string _statusBase = options.Value.WebUrl.TrimEnd('/') + "/i/web/status/";

    /// <summary>The post's address (this form needs no username); null for a post that has no X id yet.</summary>
    public string? UrlOf(string? xPostId) => xPostId is null ? null : _statusBase + xPostId;
}
