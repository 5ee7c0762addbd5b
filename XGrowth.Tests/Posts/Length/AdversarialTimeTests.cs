using System.Diagnostics;
using XGrowth.Api.Posts;

namespace XGrowth.Tests.Posts.Length;

/// <summary>
/// Texts up to the 64 KiB body limit built to make a backtracking URL pattern rescan the rest of the text from each
/// position: counted in linear time they take well under a few milliseconds (bench/PostTextBench measures them);
/// the bound here is generous because CI machines are noisy.
/// </summary>
public class AdversarialTimeTests
{
    private const int Size = 64 * 1024;

    public static TheoryData<string> Inputs() => [.. AdversarialTexts.All(Size).Select(t => t.Name)];

    [Theory]
    [MemberData(nameof(Inputs))]
    public void A_64_KiB_text_is_counted_in_linear_time(string name)
    {
        var text = AdversarialTexts.All(Size).Single(t => t.Name == name).Text;
        PostText.Parse(text); // JIT and tables

        var best = TimeSpan.MaxValue;
        for (var run = 0; run < 3; run++)
        {
            var started = Stopwatch.GetTimestamp();
            PostText.Parse(text);
            var elapsed = Stopwatch.GetElapsedTime(started);
            best = elapsed < best ? elapsed : best;
        }

        Assert.True(best < TimeSpan.FromMilliseconds(200), $"{name}: {best.TotalMilliseconds:F1} ms for {text.Length} characters");
    }
}
