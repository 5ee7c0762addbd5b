using System.Text;
using System.Text.RegularExpressions;
using XGrowth.Api.Posts.Length;

namespace XGrowth.Tests.Posts.Length;

/// <summary>
/// The emoji matcher finds what twemoji-parser's pattern finds when a backtracking engine runs it (.NET's Regex
/// reads this pattern as JavaScript does: UTF-16 code units, same alternation order, same lookahead).
/// </summary>
public class EmojiMatcherTests
{
    [Fact]
    public void Matches_are_those_of_the_pattern_run_by_a_regex_engine()
    {
        var regex = new Regex(TwitterTextData.Instance.EmojiPattern, RegexOptions.CultureInvariant);
        var alphabet = Alphabet(regex);
        var random = new Random(20_260_101);
        for (var sample = 0; sample < 20_000; sample++)
        {
            var text = new StringBuilder();
            for (var length = random.Next(1, 12); length > 0; length--)
            {
                text.Append(alphabet[random.Next(alphabet.Count)]);
            }

            var s = text.ToString();
            var expected = regex.Matches(s).Select(m => (m.Index, m.Length)).ToList();
            var actual = new List<(int, int)>();
            EmojiMatcher.Instance.Matches(s, actual);
            Assert.True(expected.SequenceEqual(actual), $"{AgainstNodeTests.Escape(s)}: regex {string.Join(' ', expected)}, matcher {string.Join(' ', actual)}");
        }
    }

    /// <summary>Every code unit of the pattern, whole emoji sequences from it, and a few that are not in it.</summary>
    private static List<string> Alphabet(Regex regex)
    {
        var units = new HashSet<char>(TwitterTextData.Instance.EmojiPattern.Where(c => c > 0x7F));
        foreach (Match escape in Regex.Matches(TwitterTextData.Instance.EmojiPattern, @"\\u([0-9a-fA-F]{4})"))
        {
            units.Add((char)Convert.ToInt32(escape.Groups[1].Value, 16));
        }

        var alphabet = units.Select(c => c.ToString()).ToList();
        alphabet.AddRange(["#", "*", "0", "7", "a", " ", "\uFE0E", "\uFE0F", "\u200D", "\u20E3", "\uD83C\uDFFB", "\uD83D\uDC68", "\uD83D\uDC69",
            "\uD83C\uDDE9\uD83C\uDDEA", "\uD83C\uDFF4", "\uDB40\uDC67", "\uDB40\uDC7F", "\u2640", "\u2642", "\u2764", "\u26F9"]);
        var sequences = new[] { "👨‍👩‍👧‍👦", "👩‍❤️‍💋‍👨", "🏳️‍🌈", "🏴‍☠️", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "👨🏽‍🚀", "🏋️‍♀️", "🏃🏽‍♂️", "1️⃣", "#⃣", "©️", "☺️", "👍🏽", "🇯🇵" };
        foreach (var sequence in sequences)
        {
            Assert.True(regex.IsMatch(sequence), sequence);
            alphabet.Add(sequence);
            alphabet.Add(sequence[..^1]);
        }

        return alphabet;
    }
}
