using XGrowth.Api.Posts;

namespace XGrowth.Tests.Posts;

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
    [InlineData("visit example.com.", 6 + 23 + 1)]
    [InlineData("node.js and file.txt", 20)] // not domains
    [InlineData("mail me@example.com", 19)] // an email address is not a URL
    public void Weighted_length_follows_twitter_text(string text, int expected) => Assert.Equal(expected, PostText.WeightedLength(text));

    [Fact]
    public void Every_url_counts_23_whatever_its_length()
    {
        var shortUrl = PostText.WeightedLength("a https://x.co/b c");
        var longUrl = PostText.WeightedLength("a https://example.com/" + new string('p', 500) + " c");
        Assert.Equal(shortUrl, longUrl);
        Assert.Equal(4 + 23, longUrl);
    }
}
