using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace XGrowth.Tests.Infrastructure;

/// <summary>
/// A test-only Clerk: RSA signing keys, their JWKS on a local HTTP server (as Clerk's Frontend API serves it), and a
/// minter of session tokens with Clerk's claims.
/// </summary>
public sealed class ClerkStandIn : IAsyncDisposable
{
    public const string Issuer = "https://clerk.xgrowth.test";
    public const string Frontend = "http://localhost:3000";

    private readonly List<(string Kid, RSA Key)> _published = [];
    private WebApplication? _server;
    private int _jwksRequests;

    public ClerkStandIn() => Rotate();

    /// <summary>The key new tokens are signed with (the last one published).</summary>
    public (string Kid, RSA Key) Current => _published[^1];

    public string JwksUrl { get; private set; } = "";

    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    /// <summary>Publishes a new key and signs with it from now on; the old keys stay published unless dropped.</summary>
    public void Rotate(bool dropOld = false)
    {
        lock (_published)
        {
            if (dropOld)
            {
                _published.Clear();
            }

            _published.Add(("kid_" + Guid.NewGuid().ToString("N")[..10], RSA.Create(2048)));
        }
    }

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _server = builder.Build();
        _server.MapGet("/.well-known/jwks.json", () =>
        {
            Interlocked.Increment(ref _jwksRequests);
            lock (_published)
            {
                return Results.Text(JsonSerializer.Serialize(new
                {
                    keys = _published.Select(k => Jwk(k.Kid, k.Key)).ToArray(),
                }), "application/json");
            }
        });
        await _server.StartAsync();
        var address = _server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        JwksUrl = address + "/.well-known/jwks.json";
    }

    /// <summary>The instance's public key in PEM form, for networkless verification (<c>Clerk:JwtKey</c>).</summary>
    public string CurrentPublicKeyPem => Current.Key.ExportSubjectPublicKeyInfoPem();

    private static Dictionary<string, string> Jwk(string kid, RSA key)
    {
        var parameters = key.ExportParameters(false);
        return new()
        {
            ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = kid,
            ["n"] = Base64UrlEncoder.Encode(parameters.Modulus), ["e"] = Base64UrlEncoder.Encode(parameters.Exponent),
        };
    }

    /// <summary>A session token for <paramref name="userId"/>, valid now, with Clerk's claims; adjust with the arguments.</summary>
    public string Mint(string userId, Action<Dictionary<string, object>>? claims = null, Action<Dictionary<string, object>>? header = null,
        RSA? signWith = null, string? kid = null)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = new Dictionary<string, object>
        {
            ["sub"] = userId,
            ["sid"] = "sess_" + Guid.NewGuid().ToString("N")[..20],
            ["iss"] = Issuer,
            ["azp"] = Frontend,
            ["iat"] = now - 1,
            ["nbf"] = now - 6,
            ["exp"] = now + 60,
            ["jti"] = Guid.NewGuid().ToString("N")[..20],
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

    /// <summary>A token assembled by hand: for <c>alg: none</c> and HMAC-with-the-public-key forgeries.</summary>
    public string Forge(string userId, string alg, byte[]? hmacKey = null)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = Base64UrlEncoder.Encode(JsonSerializer.Serialize(new { alg, typ = "JWT", kid = Current.Kid }));
        var payload = Base64UrlEncoder.Encode(JsonSerializer.Serialize(new
        {
            sub = userId, sid = "sess_forged", iss = Issuer, azp = Frontend, iat = now, nbf = now - 5, exp = now + 60,
        }));
        var signature = hmacKey is null
            ? ""
            : Base64UrlEncoder.Encode(HMACSHA256.HashData(hmacKey, Encoding.ASCII.GetBytes($"{header}.{payload}")));
        return $"{header}.{payload}.{signature}";
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
