using System.Text;
using System.Text.RegularExpressions;

namespace XGrowth.Api.Posts.Length;

/// <summary>
/// twitter-text 3.1.0's <c>parseTweet(text)</c> with its default (version 3) configuration: the weighted length
/// and whether X accepts the text. A port of its loop, over the same UTF-16 code units, with the same quirks.
/// </summary>
internal static class TweetParser
{
    private const int Scale = 100;
    private const int DefaultWeight = 200;
    private const int TransformedUrlLength = 23;
    public const int MaxWeightedTweetLength = 280;

    // twemoji-parser's pattern has no unbounded repetition, so matching is linear in the text whatever the engine;
    // the timeout only guards against a future pattern that would not be.
    private static readonly Regex Emoji = new(TwitterTextData.Instance.EmojiPattern,
        RegexOptions.Compiled | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static (int WeightedLength, bool Valid) Parse(string text)
    {
        var normalized = Normalize(text);
        var urls = new List<UrlEntity>();
        UrlExtractor.Extract(normalized, urls);
        var urlAt = new Dictionary<int, int>(urls.Count);
        foreach (var url in urls)
        {
            urlAt[url.Start] = url.Length;
        }

        var emojiAt = new Dictionary<int, int>();
        foreach (System.Text.RegularExpressions.Match emoji in Emoji.Matches(normalized))
        {
            emojiAt[emoji.Index] = emoji.Length;
        }

        long weighted = 0;
        var valid = true;
        var data = TwitterTextData.Instance;
        for (var i = 0; i < normalized.Length; i++)
        {
            if (urlAt.TryGetValue(i, out var urlLength))
            {
                weighted += TransformedUrlLength * Scale;
                i += urlLength - 1;
            }
            else if (emojiAt.TryGetValue(i, out var emojiLength))
            {
                weighted += DefaultWeight;
                i += emojiLength - 1;
            }
            else
            {
                // A surrogate pair weighs as its low surrogate (outside every range: 2).
                if (char.IsSurrogatePair(normalized, i))
                {
                    i++;
                }

                weighted += Weight(normalized[i]);
            }

            // twitter-text tests only the last code unit of each step for U+FFFE, U+FEFF, U+FFFF.
            if (valid && i < normalized.Length && data.Is(normalized[i], CharClass.Invalid))
            {
                valid = false;
            }
        }

        var length = (int)(weighted / Scale);
        return (length, valid && length > 0 && length <= MaxWeightedTweetLength);
    }

    private static int Weight(char c) => c switch
    {
        <= '\u10FF' => 100,
        >= '\u2000' and <= '\u200D' => 100,
        >= '\u2010' and <= '\u201F' => 100,
        >= '\u2032' and <= '\u2037' => 100,
        _ => DefaultWeight,
    };

    /// <summary>
    /// NFC, as JavaScript's <c>String.prototype.normalize()</c>. .NET refuses to normalize a string holding a lone
    /// surrogate or a noncharacter (U+FFFE, U+FFFF, U+FDD0–U+FDEF...), JavaScript keeps them: they stay as they are and
    /// the text on either side is normalized on its own, which is the same, since such a code point is a starter
    /// that composes with nothing.
    /// </summary>
    public static string Normalize(string text)
    {
        var i = 0;
        while (i < text.Length && text[i] < '\u0300')
        {
            i++;
        }

        if (i == text.Length)
        {
            return text; // below U+0300 nothing decomposes or combines
        }

        StringBuilder? result = null;
        var segmentStart = 0;
        for (i = 0; i < text.Length; i++)
        {
            var width = char.IsSurrogatePair(text, i) ? 2 : 1;
            var codePoint = width == 2 ? char.ConvertToUtf32(text[i], text[i + 1]) : text[i];
            if (char.IsSurrogate(text[i]) && width == 1 || codePoint is >= 0xFDD0 and <= 0xFDEF || (codePoint & 0xFFFE) == 0xFFFE)
            {
                result ??= new StringBuilder(text.Length);
                result.Append(text.AsSpan(segmentStart, i - segmentStart).ToString().Normalize(NormalizationForm.FormC)).Append(text, i, width);
                segmentStart = i + width;
            }

            i += width - 1;
        }

        return result is null
            ? text.Normalize(NormalizationForm.FormC)
            : result.Append(text.AsSpan(segmentStart).ToString().Normalize(NormalizationForm.FormC)).ToString();
    }
}
