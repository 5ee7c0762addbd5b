using System.Text;
using XGrowth.Api.Posts;

namespace XGrowth.Tests.Posts.Length;

/// <summary>
/// NFC as Node's <c>String.prototype.normalize()</c> does it, for every code point on its own and after a base with
/// marks of other classes, and for the marks Unicode added after the ICU of older hosts.
/// </summary>
public class NfcTests
{
    [Theory]
    [InlineData("cafe\u0301", "café")]
    [InlineData("\u1100\u1161\u11A8", "각")] // Hangul jamo compose
    [InlineData("a\u0316\u0301\u0300", "\u00E1\u0316\u0300")] // ordered by class, then the first mark not blocked composes
    [InlineData("e\u0301\u0301", "é\u0301")]
    [InlineData("\u0344", "\u0308\u0301")] // a mark that decomposes
    [InlineData("\u212B", "Å")] // a singleton
    [InlineData("\uD800\u0301", "\uD800\u0301")] // a lone surrogate stays
    [InlineData("\uFFFEe\u0301", "\uFFFEé")]
    [InlineData("\U000105D2\u0307", "\U000105C9")] // Unicode 16 (Vithkuqi), unknown to ICU 72
    public void Normalizes_as_node_does(string text, string expected) => Assert.Equal(expected, PostText.Normalize(text));

    [Fact]
    public void A_64_KiB_run_of_marks_in_reverse_order_is_sorted_in_linear_time()
    {
        var text = "e" + string.Concat(Enumerable.Repeat("\u0301\u0316", 32_000));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var normalized = PostText.Normalize(text);
        Assert.True(System.Diagnostics.Stopwatch.GetElapsedTime(started) < TimeSpan.FromMilliseconds(500));
        Assert.Equal("é" + new string('\u0316', 32_000) + new string('\u0301', 31_999), normalized);
    }

    [Fact]
    public async Task Every_code_point_alone_and_among_marks_normalizes_as_node_does()
    {
        var nodeModules = AgainstNodeTests.RequireReference();
        var texts = new List<string>();
        for (var codePoint = 0; codePoint <= 0x10FFFF; codePoint++)
        {
            if (codePoint is >= 0xD800 and <= 0xDFFF)
            {
                continue;
            }

            var s = char.ConvertFromUtf32(codePoint);
            // Only code points NFC touches can differ: those ours or the host's ICU touches (a sample of the rest),
            // each alone and with a base before and marks of other classes around.
            if (Touched(PostText.Normalize, s) || Touched(HostNormalize, s) || codePoint % 251 == 0)
            {
                texts.Add(s);
                texts.Add("a" + s + "\u0334\u0301" + s + "\u0345");
                texts.Add(s + "\u0301\u0316" + s + "\u0F71");
            }
        }

        static bool Touched(Func<string, string> normalize, string s) =>
            normalize(s) != s || normalize("a" + s + "\u0334") != "a" + s + "\u0334" || normalize("a\u0345" + s) != "a\u0345" + s;

        static string HostNormalize(string s)
        {
            try
            {
                return s.Normalize(NormalizationForm.FormC);
            }
            catch (ArgumentException)
            {
                return s; // a noncharacter
            }
        }

        // Node's NFC of each text, as twitter-text would count it: the text itself when Node leaves it unchanged.
        var expected = await TwitterTextNode.NormalizeAsync(nodeModules, texts, TestContext.Current.CancellationToken);
        var differing = texts.Select((t, i) => (Text: t, Expected: expected[i])).Where(p => PostText.Normalize(p.Text) != p.Expected).ToList();
        Assert.True(differing.Count == 0, $"{differing.Count} of {texts.Count} differ: " + string.Join(", ", differing.Take(10).Select(d => AgainstNodeTests.Escape(d.Text))));
    }
}
