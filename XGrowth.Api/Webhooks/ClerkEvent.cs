using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace XGrowth.Api.Webhooks;

/// <summary>The envelope of a Clerk webhook event; <see cref="Data"/> depends on <see cref="Type"/>.</summary>
public sealed record ClerkEvent(string Type, JsonElement Data);

/// <summary>
/// The fields of a Clerk user (<c>user.created</c>, <c>user.updated</c>) XGrowth keeps, as the event carries them:
/// unchecked, every one may be null. <see cref="ClerkEventReader.ReadProfile"/> turns it into a <see cref="ClerkProfile"/>.
/// </summary>
public sealed record ClerkUser(
    string? Id,
    string? Username,
    string? FirstName,
    string? LastName,
    string? ImageUrl,
    string? PrimaryEmailAddressId,
    IReadOnlyList<ClerkEmailAddress?>? EmailAddresses,
    long? UpdatedAt);

public sealed record ClerkEmailAddress(string? Id, string? EmailAddress);

/// <summary>A Clerk user's profile checked against what <c>users</c> holds: what <see cref="ClerkUserSync"/> writes.</summary>
/// <param name="UpdatedAt">Clerk's <c>updated_at</c>; null when the event has none (it then never replaces a dated profile).</param>
public sealed record ClerkProfile(
    string Id, string? Email, string? FirstName, string? LastName, string? Username, string? ImageUrl, DateTimeOffset? UpdatedAt);

/// <summary>A user event read: the profile to store (and whether its image URL was left out), or why the event is refused.</summary>
public sealed record ClerkProfileReading(ClerkProfile? Profile, string? Problem, bool ImageUrlLeftOut = false);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ClerkEvent))]
[JsonSerializable(typeof(ClerkUser))]
internal sealed partial class ClerkJsonContext : JsonSerializerContext;

/// <summary>
/// Reads a Clerk event from the raw (already verified) body and checks a user's fields against what the database
/// holds, before anything is written: a value it cannot hold would fail the write with a 500, which Clerk retries for a
/// day. A value no real Clerk user has is refused (the webhook answers 400); an image URL that is not one is left out.
/// </summary>
public static class ClerkEventReader
{
    /// <summary>The width of <c>users.id</c>; Clerk's ids are about 32 characters.</summary>
    public const int MaxIdLength = 255;

    /// <summary>
    /// RFC 5321 allows 254 characters in an address; 320 is the old 64 + 1 + 255 bound. Either is far below the
    /// ~2.7 KB PostgreSQL allows in a row of the btree index on <c>users.email</c> (320 UTF-16 units are at most 960 bytes).
    /// </summary>
    public const int MaxEmailLength = 320;

    /// <summary>First name, last name and username: far more than Clerk lets a user enter (a username is at most 64).</summary>
    public const int MaxNameLength = 256;

    /// <summary>Clerk's image URLs are a few hundred characters; browsers and proxies do not go much beyond this.</summary>
    public const int MaxImageUrlLength = 2048;

    /// <summary>
    /// How far ahead of this server's clock an <c>updated_at</c> may be (clock skew between Clerk and here). A later
    /// one is refused: stored, it would make every real update of the user stale until that time.
    /// </summary>
    public static readonly TimeSpan MaxUpdatedAtAhead = TimeSpan.FromDays(1);

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

    /// <summary>
    /// The user id of a <c>user.deleted</c>; null when there is none that <c>users</c> can hold. Nothing else of the
    /// event counts: a deletion is carried out whatever other fields it has.
    /// </summary>
    public static string? ReadDeletedUserId(JsonElement data)
    {
        try
        {
            return data.TryGetProperty("id"u8, out var id) && id.ValueKind == JsonValueKind.String && id.GetString() is { } value
                && IsId(value) ? value : null;
        }
        catch (InvalidOperationException)
        {
            // A string JSON allows but .NET cannot hold (an escaped lone surrogate).
            return null;
        }
    }

    /// <summary>Reads the user of a <c>user.created</c> or <c>user.updated</c>; <paramref name="now"/> bounds <c>updated_at</c>.</summary>
    public static ClerkProfileReading ReadProfile(JsonElement data, DateTimeOffset now)
    {
        ClerkUser? user;
        try
        {
            user = data.Deserialize(ClerkJsonContext.Default.ClerkUser);
        }
        catch (JsonException e)
        {
            return Refused($"A field of the user has the wrong JSON type or an invalid value{(e.Path is { } path ? $" ({path})" : "")}.");
        }

        if (user?.Id is not { } id || !IsId(id))
        {
            return Refused($"'id' must be a string of 1 to {MaxIdLength} characters.");
        }

        var email = PrimaryEmail(user);
        if (email is not null && !IsStorable(email, MaxEmailLength))
        {
            return Refused($"The primary email address must be at most {MaxEmailLength} characters (without U+0000).");
        }

        foreach (var (name, value) in new[] { ("first_name", user.FirstName), ("last_name", user.LastName), ("username", user.Username) })
        {
            if (value is not null && !IsStorable(value, MaxNameLength))
            {
                return Refused($"'{name}' must be at most {MaxNameLength} characters (without U+0000).");
            }
        }

        DateTimeOffset? updatedAt = null;
        if (user.UpdatedAt is { } milliseconds)
        {
            if (milliseconds < 0 || milliseconds > (now + MaxUpdatedAtAhead).ToUnixTimeMilliseconds())
            {
                return Refused("'updated_at' must be milliseconds since 1970-01-01, at most a day ahead of this server's clock.");
            }

            updatedAt = DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);
        }

        // A picture is not worth losing the rest of the profile over: an image URL that is not one is left out.
        var imageUrlLeftOut = user.ImageUrl is not null && !IsImageUrl(user.ImageUrl);
        return new ClerkProfileReading(
            new ClerkProfile(id, email, user.FirstName, user.LastName, user.Username, imageUrlLeftOut ? null : user.ImageUrl, updatedAt),
            null,
            imageUrlLeftOut);
    }

    private static ClerkProfileReading Refused(string problem) => new(null, problem);

    /// <summary>The entry whose id is <c>primary_email_address_id</c>; null entries (no real event has them) are skipped.</summary>
    private static string? PrimaryEmail(ClerkUser user) =>
        user.PrimaryEmailAddressId is { } primaryId
            ? user.EmailAddresses?.FirstOrDefault(e => e?.Id == primaryId)?.EmailAddress
            : null;

    private static bool IsId(string value) => value.Length > 0 && IsStorable(value, MaxIdLength);

    // Shown to a browser as a picture's source: only a web address, never javascript: or data: URLs.
    private static bool IsImageUrl(string value) =>
        IsStorable(value, MaxImageUrlLength)
        && Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);

    /// <summary>
    /// Text a PostgreSQL <c>text</c> column holds: no U+0000 (PostgreSQL refuses it) and well-formed UTF-16 (Npgsql
    /// sends UTF-8, which a lone surrogate has no encoding in), at most <paramref name="maxLength"/> UTF-16 units.
    /// </summary>
    private static bool IsStorable(string value, int maxLength) =>
        value.Length <= maxLength && !value.Contains('\0', StringComparison.Ordinal) && IsWellFormedUtf16(value);

    private static bool IsWellFormedUtf16(ReadOnlySpan<char> value)
    {
        while (!value.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(value, out _, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                return false;
            }

            value = value[consumed..];
        }

        return true;
    }
}
