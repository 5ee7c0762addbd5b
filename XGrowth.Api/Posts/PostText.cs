using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace XGrowth.Api.Posts;

/// <summary>
/// The length of a post as X counts it (twitter-text v3 weighting): NFC first; code points in U+0000–U+10FF,
/// U+2000–U+200D, U+2010–U+201F and U+2032–U+2037 weigh 1, all others 2 (CJK, most emoji); an emoji sequence (skin
/// tone, ZWJ family, flag, keycap) weighs 2 as a whole; every URL weighs 23.
/// </summary>
/// <remarks>
/// Written here because no maintained twitter-text port for .NET is available to this project. URL detection is a
/// deliberate subset of twitter-text's: <c>http(s)://</c> URLs and bare domains under common top-level domains.
/// A bare domain under a rare TLD counts by its characters, which can only make a post look shorter than X sees it
/// by the difference, never reject a valid post.
/// </remarks>
public static partial class PostText
{
    public const int MaxWeightedLength = 280;
    public const int UrlWeight = 23;

    public static string Normalize(string text) => text.Normalize(NormalizationForm.FormC);

    /// <summary>The weighted length of <paramref name="text"/> (normalized to NFC first).</summary>
    public static int WeightedLength(string text)
    {
        var normalized = Normalize(text);
        var length = 0;
        var position = 0;
        foreach (Match url in UrlPattern().Matches(normalized))
        {
            length += WeightOfPlainText(normalized.AsSpan(position, url.Index - position)) + UrlWeight;
            position = url.Index + url.Length;
        }

        return length + WeightOfPlainText(normalized.AsSpan(position));
    }

    private static int WeightOfPlainText(ReadOnlySpan<char> text)
    {
        var weight = 0;
        var enumerator = StringInfo.GetTextElementEnumerator(text.ToString());
        while (enumerator.MoveNext())
        {
            var element = (string)enumerator.Current;
            if (IsEmojiSequence(element))
            {
                weight += 2;
                continue;
            }

            foreach (var rune in element.EnumerateRunes())
            {
                weight += WeightOf(rune.Value);
            }
        }

        return weight;
    }

    private static int WeightOf(int codePoint) => codePoint switch
    {
        <= 0x10FF => 1,
        >= 0x2000 and <= 0x200D => 1,
        >= 0x2010 and <= 0x201F => 1,
        >= 0x2032 and <= 0x2037 => 1,
        _ => 2,
    };

    /// <summary>A grapheme of several code points that forms one emoji: it counts 2, not the sum of its parts.</summary>
    private static bool IsEmojiSequence(string element)
    {
        if (element.Length < 2)
        {
            return false;
        }

        var runes = element.EnumerateRunes().Select(r => r.Value).ToArray();
        if (runes.Length < 2)
        {
            return runes.Length == 1 && runes[0] > 0xFFFF && IsPictographic(runes[0]);
        }

        var first = runes[0];
        var joinsOrModifies = runes.Any(r => r is 0x200D or 0xFE0F or 0x20E3 or (>= 0x1F3FB and <= 0x1F3FF) or (>= 0xE0020 and <= 0xE007F));
        var keycap = first is '#' or '*' or (>= '0' and <= '9') && runes.Contains(0x20E3);
        var flag = runes.All(r => r is >= 0x1F1E6 and <= 0x1F1FF);
        return flag || keycap || (joinsOrModifies && (IsPictographic(first) || first >= 0x00A9));
    }

    private static bool IsPictographic(int codePoint) =>
        codePoint is (>= 0x1F000 and <= 0x1FAFF) or (>= 0x2600 and <= 0x27BF) or (>= 0x2300 and <= 0x23FF)
            or (>= 0x2B00 and <= 0x2BFF) or 0x00A9 or 0x00AE or 0x203C or 0x2049 or 0x2122 or 0x2139 or (>= 0x2194 and <= 0x21AA);

    // Scheme URLs, or bare domains under common TLDs; trailing punctuation is not part of a URL.
    [GeneratedRegex("""
        (?<![\w@.])
        (?:
            https?://[^\s<>"]+?
          | (?:www\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:com|net|org|io|co|dev|app|ai|me|ly|gg|tv|info|biz|xyz|tech|news|blog|shop|site|online|store|cloud|edu|gov|uk|de|fr|es|it|nl|jp|cn|in|br|ru|ca|au|us|eu|ch|se|no|fi|dk|pl|be|at|ie|nz|mx|ar|kr|tw|hk|sg|za)
            (?::\d{1,5})?(?:/[^\s<>"]*?)?
        )
        (?=[.,:;!?'")\]]*(?:\s|$))
        """, RegexOptions.IgnoreCase | RegexOptions.IgnorePatternWhitespace | RegexOptions.CultureInvariant)]
    private static partial Regex UrlPattern();
}
