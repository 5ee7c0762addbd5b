using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;

namespace XGrowth.Api.Auth;

/// <summary>The <c>Clerk</c> settings that verify session tokens.</summary>
public sealed class ClerkAuthOptions : IValidatableObject
{
    public const string Section = "Clerk";

    /// <summary>The instance's Frontend API URL, e.g. <c>https://example-42.clerk.accounts.dev</c>: the tokens' <c>iss</c>.</summary>
    public string? Issuer { get; set; }

    /// <summary>Where the signing keys are; default <c>{Issuer}/.well-known/jwks.json</c>.</summary>
    public string? JwksUrl { get; set; }

    /// <summary>The instance's PEM public key; when set, tokens are verified with it and no network is needed.</summary>
    public string? JwtKey { get; set; }

    /// <summary>The frontend origins allowed as <c>azp</c> and for CORS, separated by commas or spaces.</summary>
    public string? AuthorizedParties { get; set; }

    public bool HasIssuer => !string.IsNullOrWhiteSpace(Issuer);

    public string EffectiveJwksUrl() => string.IsNullOrWhiteSpace(JwksUrl) ? $"{Issuer!.TrimEnd('/')}/.well-known/jwks.json" : JwksUrl;

    public IReadOnlyList<string> AuthorizedPartyList() =>
        (AuthorizedParties ?? "").Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(origin => origin.TrimEnd('/')).ToArray();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (HasIssuer && !IsHttpUrl(Issuer!))
        {
            yield return Invalid(nameof(Issuer), "must be an absolute http(s) URL such as https://example-42.clerk.accounts.dev");
        }

        if (!string.IsNullOrWhiteSpace(JwksUrl) && !IsHttpUrl(JwksUrl))
        {
            yield return Invalid(nameof(JwksUrl), "must be an absolute http(s) URL");
        }

        if (!string.IsNullOrWhiteSpace(JwtKey) && !IsRsaPublicKey(JwtKey))
        {
            yield return Invalid(nameof(JwtKey), "must be the instance's RSA public key in PEM form (-----BEGIN PUBLIC KEY-----...)");
        }

        foreach (var origin in AuthorizedPartyList())
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
                || uri.GetLeftPart(UriPartial.Authority) != origin)
            {
                yield return Invalid(nameof(AuthorizedParties), $"'{origin}' is not an origin such as http://localhost:3000");
            }
        }
    }

    private static ValidationResult Invalid(string key, string problem) => new($"{Section}:{key} {problem}.", [key]);

    private static bool IsHttpUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";

    private static bool IsRsaPublicKey(string pem)
    {
        try
        {
            using var rsa = RSA.Create();
            rsa.ImportFromPem(pem.Replace("\\n", "\n", StringComparison.Ordinal));
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
