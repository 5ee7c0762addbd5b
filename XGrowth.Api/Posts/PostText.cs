using XGrowth.Api.Posts.Length;

namespace XGrowth.Api.Posts;

/// <summary>
/// The length of a post as X counts it: exactly twitter-text 3's <c>parseTweet(text)</c> (<c>weightedLength</c>
/// and <c>valid</c>). NFC first; code points in U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F and U+2032–U+2037 weigh
/// 1, all others 2; an emoji sequence twitter-text recognizes weighs 2; a URL its extractor recognizes weighs 23.
/// </summary>
/// <remarks>
/// The port lives in <c>Length/</c>; it is checked against twitter-text's conformance cases and against the npm
/// package itself on thousands of generated texts (XGrowth.Tests/Posts/Length).
/// </remarks>
public static class PostText
{
    public const int MaxWeightedLength = TweetParser.MaxWeightedTweetLength;
    public const int UrlWeight = TweetParser.TransformedUrlLength;

    public static string Normalize(string text) => TweetParser.Normalize(text);

    /// <summary>The weighted length of <paramref name="text"/> (normalized to NFC first).</summary>
    public static int WeightedLength(string text) => Parse(text).WeightedLength;

    /// <summary>
    /// twitter-text's verdict on <paramref name="text"/>: its weighted length, and whether it is valid (not empty,
    /// at most <see cref="MaxWeightedLength"/>, no U+FFFE, U+FEFF or U+FFFF). Whitespace alone is valid for
    /// twitter-text; the API refuses it on its own.
    /// </summary>
    public static PostLength Parse(string text)
    {
        var (weightedLength, valid) = TweetParser.Parse(text);
        return new PostLength(weightedLength, valid);
    }
}

/// <summary>What <see cref="PostText.Parse"/> says about a text.</summary>
public readonly record struct PostLength(int WeightedLength, bool Valid);
