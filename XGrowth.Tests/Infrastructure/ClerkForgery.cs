using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;
using XGrowth.DevStandIns.Clerk;

namespace XGrowth.Tests.Infrastructure;

/// <summary>Tokens an attacker would assemble by hand against the Clerk stand-in's issuer and key id.</summary>
public static class ClerkForgery
{
    /// <summary>A token with <paramref name="alg"/> (<c>none</c>, or HS256 keyed with <paramref name="hmacKey"/>, e.g. the public key).</summary>
    public static string Forge(this ClerkStandIn clerk, string userId, string alg, byte[]? hmacKey = null)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = Base64UrlEncoder.Encode(JsonSerializer.Serialize(new { alg, typ = "JWT", kid = clerk.Current.Kid }));
        var payload = Base64UrlEncoder.Encode(JsonSerializer.Serialize(new
        {
            sub = userId, sid = "sess_forged", iss = clerk.Issuer, azp = clerk.AuthorizedParty, iat = now, nbf = now - 5, exp = now + 60,
        }));
        var signature = hmacKey is null
            ? ""
            : Base64UrlEncoder.Encode(HMACSHA256.HashData(hmacKey, Encoding.ASCII.GetBytes($"{header}.{payload}")));
        return $"{header}.{payload}.{signature}";
    }
}
