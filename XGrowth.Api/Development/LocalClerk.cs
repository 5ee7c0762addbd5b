using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using XGrowth.Api.Auth;
using XGrowth.Api.Webhooks;

namespace XGrowth.Api.Development;

/// <summary>
/// A stand-in for a Clerk instance on a developer's machine (<c>Clerk:Local</c>, Development only): it issues session
/// tokens that pass the same checks as Clerk's when no <c>Clerk:Issuer</c> is set, and signs test webhooks with a
/// local secret when no <c>Clerk:WebhookSecret</c> is set. Its signing key and secret are made once and kept in
/// <see cref="DataDirectory"/>, so tokens and secrets stay valid across restarts.
/// </summary>
public sealed class LocalClerk
{
    /// <summary>The <c>iss</c> of local tokens; <c>.invalid</c> so that it can never be a real Clerk instance.</summary>
    public const string Issuer = "https://local-clerk.xgrowth.invalid";

    public static readonly TimeSpan DefaultTokenLifetime = TimeSpan.FromHours(1);
    public static readonly TimeSpan MaxTokenLifetime = TimeSpan.FromDays(1);

    private const string SigningKeyFile = "session-signing-key.pem";
    private const string WebhookSecretFile = "webhook-secret";

    private readonly ClerkAuthOptions _auth;
    private readonly TimeProvider _time;
    private readonly Lazy<RsaSecurityKey> _signingKey;
    private readonly Lazy<string> _webhookSecret;

    public LocalClerk(IOptions<ClerkAuthOptions> auth, IOptions<ClerkWebhookOptions> webhooks, IHostEnvironment environment, TimeProvider time)
    {
        _auth = auth.Value;
        _time = time;
        // Never outside Development, whatever the settings say (the options validation also stops the API then).
        var on = _auth.Local && environment.IsDevelopment();
        IssuesTokens = on && !_auth.HasIssuer;
        WhyNoTokens = IssuesTokens ? null
            : _auth.HasIssuer ? "Local sign-in is off because Clerk:Issuer is set: sign in through Clerk."
            : "Local sign-in is off: Clerk:Local is not set (it is on in appsettings.Development.json).";
        SignsWebhooks = on && string.IsNullOrWhiteSpace(webhooks.Value.WebhookSecret);
        DataDirectory = string.IsNullOrWhiteSpace(_auth.LocalDataDirectory) ? DefaultDataDirectory() : _auth.LocalDataDirectory;
        _signingKey = new(() => LoadSigningKey(ReadOrCreate(SigningKeyFile, NewSigningKeyPem)));
        _webhookSecret = new(() => ReadOrCreate(WebhookSecretFile, () => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24))).Trim());
    }

    /// <summary>Session tokens come from <c>POST /dev/tokens</c> and are verified with the local key.</summary>
    public bool IssuesTokens { get; }

    /// <summary>Why <c>POST /dev/tokens</c> issues nothing, in words a developer can act on; null when it does.</summary>
    public string? WhyNoTokens { get; }

    /// <summary>Webhooks are verified with the local secret (no <c>Clerk:WebhookSecret</c> set).</summary>
    public bool SignsWebhooks { get; }

    public string DataDirectory { get; }

    /// <summary>The key local session tokens are verified with.</summary>
    public SecurityKey VerificationKey => _signingKey.Value;

    /// <summary>The local <c>whsec_...</c> secret; made on first use.</summary>
    public string WebhookSecret => _webhookSecret.Value;

    public static string DefaultDataDirectory() => Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify),
        "xgrowth", "local-clerk");

    /// <summary>A session token for <paramref name="userId"/> shaped like Clerk's: <c>sub</c>, <c>sid</c>, <c>azp</c>, RS256 with a <c>kid</c>.</summary>
    public (string Token, DateTimeOffset ExpiresAt) IssueSessionToken(string userId, TimeSpan lifetime)
    {
        if (!IssuesTokens)
        {
            throw new InvalidOperationException("The local issuer is off.");
        }

        var now = _time.GetUtcNow();
        var expiresAt = now + lifetime;
        var claims = new Dictionary<string, object>
        {
            ["sub"] = userId,
            ["sid"] = "sess_local_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)),
        };
        if (_auth.AuthorizedPartyList() is [var frontend, ..])
        {
            claims["azp"] = frontend;
        }

        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expiresAt.UtcDateTime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(_signingKey.Value, SecurityAlgorithms.RsaSha256),
        });
        return (token, expiresAt);
    }

    private static string NewSigningKeyPem()
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportPkcs8PrivateKeyPem();
    }

    private static RsaSecurityKey LoadSigningKey(string pem)
    {
        var rsa = RSA.Create(); // Lives as long as the application: not disposed.
        rsa.ImportFromPem(pem);
        var kid = "local_" + Convert.ToHexStringLower(SHA256.HashData(rsa.ExportSubjectPublicKeyInfo()))[..16];
        return new RsaSecurityKey(rsa) { KeyId = kid };
    }

    /// <summary>
    /// The file's content, or, when there is no file yet, <paramref name="create"/>'s, written readable by the owner
    /// only. Written to a temporary file and moved into place, so that two processes starting at once agree on one.
    /// </summary>
    private string ReadOrCreate(string fileName, Func<string> create)
    {
        var path = Path.Combine(DataDirectory, fileName);
        if (File.Exists(path))
        {
            return File.ReadAllText(path);
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(DataDirectory);
        }
        else
        {
            Directory.CreateDirectory(DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var content = create();
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var writer = new StreamWriter(temporary, options))
        {
            writer.Write(content);
        }

        try
        {
            File.Move(temporary, path, overwrite: false);
            return content;
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temporary);
            return File.ReadAllText(path); // Another process made it first.
        }
    }
}
