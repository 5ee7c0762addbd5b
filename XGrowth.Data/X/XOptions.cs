using System.ComponentModel.DataAnnotations;

namespace XGrowth.Data.X;

/// <summary>The <c>X</c> settings: the X app's OAuth 2.0 client and where X is.</summary>
public sealed class XOptions : IValidatableObject
{
    public const string Section = "X";

    public string? ClientId { get; set; }

    /// <summary>For confidential clients (HTTP Basic at the token endpoint); empty for a public client.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>The callback registered with the X app: <c>http://localhost:8002/api/x-accounts/callback</c> locally.</summary>
    public string? RedirectUri { get; set; }

    /// <summary>The frontend page the browser returns to after connecting, with the outcome in the query string.</summary>
    public string? FrontendReturnUrl { get; set; }

    public string AuthorizeUrl { get; set; } = "https://x.com/i/oauth2/authorize";

    public string ApiBaseUrl { get; set; } = "https://api.x.com";

    /// <summary>
    /// Where sandbox accounts publish instead of X: the API's local X sandbox (<c>{api}/dev/x-sandbox</c>), set by the
    /// AppHost in Development. Unset: sandbox posts fail instead of reaching anything.
    /// </summary>
    public string? SandboxApiBaseUrl { get; set; }

    /// <summary>Whether connecting accounts can work: the client id and the two URLs are set.</summary>
    public bool IsConfigured => !string.IsNullOrWhiteSpace(ClientId) && !string.IsNullOrWhiteSpace(RedirectUri)
        && !string.IsNullOrWhiteSpace(FrontendReturnUrl);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (key, value, required) in new[]
        {
            (nameof(RedirectUri), RedirectUri, false), (nameof(FrontendReturnUrl), FrontendReturnUrl, false),
            (nameof(AuthorizeUrl), AuthorizeUrl, true), (nameof(ApiBaseUrl), ApiBaseUrl, true), (nameof(SandboxApiBaseUrl), SandboxApiBaseUrl, false),
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
