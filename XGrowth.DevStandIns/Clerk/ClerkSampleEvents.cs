using System.Text.Json.Nodes;

namespace XGrowth.DevStandIns.Clerk;

/// <summary>
/// Realistic Clerk user events (the shape and size, about 2 KB, of what Clerk sends), signed as Svix signs them.
/// The Clerk stand-in sends them; the tests and the webhook benchmark use them too.
/// </summary>
public static class ClerkSampleEvents
{
    /// <summary>A <c>user.created</c> or <c>user.updated</c> event body.</summary>
    public static byte[] UserEvent(string type, string userId, string? email, DateTimeOffset updatedAt,
        string? firstName = "Ada", string? lastName = "Lovelace", string? username = null)
    {
        var emailId = "idn_" + Guid.NewGuid().ToString("N")[..24];
        var createdMs = updatedAt.AddDays(-1).ToUnixTimeMilliseconds();
        var updatedMs = updatedAt.ToUnixTimeMilliseconds();
        var data = new JsonObject
        {
            ["id"] = userId,
            ["object"] = "user",
            ["username"] = username,
            ["first_name"] = firstName,
            ["last_name"] = lastName,
            ["image_url"] = "https://img.clerk.com/eyJ0eXBlIjoicHJveHkiLCJzcmMiOiJodHRwczovL2ltYWdlcy5jbGVyay5kZXYvb2F1dGhfZ29vZ2xlL2ltZ18yTmVkUWJ",
            ["profile_image_url"] = "https://images.clerk.dev/oauth_google/img_2NedQbLTLyJn0qZC1iqhtLahXnF.jpeg",
            ["has_image"] = true,
            ["primary_email_address_id"] = email is null ? null : emailId,
            ["primary_phone_number_id"] = null,
            ["primary_web3_wallet_id"] = null,
            ["email_addresses"] = email is null ? new JsonArray() : new JsonArray(new JsonObject
            {
                ["id"] = emailId,
                ["object"] = "email_address",
                ["email_address"] = email,
                ["linked_to"] = new JsonArray(new JsonObject { ["id"] = "idn_29w83yL7CwVlJXylYLxcslromF1", ["type"] = "oauth_google" }),
                ["verification"] = new JsonObject { ["status"] = "verified", ["strategy"] = "from_oauth_google", ["attempts"] = null, ["expire_at"] = null },
                ["reserved"] = false,
                ["created_at"] = createdMs,
                ["updated_at"] = updatedMs,
            }),
            ["phone_numbers"] = new JsonArray(),
            ["web3_wallets"] = new JsonArray(),
            ["external_accounts"] = new JsonArray(new JsonObject
            {
                ["object"] = "google_account",
                ["id"] = "idn_29w83yL7CwVlJXylYLxcslromF1",
                ["provider"] = "oauth_google",
                ["email_address"] = email,
                ["given_name"] = firstName,
                ["family_name"] = lastName,
                ["approved_scopes"] = "email https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid profile",
                ["verification"] = new JsonObject { ["status"] = "verified", ["strategy"] = "oauth_google", ["attempts"] = null, ["expire_at"] = createdMs + 600_000 },
            }),
            ["external_id"] = null,
            ["public_metadata"] = new JsonObject(),
            ["private_metadata"] = new JsonObject(),
            ["unsafe_metadata"] = new JsonObject(),
            ["password_enabled"] = false,
            ["two_factor_enabled"] = false,
            ["totp_enabled"] = false,
            ["backup_code_enabled"] = false,
            ["banned"] = false,
            ["locked"] = false,
            ["create_organization_enabled"] = true,
            ["delete_self_enabled"] = true,
            ["created_at"] = createdMs,
            ["updated_at"] = updatedMs,
            ["last_sign_in_at"] = createdMs,
            ["last_active_at"] = updatedMs,
        };
        return Envelope(type, data, updatedAt);
    }

    /// <summary>A <c>user.deleted</c> event body.</summary>
    public static byte[] UserDeleted(string userId, DateTimeOffset at) =>
        Envelope("user.deleted", new JsonObject { ["object"] = "user", ["id"] = userId, ["deleted"] = true }, at);

    public static byte[] Envelope(string type, JsonNode data, DateTimeOffset at) =>
        System.Text.Encoding.UTF8.GetBytes(new JsonObject
        {
            ["data"] = data,
            ["event_attributes"] = new JsonObject
            {
                ["http_request"] = new JsonObject
                {
                    ["client_ip"] = "203.0.113.7",
                    ["user_agent"] = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                },
            },
            ["instance_id"] = "ins_2Yq7DaWZP0jJk3uE3V1f1Hn2m4N",
            ["object"] = "event",
            ["timestamp"] = at.ToUnixTimeMilliseconds(),
            ["type"] = type,
        }.ToJsonString());

    /// <summary>
    /// Svix's headers for <paramref name="body"/>, signed with <paramref name="secret"/> (<c>whsec_</c> + base64) at
    /// <paramref name="now"/>: HMAC-SHA256 over <c>{id}.{timestamp}.{body}</c>, as Svix signs (shared/REFERENCE.md).
    /// This is the sender's side; the API verifies with its own code, so a mistake here cannot hide one there.
    /// </summary>
    public static Dictionary<string, string> SignedHeaders(string secret, string svixId, byte[] body, DateTimeOffset now)
    {
        var key = Convert.FromBase64String(secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : secret);
        var timestamp = now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var signed = System.Text.Encoding.UTF8.GetBytes($"{svixId}.{timestamp}.").Concat(body).ToArray();
        return new()
        {
            ["svix-id"] = svixId,
            ["svix-timestamp"] = timestamp,
            ["svix-signature"] = "v1," + Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(key, signed)),
        };
    }
}
