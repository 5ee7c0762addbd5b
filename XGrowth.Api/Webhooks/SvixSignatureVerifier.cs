using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace XGrowth.Api.Webhooks;

/// <summary>What a signature check found.</summary>
public enum SignatureCheck
{
    Valid,
    MissingHeaders,
    MalformedTimestamp,
    TimestampTooOld,
    TimestampTooNew,
    NoMatchingSignature,
}

/// <summary>
/// Verifies Svix (Standard Webhooks) signatures: HMAC-SHA256 of <c>{id}.{timestamp}.{raw body}</c>, any <c>v1</c>
/// entry of the signature header matching any configured secret, timestamps within 5 minutes either way.
/// </summary>
/// <remarks>
/// Written here because the <c>Svix</c> package is not available to this project and the substitute that is
/// (<c>StandardWebhooks</c> 1.1.2) skips the last signature of several; see DESIGN.md.
/// </remarks>
public sealed class SvixSignatureVerifier
{
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    private const string SecretPrefix = "whsec_";
    private const int SignatureBytes = 32;

    private readonly byte[][] _keys;
    private readonly TimeProvider _time;

    public SvixSignatureVerifier(IEnumerable<byte[]> keys, TimeProvider time)
    {
        _keys = [.. keys];
        _time = time;
    }

    /// <summary>Whether any secret is configured; without one nothing can be verified.</summary>
    public bool HasKeys => _keys.Length > 0;

    /// <summary>
    /// Reads the secrets in a setting: <c>whsec_&lt;base64&gt;</c> (or bare base64), several separated by spaces or
    /// commas while a secret is being rotated.
    /// </summary>
    /// <exception cref="FormatException">A secret is not base64; the message does not contain it.</exception>
    public static IReadOnlyList<byte[]> ParseSecrets(string? setting)
    {
        var secrets = new List<byte[]>();
        foreach (var secret in (setting ?? "").Split([' ', ',', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries))
        {
            var base64 = secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret;
            try
            {
                var key = Convert.FromBase64String(base64);
                if (key.Length == 0)
                {
                    throw new FormatException();
                }

                secrets.Add(key);
            }
            catch (FormatException)
            {
                throw new FormatException($"Secret number {secrets.Count + 1} is not 'whsec_' followed by base64.");
            }
        }

        return secrets;
    }

    public SignatureCheck Verify(string? messageId, string? timestamp, string? signatures, ReadOnlySpan<byte> body)
    {
        if (string.IsNullOrEmpty(messageId) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signatures))
        {
            return SignatureCheck.MissingHeaders;
        }

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var unixSeconds))
        {
            return SignatureCheck.MalformedTimestamp;
        }

        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        if (now - unixSeconds > Tolerance.TotalSeconds)
        {
            return SignatureCheck.TimestampTooOld;
        }

        if (unixSeconds - now > Tolerance.TotalSeconds)
        {
            return SignatureCheck.TimestampTooNew;
        }

        var expected = ExpectedSignatures(messageId, timestamp, body);
        Span<byte> received = stackalloc byte[SignatureBytes];
        foreach (var entry in signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            // Other versions (v1a is ed25519) and malformed entries are skipped, never fatal: a valid v1 entry may follow.
            if (!entry.StartsWith("v1,", StringComparison.Ordinal)
                || !Convert.TryFromBase64String(entry[3..], received, out var length)
                || length != SignatureBytes)
            {
                continue;
            }

            foreach (var signature in expected)
            {
                if (CryptographicOperations.FixedTimeEquals(signature, received))
                {
                    return SignatureCheck.Valid;
                }
            }
        }

        return SignatureCheck.NoMatchingSignature;
    }

    /// <summary>The v1 signature of a message under each configured secret.</summary>
    private byte[][] ExpectedSignatures(string messageId, string timestamp, ReadOnlySpan<byte> body)
    {
        var prefixLength = Encoding.UTF8.GetByteCount(messageId) + timestamp.Length + 2;
        var content = ArrayPool<byte>.Shared.Rent(prefixLength + body.Length);
        try
        {
            var written = Encoding.UTF8.GetBytes(messageId, content);
            content[written++] = (byte)'.';
            written += Encoding.ASCII.GetBytes(timestamp, content.AsSpan(written));
            content[written++] = (byte)'.';
            body.CopyTo(content.AsSpan(written));
            var signed = content.AsSpan(0, written + body.Length);
            var signatures = new byte[_keys.Length][];
            for (var i = 0; i < _keys.Length; i++)
            {
                signatures[i] = HMACSHA256.HashData(_keys[i], signed);
            }

            return signatures;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(content);
        }
    }

    /// <summary>Signs a message as Svix does: the header value for one secret. For tests, benchmarks and local tools.</summary>
    public static string Sign(byte[] key, string messageId, long unixSeconds, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{messageId}.{unixSeconds.ToString(CultureInfo.InvariantCulture)}.");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, content));
    }
}
