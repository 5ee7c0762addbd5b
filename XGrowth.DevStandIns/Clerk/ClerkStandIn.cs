using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace XGrowth.DevStandIns.Clerk;

/// <summary>
/// A Clerk instance on this machine: RSA signing keys published as a JWKS (as Clerk's Frontend API does), session
/// tokens shaped like Clerk's (RS256 with a <c>kid</c>, <c>sub</c>, <c>sid</c>, <c>azp</c>, the <c>cat</c> header),
/// and Svix-signed webhooks. The API verifies all of it with its production code: it is only told this issuer.
/// </summary>
public sealed class ClerkStandIn
{
    /// <summary>Where Clerk's paths live on the stand-in; the issuer is the base URL plus this.</summary>
    public const string PathBase = "/clerk";

    public static readonly TimeSpan DefaultTokenLifetime = TimeSpan.FromHours(1);
    public static readonly TimeSpan MaxTokenLifetime = TimeSpan.FromDays(1);

    private readonly List<(string Kid, RSA Key)> _published = [];
    private readonly StandInsOptions _options;
    private int _jwksRequests;

    public ClerkStandIn(IOptions<StandInsOptions> options)
    {
        _options = options.Value;
        var rsa = RSA.Create(2048); // Lives as long as the stand-in: not disposed.
        if (_options.Clerk.SigningKeyPem is { Length: > 0 } pem)
        {
            rsa.ImportFromPem(pem);
        }

        _published.Add((KeyIdOf(rsa), rsa));
    }

    /// <summary>The tokens' <c>iss</c>: what the API's <c>Clerk:Issuer</c> is set to.</summary>
    public string Issuer => (_options.BaseUrl ?? throw new InvalidOperationException("StandIns:BaseUrl is not set.")).TrimEnd('/') + PathBase;

    public string JwksUrl => Issuer + "/.well-known/jwks.json";

    /// <summary>The frontend origin new tokens name in <c>azp</c>.</summary>
    public string AuthorizedParty => _options.Clerk.AuthorizedParty;

    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    /// <summary>The key new tokens are signed with (the last one published).</summary>
    public (string Kid, RSA Key) Current
    {
        get
        {
            lock (_published)
            {
                return _published[^1];
            }
        }
    }

    /// <summary>The current public key in PEM form, for networkless verification (<c>Clerk:JwtKey</c>).</summary>
    public string CurrentPublicKeyPem => Current.Key.ExportSubjectPublicKeyInfoPem();

    /// <summary>Publishes a new key and signs with it from now on (Clerk rotating its keys); the old ones stay published unless dropped.</summary>
    public void Rotate(bool dropOld = false)
    {
        var rsa = RSA.Create(2048);
        lock (_published)
        {
            if (dropOld)
            {
                _published.Clear();
            }

            _published.Add((KeyIdOf(rsa), rsa));
        }
    }

    /// <summary>The JWKS document, as <c>{issuer}/.well-known/jwks.json</c> serves it.</summary>
    public string JwksJson()
    {
        Interlocked.Increment(ref _jwksRequests);
        lock (_published)
        {
            return JsonSerializer.Serialize(new { keys = _published.Select(k => Jwk(k.Kid, k.Key)).ToArray() });
        }
    }

    /// <summary>
    /// A session token for <paramref name="userId"/>, valid from now for <paramref name="lifetime"/> (Clerk's own last
    /// 60 s; a local one may last longer so that a developer can paste it into curl), with Clerk's claims. The other
    /// arguments change it, to make tokens Clerk would never issue.
    /// </summary>
    public string Mint(string userId, TimeSpan? lifetime = null, Action<Dictionary<string, object>>? claims = null,
        Action<Dictionary<string, object>>? header = null, RSA? signWith = null, string? kid = null)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = new Dictionary<string, object>
        {
            ["sub"] = userId,
            ["sid"] = "sess_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10)),
            ["iss"] = Issuer,
            ["azp"] = AuthorizedParty,
            ["iat"] = now - 1,
            ["nbf"] = now - 6,
            ["exp"] = now + (long)(lifetime ?? TimeSpan.FromSeconds(60)).TotalSeconds,
            ["jti"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10)),
            ["v"] = 2,
            ["fva"] = new[] { 0, -1 },
        };
        claims?.Invoke(payload);
        var headerFields = new Dictionary<string, object> { ["cat"] = "cl_B7d4PD111AAA" };
        header?.Invoke(headerFields);
        var (currentKid, currentKey) = Current;
        var descriptor = new SecurityTokenDescriptor
        {
            Claims = payload,
            AdditionalHeaderClaims = headerFields,
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(signWith ?? currentKey) { KeyId = kid ?? currentKid }, SecurityAlgorithms.RsaSha256),
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }

    private static string KeyIdOf(RSA rsa) => "ins_local_" + Convert.ToHexStringLower(SHA256.HashData(rsa.ExportSubjectPublicKeyInfo()))[..16];

    private static Dictionary<string, string> Jwk(string kid, RSA key)
    {
        var parameters = key.ExportParameters(false);
        return new()
        {
            ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = kid,
            ["n"] = Base64UrlEncoder.Encode(parameters.Modulus), ["e"] = Base64UrlEncoder.Encode(parameters.Exponent),
        };
    }
}
