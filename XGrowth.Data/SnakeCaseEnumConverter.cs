using System.Text.Json;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace XGrowth.Data;

/// <summary>
/// Stores an enum as its snake_case name (<c>needs_reconnect</c>), the same words the API shows, so that the
/// database reads naturally in psql and in the worker's SQL.
/// </summary>
public sealed class SnakeCaseEnumConverter<TEnum>() : ValueConverter<TEnum, string>(
    value => Names[value],
    name => Values[name])
    where TEnum : struct, Enum
{
    private static readonly Dictionary<TEnum, string> Names =
        Enum.GetValues<TEnum>().ToDictionary(value => value, value => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString()));

    private static readonly Dictionary<string, TEnum> Values = Names.ToDictionary(pair => pair.Value, pair => pair.Key);

    /// <summary>The stored name of <paramref name="value"/>, for SQL written by hand.</summary>
    public static string NameOf(TEnum value) => Names[value];

    /// <summary>Reads a stored (or API) name back; false for anything else, including other spellings.</summary>
    public static bool TryParse(string? name, out TEnum value) => Values.TryGetValue(name ?? "", out value);

    public static IEnumerable<string> AllNames => Names.Values;
}
