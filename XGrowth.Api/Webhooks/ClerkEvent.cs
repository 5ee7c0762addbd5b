using System.Text.Json;
using System.Text.Json.Serialization;

namespace XGrowth.Api.Webhooks;

/// <summary>The envelope of a Clerk webhook event; <see cref="Data"/> depends on <see cref="Type"/>.</summary>
public sealed record ClerkEvent(string Type, JsonElement Data);

/// <summary>The fields of a Clerk user (<c>user.created</c>, <c>user.updated</c>, <c>user.deleted</c>) XGrowth keeps.</summary>
public sealed record ClerkUser(
    string Id,
    string? Username,
    string? FirstName,
    string? LastName,
    string? ImageUrl,
    string? PrimaryEmailAddressId,
    IReadOnlyList<ClerkEmailAddress>? EmailAddresses,
    long? UpdatedAt,
    bool? Deleted)
{
    public string? PrimaryEmail =>
        PrimaryEmailAddressId is null ? null : EmailAddresses?.FirstOrDefault(e => e.Id == PrimaryEmailAddressId)?.EmailAddress;

    public DateTimeOffset? ClerkUpdatedAt => UpdatedAt is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
}

public sealed record ClerkEmailAddress(string? Id, string? EmailAddress);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ClerkEvent))]
[JsonSerializable(typeof(ClerkUser))]
internal sealed partial class ClerkJsonContext : JsonSerializerContext;

/// <summary>Reads a Clerk event from the raw (already verified) body; null when the body is not one.</summary>
public static class ClerkEventReader
{
    private const int MaxIdLength = 255;

    public static ClerkEvent? ReadEvent(ReadOnlySpan<byte> body)
    {
        try
        {
            var clerkEvent = JsonSerializer.Deserialize(body, ClerkJsonContext.Default.ClerkEvent);
            return clerkEvent is { Type.Length: > 0 and <= 100, Data.ValueKind: JsonValueKind.Object } ? clerkEvent : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static ClerkUser? ReadUser(JsonElement data)
    {
        try
        {
            var user = data.Deserialize(ClerkJsonContext.Default.ClerkUser);
            return user is { Id.Length: > 0 and <= MaxIdLength } && !HasNulCharacter(user) ? user : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    // PostgreSQL text cannot hold U+0000: such a value would fail the write, so the event is refused up front.
    private static bool HasNulCharacter(ClerkUser user) =>
        new[] { user.Id, user.Username, user.FirstName, user.LastName, user.ImageUrl, user.PrimaryEmail }
            .Any(value => value?.Contains('\0', StringComparison.Ordinal) == true);
}
