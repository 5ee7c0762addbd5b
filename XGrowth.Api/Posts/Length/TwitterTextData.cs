using System.Globalization;
using System.Reflection;

namespace XGrowth.Api.Posts.Length;

/// <summary>
/// The tables of twitter-text 3.1.0 that the length counter needs: its TLD lists, the character classes of its URL
/// pattern and twemoji-parser's emoji pattern, read from the embedded files in <c>Data/</c>, which
/// <c>Data/generate.js</c> writes from the npm package (see there to regenerate them on a new release).
/// </summary>
internal sealed class TwitterTextData
{
    public static TwitterTextData Instance { get; } = Load();

    private readonly ushort[] _classes = new ushort[0x10000];
    private readonly char[] _fold = new char[0x10000];

    private TwitterTextData(TldTrie generic, TldTrie countryCode, string emojiPattern)
    {
        GenericTlds = generic;
        CountryCodeTlds = countryCode;
        EmojiPattern = emojiPattern;
    }

    public TldTrie GenericTlds { get; }

    public TldTrie CountryCodeTlds { get; }

    /// <summary>twemoji-parser's pattern (JavaScript syntax that .NET reads the same: UTF-16 code units, no flags).</summary>
    public string EmojiPattern { get; }

    public bool Is(char c, CharClass charClass) => (_classes[c] & (ushort)charClass) != 0;

    public CharClass ClassesOf(char c) => (CharClass)_classes[c];

    /// <summary>
    /// The literal a code unit matches case-insensitively in twitter-text's patterns (<c>K</c> → <c>k</c>, <c>Ö</c> →
    /// <c>ö</c>), or the code unit itself: comparing folded text with a pattern's lowercase literals is V8's
    /// case-insensitive comparison.
    /// </summary>
    public char Fold(char c) => _fold[c];

    private static TwitterTextData Load()
    {
        var generic = new TldTrie();
        var countryCode = new TldTrie();
        TldTrie? current = null;
        foreach (var line in ReadLines("tlds.txt"))
        {
            if (line == "[generic]")
            {
                current = generic;
            }
            else if (line == "[country-code]")
            {
                current = countryCode;
            }
            else
            {
                (current ?? throw new InvalidDataException("tlds.txt: a TLD before its section")).Add(line);
            }
        }

        var data = new TwitterTextData(generic, countryCode, string.Join('\n', ReadLines("emoji-pattern.txt")));
        for (var c = 0; c < 0x10000; c++)
        {
            data._fold[c] = (char)c;
        }

        foreach (var line in ReadLines("char-classes.txt"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields[0] == "literal")
            {
                var literal = (char)int.Parse(fields[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                foreach (var c in CodeUnits(fields.AsSpan(2)))
                {
                    data._fold[c] = literal;
                }

                continue;
            }

            var charClass = fields[0] switch
            {
                "url-preceding" => CharClass.UrlPreceding,
                "domain" => CharClass.Domain,
                "path" => CharClass.Path,
                "path-ending" => CharClass.PathEnding,
                "query" => CharClass.Query,
                "query-ending" => CharClass.QueryEnding,
                "ascii-domain" => CharClass.AsciiDomain,
                "punycode" => CharClass.Punycode,
                "tco-slug" => CharClass.TcoSlug,
                "digit" => CharClass.Digit,
                "invalid" => CharClass.Invalid,
                _ => throw new InvalidDataException($"char-classes.txt: unknown class {fields[0]}"),
            };
            foreach (var c in CodeUnits(fields.AsSpan(1)))
            {
                data._classes[c] |= (ushort)charClass;
            }
        }

        // The scanner relies on these inclusions of the pattern's classes (an ending character is also a path
        // character, and so on); a new release that broke one would need a new scanner, not silently wrong lengths.
        for (var c = 0; c < 0x10000; c++)
        {
            var ch = (char)c;
            if ((data.Is(ch, CharClass.PathEnding) && !data.Is(ch, CharClass.Path))
                || (data.Is(ch, CharClass.QueryEnding) && !data.Is(ch, CharClass.Query))
                || (data.Is(ch, CharClass.Path) && ch is '(' or ')' or '?')
                || (data.Is(ch, CharClass.Domain) && ch is '.' or '_' or '-' or '/' or ':' or '@')
                || (data.Is(ch, CharClass.AsciiDomain) && ch == '.'))
            {
                throw new InvalidDataException($"char-classes.txt: U+{c:X4} breaks an assumption of UrlExtractor");
            }
        }

        return data;
    }

    private static IEnumerable<char> CodeUnits(ReadOnlySpan<string> ranges)
    {
        var result = new List<char>();
        foreach (var range in ranges)
        {
            var dash = range.IndexOf('-', StringComparison.Ordinal);
            var first = int.Parse(dash < 0 ? range : range[..dash], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var last = dash < 0 ? first : int.Parse(range[(dash + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            for (var c = first; c <= last; c++)
            {
                result.Add((char)c);
            }
        }

        return result;
    }

    private static IEnumerable<string> ReadLines(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("XGrowth.Api.Posts.Length.Data." + name)
            ?? throw new InvalidDataException($"embedded resource {name} is missing");
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0 && !line.StartsWith('#'))
            {
                lines.Add(line);
            }
        }

        return lines;
    }
}

[Flags]
internal enum CharClass : ushort
{
    UrlPreceding = 1 << 0,
    Domain = 1 << 1,
    Path = 1 << 2,
    PathEnding = 1 << 3,
    Query = 1 << 4,
    QueryEnding = 1 << 5,
    AsciiDomain = 1 << 6,
    Punycode = 1 << 7,
    TcoSlug = 1 << 8,
    Digit = 1 << 9,
    Invalid = 1 << 10,
}

/// <summary>One of twitter-text's TLD alternations, as a trie of case-folded characters.</summary>
internal sealed class TldTrie
{
    private readonly Node _root = new();
    // The root's children by code unit: most positions start no TLD, and this says so in one load.
    private readonly Node?[] _first = new Node?[0x10000];
    private int _count;

    public int MaxLength { get; private set; }

    public void Add(string tld)
    {
        var node = _root;
        foreach (var c in tld)
        {
            node.Children ??= [];
            if (!node.Children.TryGetValue(c, out var child))
            {
                child = new Node();
                node.Children.Add(c, child);
                if (node == _root)
                {
                    _first[c] = child;
                }
            }

            node = child;
        }

        // The first of two equal entries is the one the alternation would take.
        if (node.Order < 0)
        {
            node.Order = _count;
        }

        _count++;
        MaxLength = Math.Max(MaxLength, tld.Length);
    }

    /// <summary>
    /// The length of the alternative the pattern takes at <paramref name="start"/> (the first in list order whose
    /// match is followed by <c>(?=[^0-9a-zA-Z@+-]|$)</c>, <c>$</c> being <paramref name="end"/>), or -1.
    /// </summary>
    public int Match(string text, int start, int end, TwitterTextData data)
    {
        var bestOrder = int.MaxValue;
        var bestLength = -1;
        var node = start < end ? _first[data.Fold(text[start])] : null;
        for (var i = start; node is not null; i++)
        {
            if (node.Order >= 0 && node.Order < bestOrder && (i + 1 == end || !IsAsciiWordOrSign(text[i + 1])))
            {
                bestOrder = node.Order;
                bestLength = i + 1 - start;
            }

            node = i + 1 < end && node.Children is not null && node.Children.TryGetValue(data.Fold(text[i + 1]), out var child) ? child : null;
        }

        return bestLength;
    }

    private static bool IsAsciiWordOrSign(char c) => char.IsAsciiLetterOrDigit(c) || c is '@' or '+' or '-';

    private sealed class Node
    {
        public Dictionary<char, Node>? Children;
        public int Order = -1;
    }
}
