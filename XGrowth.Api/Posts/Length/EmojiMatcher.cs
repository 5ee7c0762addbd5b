using System.Globalization;

namespace XGrowth.Api.Posts.Length;

/// <summary>
/// The matches of twemoji-parser's emoji pattern (which twitter-text's <c>parseTweet</c> counts 2 each), found
/// without a regular expression engine.
/// </summary>
/// <remarks>
/// The pattern has no repetition, so the strings it matches are a finite list. This class expands the pattern into
/// that list, in the order a backtracking engine tries them (alternatives left to right, an optional part first
/// taken, then left out), and keeps it in a trie: at a position the match is the first string of that order that
/// the text holds there. Scanning with .NET's Regex gives the same matches (a test compares them) but costs some
/// hundred nanoseconds per candidate position, tens of milliseconds for a 64 KiB text of digits or U+FE0F.
/// </remarks>
internal sealed class EmojiMatcher
{
    private const int MaxExpansions = 200_000;

    private readonly Node _root = new();
    // The root's children by code unit: most positions of a text start no emoji, and this says so in one load.
    private readonly Node?[] _first = new Node?[0x10000];

    public static EmojiMatcher Instance { get; } = new(TwitterTextData.Instance.EmojiPattern);

    public EmojiMatcher(string pattern)
    {
        var parser = new PatternParser(pattern);
        var expansions = parser.ParseAll();
        for (var priority = 0; priority < expansions.Count; priority++)
        {
            Add(expansions[priority], priority);
        }

        foreach (var (c, node) in _root.Children ?? [])
        {
            _first[c] = node;
        }
    }

    /// <summary>Leftmost, non-overlapping matches, as <c>regex.exec</c> with the global flag finds them.</summary>
    public void Matches(string text, List<(int Start, int Length)> matches)
    {
        for (var i = 0; i < text.Length;)
        {
            var length = MatchAt(text, i);
            if (length > 0)
            {
                matches.Add((i, length));
                i += length;
            }
            else
            {
                i++;
            }
        }
    }

    private int MatchAt(string text, int start)
    {
        var node = _first[text[start]];
        var bestPriority = int.MaxValue;
        var bestLength = 0;
        for (var i = start; node is not null; i++)
        {
            foreach (var (priority, forbidden) in node.Ends)
            {
                // A lookahead (?!c) after the match: the next code unit must not be c.
                if (priority < bestPriority && (forbidden < 0 || i + 1 >= text.Length || text[i + 1] != forbidden))
                {
                    bestPriority = priority;
                    bestLength = i + 1 - start;
                }
            }

            node = i + 1 < text.Length && node.Children is not null && node.Children.TryGetValue(text[i + 1], out var child) ? child : null;
        }

        return bestLength;
    }

    private void Add(List<Item> expansion, int priority)
    {
        var node = _root;
        var forbiddenNext = -1;
        var chars = new List<char>();
        foreach (var item in expansion)
        {
            if (item.IsLookahead)
            {
                // A lookahead in the middle is decided by the next character of the expansion itself.
                forbiddenNext = item.Char;
                continue;
            }

            if (forbiddenNext >= 0)
            {
                if (item.Char == forbiddenNext)
                {
                    return; // this expansion can never match
                }

                forbiddenNext = -1;
            }

            chars.Add(item.Char);
        }

        if (chars.Count == 0)
        {
            throw new InvalidDataException("the emoji pattern matches the empty string");
        }

        foreach (var c in chars)
        {
            node.Children ??= [];
            if (!node.Children.TryGetValue(c, out var child))
            {
                child = new Node();
                node.Children.Add(c, child);
            }

            node = child;
        }

        node.Ends.Add((priority, forbiddenNext));
    }

    private sealed class Node
    {
        public Dictionary<char, Node>? Children;
        public List<(int Priority, int ForbiddenNext)> Ends = [];
    }

    private readonly record struct Item(char Char, bool IsLookahead);

    /// <summary>
    /// Expands the subset of JavaScript pattern syntax the generated pattern uses: alternation, groups <c>(...)</c>,
    /// <c>(?:...)</c>, a one-character negative lookahead <c>(?!x)</c>, classes of characters and ranges, <c>\uXXXX</c>
    /// escapes and the quantifier <c>?</c>. Anything else is refused, so a new pattern cannot be misread silently.
    /// </summary>
    private sealed class PatternParser(string pattern)
    {
        private int _position;

        public List<List<Item>> ParseAll()
        {
            var result = Alternation();
            if (_position != pattern.Length)
            {
                throw Unsupported();
            }

            return result;
        }

        private List<List<Item>> Alternation()
        {
            var result = Sequence();
            while (_position < pattern.Length && pattern[_position] == '|')
            {
                _position++;
                result.AddRange(Sequence());
                Check(result);
            }

            return result;
        }

        private List<List<Item>> Sequence()
        {
            List<List<Item>> result = [[]];
            while (_position < pattern.Length && pattern[_position] is not ('|' or ')'))
            {
                var atom = Atom();
                if (_position < pattern.Length && pattern[_position] == '?')
                {
                    _position++;
                    atom.Add([]); // greedy: with the part first, then without
                }
                else if (_position < pattern.Length && pattern[_position] is '*' or '+' or '{')
                {
                    throw Unsupported();
                }

                var product = new List<List<Item>>(result.Count * atom.Count);
                foreach (var prefix in result)
                {
                    foreach (var suffix in atom)
                    {
                        product.Add([.. prefix, .. suffix]);
                    }
                }

                result = product;
                Check(result);
            }

            return result;
        }

        private List<List<Item>> Atom()
        {
            var c = pattern[_position];
            if (c == '(')
            {
                _position++;
                if (pattern.AsSpan(_position).StartsWith("?!"))
                {
                    _position += 2;
                    var inner = Alternation();
                    Expect(')');
                    if (inner.Count != 1 || inner[0].Count != 1 || inner[0][0].IsLookahead)
                    {
                        throw Unsupported();
                    }

                    return [[new Item(inner[0][0].Char, IsLookahead: true)]];
                }

                if (pattern.AsSpan(_position).StartsWith("?:"))
                {
                    _position += 2;
                }
                else if (pattern[_position] == '?')
                {
                    throw Unsupported();
                }

                var group = Alternation();
                Expect(')');
                return group;
            }

            if (c == '[')
            {
                _position++;
                if (pattern[_position] == '^')
                {
                    throw Unsupported();
                }

                var members = new List<List<Item>>();
                while (pattern[_position] != ']')
                {
                    var first = Character();
                    var last = first;
                    if (pattern[_position] == '-' && pattern[_position + 1] != ']')
                    {
                        _position++;
                        last = Character();
                    }

                    for (var member = first; member <= last; member++)
                    {
                        members.Add([new Item(member, IsLookahead: false)]);
                    }
                }

                _position++;
                return members;
            }

            if (c is '.' or '^' or '$' or '*' or '+' or '{' or '}' or ']' or '?')
            {
                throw Unsupported();
            }

            return [[new Item(Character(), IsLookahead: false)]];
        }

        private char Character()
        {
            var c = pattern[_position++];
            if (c != '\\')
            {
                return c;
            }

            var escaped = pattern[_position++];
            if (escaped == 'u')
            {
                var value = int.Parse(pattern.AsSpan(_position, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                _position += 4;
                return (char)value;
            }

            // \d, \w, \b and the like mean classes or assertions; an escaped punctuation mark means itself.
            return char.IsAsciiLetterOrDigit(escaped) ? throw Unsupported() : escaped;
        }

        private void Expect(char c)
        {
            if (_position >= pattern.Length || pattern[_position] != c)
            {
                throw Unsupported();
            }

            _position++;
        }

        private static void Check(List<List<Item>> expansions)
        {
            if (expansions.Count > MaxExpansions)
            {
                throw new InvalidDataException("the emoji pattern expands to too many strings");
            }
        }

        private InvalidDataException Unsupported() =>
            new($"emoji-pattern.txt: unsupported syntax at {_position}: {pattern.AsSpan(_position, Math.Min(20, pattern.Length - _position))}");
    }
}
