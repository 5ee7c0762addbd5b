namespace XGrowth.Api.Posts.Length;

/// <summary>
/// twitter-text 3.1.0's <c>parseTweet(text)</c> with its default (version 3) configuration: the weighted length
/// and whether X accepts the text. A port of its loop, over the same UTF-16 code units, with the same quirks.
/// </summary>
internal static class TweetParser
{
    private const int Scale = 100;
    private const int DefaultWeight = 200;
    public const int TransformedUrlLength = 23;
    public const int MaxWeightedTweetLength = 280;

    [ThreadStatic]
    private static List<UrlEntity>? t_urls;

    [ThreadStatic]
    private static List<(int Start, int Length)>? t_emoji;

    public static (int WeightedLength, bool Valid) Parse(string text)
    {
        var normalized = Normalize(text);
        // Reused per thread: a 64 KiB text can hold tens of thousands of entities, lists the large object heap
        // would otherwise take (and collect) on every request.
        var urls = t_urls ??= [];
        var emoji = t_emoji ??= [];
        urls.Clear();
        emoji.Clear();
        UrlExtractor.Extract(normalized, urls);
        EmojiMatcher.Instance.Matches(normalized, emoji);

        // twitter-text looks entities up by their start (a URL first); both lists are in order of their start.
        var nextUrl = 0;
        var nextEmoji = 0;
        long weighted = 0;
        var valid = true;
        var data = TwitterTextData.Instance;
        for (var i = 0; i < normalized.Length; i++)
        {
            while (nextUrl < urls.Count && urls[nextUrl].Start < i)
            {
                nextUrl++;
            }

            while (nextEmoji < emoji.Count && emoji[nextEmoji].Start < i)
            {
                nextEmoji++;
            }

            if (nextUrl < urls.Count && urls[nextUrl].Start == i)
            {
                weighted += TransformedUrlLength * Scale;
                i += urls[nextUrl].Length - 1;
            }
            else if (nextEmoji < emoji.Count && emoji[nextEmoji].Start == i)
            {
                weighted += DefaultWeight;
                i += emoji[nextEmoji].Length - 1;
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

    /// <summary>NFC, as JavaScript's <c>String.prototype.normalize()</c> in Node (see <see cref="Nfc"/>).</summary>
    public static string Normalize(string text) => Nfc.Instance.Normalize(text);
}
