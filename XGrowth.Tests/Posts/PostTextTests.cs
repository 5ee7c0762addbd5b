using XGrowth.Api.Posts;

namespace XGrowth.Tests.Posts;

/// <summary>
/// Fixed expectations, each one what twitter-text 3.1.0's <c>parseTweet</c> answers under Node, so that the
/// counting is also checked where Node is not installed (Posts/Length has the conformance cases and the comparison
/// with Node itself).
/// </summary>
public class PostTextTests
{
    [Theory]
    [InlineData("hello", 5)]
    [InlineData("café", 4)]
    [InlineData("cafe\u0301", 4)] // decomposed: NFC makes it 4
    [InlineData("日本語", 6)]
    [InlineData("😀", 2)]
    [InlineData("👍🏽", 2)] // skin tone modifier
    [InlineData("👨‍👩‍👧‍👦", 2)] // ZWJ family
    [InlineData("🇩🇪", 2)] // flag
    [InlineData("1️⃣", 2)] // keycap
    [InlineData("“quotes” – dash…", 17)] // U+2013, U+201C, U+201D weigh 1; the ellipsis U+2026 is outside the ranges: 2
    [InlineData("see https://example.com/a/very/long/path/that/goes/on/and/on/and/on/forever?with=query", 27)]
    [InlineData("https://t.co", 23)]
    [InlineData("https://t.co/abc/def", 27)] // a t.co URL ends with its slug
    [InlineData("visit example.com.", 6 + 23 + 1)]
    [InlineData("example.ninja", 23)] // any TLD of twitter-text's lists
    [InlineData("-example.com", 12)] // not a URL after '-', '_', '.' or '/' without a scheme
    [InlineData("node.js and file.txt", 20)] // not domains
    [InlineData("mail me@example.com", 19)] // an email address is not a URL
    [InlineData("   ", 3)]
    public void Weighted_length_follows_twitter_text(string text, int expected) => Assert.Equal(expected, PostText.WeightedLength(text));

    [Fact]
    public void Every_url_counts_23_whatever_its_length_up_to_twitter_text_s_maximum()
    {
        Assert.Equal(4 + 23, PostText.WeightedLength("a https://x.co/b c"));
        Assert.Equal(4 + 23, PostText.WeightedLength("a https://example.com/" + new string('p', 500) + " c"));
        // Over 4096 characters (with the scheme counted twice, as twitter-text does) it is no URL at all.
        Assert.Equal(5012, PostText.WeightedLength("example.com/" + new string('a', 5000)));
    }

    [Fact]
    public void A_domain_label_over_63_characters_is_no_url()
    {
        Assert.Equal(23, PostText.WeightedLength("https://" + new string('a', 63) + ".com"));
        Assert.Equal(76, PostText.WeightedLength("https://" + new string('a', 64) + ".com"));
    }

    [Fact]
    public void Findings_of_the_attack_report_count_as_x_counts_them()
    {
        Assert.Equal(new PostLength(30_003, false), PostText.Parse("é\uFE0F" + new string('\u0301', 30_000)));
        Assert.Equal(new PostLength(60_008, false), PostText.Parse("https://" + new string('a', 60_000)));
        Assert.Equal(new PostLength(40_008, false), PostText.Parse("http://x" + new string('中', 20_000)));
        Assert.Equal(new PostLength(63_501, false), PostText.Parse(string.Concat(Enumerable.Repeat("a.co/", 12_700)) + "<"));
    }

    [Theory]
    [InlineData("", 0, false)]
    [InlineData("a\uFEFFb", 4, false)] // U+FEFF, U+FFFE and U+FFFF are refused
    [InlineData("a\uFFFE", 3, false)]
    [InlineData("x", 1, true)]
    public void Valid_means_not_empty_within_the_limit_and_no_invalid_characters(string text, int length, bool valid) =>
        Assert.Equal(new PostLength(length, valid), PostText.Parse(text));

    [Fact]
    public void Exactly_280_is_valid_and_281_is_not()
    {
        Assert.Equal(new PostLength(280, true), PostText.Parse(new string('a', 280)));
        Assert.Equal(new PostLength(281, false), PostText.Parse(new string('a', 281)));
        Assert.Equal(new PostLength(280, true), PostText.Parse(new string('中', 140)));
    }
}
