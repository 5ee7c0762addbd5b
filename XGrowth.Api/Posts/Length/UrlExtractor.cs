using System.Buffers;

namespace XGrowth.Api.Posts.Length;

/// <summary>A URL as twitter-text's <c>parseTweet</c> counts it: where it starts and how many code units it skips.</summary>
internal readonly record struct UrlEntity(int Start, int Length);

/// <summary>
/// twitter-text 3.1.0's <c>extractUrlsWithIndices(text)</c> (URLs with and without a scheme), in linear time.
/// </summary>
/// <remarks>
/// <para>
/// Written by hand because no .NET port of twitter-text is maintained (none is on the package feed), running the
/// JavaScript under Jint would be as slow as the JavaScript, and its <c>extractUrl</c> pattern backtracks: a text of
/// many <c>a.co/</c> costs time quadratic in its length there (each start position rescans the rest). This scanner
/// gives the matches that pattern gives under JavaScript's rules (leftmost start, then the first alternative and the
/// greediest repetition that lead to a match), derived piece by piece below, from tables computed once per text:
/// every position is looked at a bounded number of times.
/// </para>
/// <para>
/// The pattern, in twitter-text's names: <c>(before)(url: (https?://)? (domain) (:port)? (/path)? (?query)?)</c>;
/// <c>domain</c> is <c>(subdomain.)* domainName. tld</c>, <c>tld</c> the generic list, then the country-code list
/// (each followed by <c>(?=[^0-9a-zA-Z@+-]|$)</c>), then <c>xn--[-0-9a-z]+</c>. Everything after the domain is
/// optional, so the first way the engine finds to match the domain decides the match.
/// </para>
/// </remarks>
internal sealed class UrlExtractor
{
    private const int MaxUrlLength = 4096;
    private const int MaxTcoSlugLength = 40;
    private const int MaxDomainLabelLength = 63;
    private const int DefaultProtocolLength = 8; // "https://"

    private readonly TwitterTextData _data = TwitterTextData.Instance;
    private readonly string _text;
    private readonly int _n;

    // End of the run of label characters ([domain _ -]) that starts at i.
    private readonly int[] _labelRunEnd;
    // First '_' at or after i.
    private readonly int[] _nextUnderscore;
    // End of the domain the pattern matches from i (subdomains, name, TLD), or -1. Filled right to left.
    private readonly int[] _domainEnd;
    // End of the run of path characters that starts at i.
    private readonly int[] _pathRunEnd;
    // Last path-ending character at or before i within the run of path characters around it, or -1.
    private readonly int[] _lastPathEnding;
    // ChainLastEnding by position, or Unknown.
    private readonly int[] _chainLastEnding;
    private const int Unknown = -2;
    // Buffers of AsciiDomains, reused from match to match.
    private int[] _asciiDomainEnd = new int[64];
    private readonly List<(int Start, int Length)> _asciiDomains = [];
    private readonly List<int> _chain = [];

    private UrlExtractor(string text)
    {
        _text = text;
        _n = text.Length;
        _labelRunEnd = ArrayPool<int>.Shared.Rent(_n + 1);
        _nextUnderscore = ArrayPool<int>.Shared.Rent(_n + 1);
        _domainEnd = ArrayPool<int>.Shared.Rent(_n + 1);
        _pathRunEnd = ArrayPool<int>.Shared.Rent(_n + 1);
        _lastPathEnding = ArrayPool<int>.Shared.Rent(_n + 1);
        _chainLastEnding = ArrayPool<int>.Shared.Rent(_n + 1);
    }

    public static void Extract(string text, List<UrlEntity> urls)
    {
        // As twitter-text: without a '.' there is no URL.
        if (!text.Contains('.', StringComparison.Ordinal))
        {
            return;
        }

        var extractor = new UrlExtractor(text);
        try
        {
            extractor.Prepare();
            extractor.Run(urls);
        }
        finally
        {
            extractor.Return();
        }
    }

    private void Return()
    {
        ArrayPool<int>.Shared.Return(_labelRunEnd);
        ArrayPool<int>.Shared.Return(_nextUnderscore);
        ArrayPool<int>.Shared.Return(_domainEnd);
        ArrayPool<int>.Shared.Return(_pathRunEnd);
        ArrayPool<int>.Shared.Return(_lastPathEnding);
        ArrayPool<int>.Shared.Return(_chainLastEnding);
    }

    private bool Is(int i, CharClass charClass) => i < _n && _data.Is(_text[i], charClass);

    private bool IsChar(int i, char c) => i < _n && _text[i] == c;

    private bool IsFolded(int i, char literal) => i < _n && _data.Fold(_text[i]) == literal;

    private void Prepare()
    {
        _labelRunEnd[_n] = _n;
        _nextUnderscore[_n] = _n;
        _domainEnd[_n] = -1;
        _pathRunEnd[_n] = _n;
        _chainLastEnding[_n] = Unknown;
        for (var i = _n - 1; i >= 0; i--)
        {
            var c = _text[i];
            var classes = _data.ClassesOf(c);
            var labelChar = (classes & CharClass.Domain) != 0 || c is '_' or '-';
            _labelRunEnd[i] = labelChar ? _labelRunEnd[i + 1] : i;
            _nextUnderscore[i] = c == '_' ? i : _nextUnderscore[i + 1];
            _pathRunEnd[i] = (classes & CharClass.Path) != 0 ? _pathRunEnd[i + 1] : i;
            _domainEnd[i] = labelChar ? DomainEndFrom(i) : -1;
            _chainLastEnding[i] = Unknown;
        }

        var lastEnding = -1;
        for (var i = 0; i < _n; i++)
        {
            var classes = _data.ClassesOf(_text[i]);
            lastEnding = (classes & CharClass.PathEnding) != 0 ? i : (classes & CharClass.Path) != 0 ? lastEnding : -1;
            _lastPathEnding[i] = lastEnding;
        }
    }

    /// <summary>
    /// <c>(?:sub\.)*name\.tld</c> from <paramref name="x"/>. A label can only end at the '.' that ends its run, so
    /// the labels are fixed; the greedy <c>*</c> backtracks from the most labels to the fewest, so the deepest label
    /// <c>j</c> that is a valid name (no '_') and is followed by a TLD wins. Labels start and end with a domain
    /// character.
    /// </summary>
    private int DomainEndFrom(int x)
    {
        var d = _labelRunEnd[x];
        if (d == x || !Is(x, CharClass.Domain) || !Is(d - 1, CharClass.Domain) || !IsChar(d, '.'))
        {
            return -1;
        }

        var next = d + 1;
        if (_domainEnd[next] >= 0)
        {
            return _domainEnd[next];
        }

        if (_nextUnderscore[x] < d)
        {
            return -1;
        }

        var tld = TldLength(next, _n);
        return tld < 0 ? -1 : next + tld;
    }

    /// <summary>The TLD alternation at <paramref name="start"/>, <paramref name="end"/> standing for <c>$</c>.</summary>
    private int TldLength(int start, int end)
    {
        var length = _data.GenericTlds.Match(_text, start, end, _data);
        if (length < 0)
        {
            length = _data.CountryCodeTlds.Match(_text, start, end, _data);
        }

        if (length < 0 && start + 4 < end && IsFolded(start, 'x') && IsFolded(start + 1, 'n') && _text[start + 2] == '-' && _text[start + 3] == '-')
        {
            var i = start + 4;
            while (i < end && _data.Is(_text[i], CharClass.Punycode))
            {
                i++;
            }

            length = i > start + 4 ? i - start : -1;
        }

        return length;
    }

    private void Run(List<UrlEntity> urls)
    {
        var searchFrom = 0;
        while (true)
        {
            // Leftmost match: the preceding character is consumed (a URL starts right after it); at the very start
            // the engine tries that first and then ^ (a URL at 0).
            Match? match = null;
            for (var s = searchFrom; s < _n && match is null; s++)
            {
                if (_data.Is(_text[s], CharClass.UrlPreceding))
                {
                    match = MatchUrlAt(s + 1, s);
                }

                if (match is null && s == 0)
                {
                    match = MatchUrlAt(0, -1);
                }
            }

            if (match is not { } m)
            {
                return;
            }

            searchFrom = m.End;
            Accept(m, urls);
        }
    }

    private readonly record struct Match(int Before, int Start, int ProtocolLength, int DomainEnd, int PathLength, int End);

    private Match? MatchUrlAt(int u, int before)
    {
        if (u >= _n)
        {
            return null;
        }

        var protocol = ProtocolLength(u);
        var domainEnd = protocol > 0 && u + protocol < _n ? _domainEnd[u + protocol] : -1;
        if (domainEnd < 0)
        {
            // Without the (optional) protocol.
            protocol = 0;
            domainEnd = _domainEnd[u];
        }

        if (domainEnd < 0)
        {
            return null;
        }

        var p = domainEnd;
        if (IsChar(p, ':') && Is(p + 1, CharClass.Digit))
        {
            p++;
            while (Is(p, CharClass.Digit))
            {
                p++;
            }
        }

        var pathStart = p;
        if (IsChar(p, '/'))
        {
            p++;
            while (PathSegmentEnd(p) is var end and >= 0)
            {
                p = end;
            }
        }

        var pathLength = p - pathStart;
        if (IsChar(p, '?'))
        {
            p = QueryEnd(p, _n) is var end and >= 0 ? end : p;
        }

        return new Match(before, u, protocol, domainEnd, pathLength, p);
    }

    /// <summary><c>https?://</c> (case-insensitive) at <paramref name="u"/>: 8, 7 or 0.</summary>
    private int ProtocolLength(int u)
    {
        if (!(IsFolded(u, 'h') && IsFolded(u + 1, 't') && IsFolded(u + 2, 't') && IsFolded(u + 3, 'p')))
        {
            return 0;
        }

        var colon = IsFolded(u + 4, 's') ? u + 5 : u + 4;
        return IsChar(colon, ':') && IsChar(colon + 1, '/') && IsChar(colon + 2, '/') ? colon + 3 - u : 0;
    }

    /// <summary>
    /// One repetition of the path pattern at <paramref name="p"/>, as the engine takes it, or -1. twitter-text splices
    /// its ending pattern (<c>E|B</c>) into the path pattern without parentheses, so a repetition is
    /// <c>G*(?:B G*)*E</c> or <c>B</c> or <c>@G+/</c>: G are path characters, B a balanced parenthesis group, E an
    /// ending character. The runs of G are maximal (G holds no parenthesis), so the engine first takes the whole chain
    /// of runs and groups, then gives back to the last ending character of the deepest run that has one; failing that,
    /// a group alone. The third alternative is never needed: its '/' is an ending character of the first.
    /// </summary>
    private int PathSegmentEnd(int p)
    {
        var lastEnding = ChainLastEnding(p);
        if (lastEnding >= 0)
        {
            return lastEnding + 1;
        }

        return IsChar(p, '(') ? BalancedGroupEnd(p) : -1;
    }

    /// <summary>
    /// The last ending character of the deepest run holding one in the chain <c>G* (B G*)*</c> from
    /// <paramref name="x"/>, or -1. Remembered per position, so that repetitions starting inside a long chain of
    /// groups do not walk it again.
    /// </summary>
    private int ChainLastEnding(int x)
    {
        var chain = _chain;
        chain.Clear();
        var position = x;
        var deeper = -1;
        while (true)
        {
            if (_chainLastEnding[position] != Unknown)
            {
                deeper = _chainLastEnding[position];
                break;
            }

            chain.Add(position);
            var runEnd = _pathRunEnd[position];
            if (!IsChar(runEnd, '(') || BalancedGroupEnd(runEnd) is not (var groupEnd and >= 0))
            {
                break;
            }

            position = groupEnd;
        }

        for (var i = chain.Count - 1; i >= 0; i--)
        {
            var start = chain[i];
            var runEnd = _pathRunEnd[start];
            var own = runEnd > start && _lastPathEnding[runEnd - 1] >= start ? _lastPathEnding[runEnd - 1] : -1;
            deeper = deeper >= 0 ? deeper : own;
            _chainLastEnding[start] = deeper;
        }

        return deeper;
    }

    /// <summary><c>\((?:G+|G*\(G+\)G*)\)</c> at <paramref name="x"/> (a '('): the end, or -1.</summary>
    private int BalancedGroupEnd(int x)
    {
        var a = _pathRunEnd[x + 1];
        if (a > x + 1 && IsChar(a, ')'))
        {
            return a + 1;
        }

        if (!IsChar(a, '('))
        {
            return -1;
        }

        var b = _pathRunEnd[a + 1];
        if (b == a + 1 || !IsChar(b, ')'))
        {
            return -1;
        }

        var c = _pathRunEnd[b + 1];
        return IsChar(c, ')') ? c + 1 : -1;
    }

    /// <summary><c>\?Q*QE</c> at <paramref name="q"/> (a '?') up to <paramref name="end"/>: the end, or -1.</summary>
    private int QueryEnd(int q, int end)
    {
        var last = -1;
        for (var i = q + 1; i < end && _data.Is(_text[i], CharClass.Query); i++)
        {
            if (_data.Is(_text[i], CharClass.QueryEnding))
            {
                last = i;
            }
        }

        return last < 0 ? -1 : last + 1;
    }

    /// <summary>The checks <c>extractUrlsWithIndices</c> makes on a match, and the entities it adds.</summary>
    private void Accept(Match m, List<UrlEntity> urls)
    {
        var domainStart = m.Start + m.ProtocolLength;
        var urlLength = m.End - m.Start;
        if ((m.ProtocolLength > 0 ? m.ProtocolLength : DefaultProtocolLength) + urlLength > MaxUrlLength)
        {
            return;
        }

        List<(int Start, int Length)>? asciiDomains = null;
        if (_text.AsSpan(domainStart).StartsWith("xn--", StringComparison.Ordinal))
        {
            asciiDomains = AsciiDomains(domainStart, m.DomainEnd);
            if (asciiDomains.Count == 0)
            {
                return;
            }
        }

        if (!DomainLabelsFit(domainStart, m.DomainEnd))
        {
            return;
        }

        if (m.ProtocolLength == 0)
        {
            if (m.Before >= 0 && _text[m.Before] is '-' or '_' or '.' or '/')
            {
                return;
            }

            asciiDomains ??= AsciiDomains(domainStart, m.DomainEnd);
            for (var i = 0; i < asciiDomains.Count; i++)
            {
                var (start, length) = asciiDomains[i];
                // The last one takes the path (and with it port and query), counted by the length of the string
                // twitter-text builds: that domain in place of the whole domain.
                if (i == asciiDomains.Count - 1 && m.PathLength > 0)
                {
                    length += urlLength - (m.DomainEnd - domainStart);
                }

                urls.Add(new UrlEntity(start, length));
            }

            return;
        }

        var tco = TcoLength(m.Start, m.ProtocolLength, m.End);
        if (tco == 0)
        {
            return; // a t.co slug over 40 characters: not a URL
        }

        urls.Add(new UrlEntity(m.Start, tco > 0 ? tco : urlLength));
    }

    /// <summary>
    /// <c>^https?://t\.co/([a-z0-9]+)(?:\?Q*QE)?</c> on the URL: -1 when it does not match, 0 when the slug is over
    /// 40 characters, else the length of the match (the URL is cut there).
    /// </summary>
    private int TcoLength(int start, int protocolLength, int end)
    {
        var p = start + protocolLength;
        if (!(p + 5 < end && IsFolded(p, 't') && _text[p + 1] == '.' && IsFolded(p + 2, 'c') && IsFolded(p + 3, 'o') && _text[p + 4] == '/'))
        {
            return -1;
        }

        var slugStart = p + 5;
        var slugEnd = slugStart;
        while (slugEnd < end && _data.Is(_text[slugEnd], CharClass.TcoSlug))
        {
            slugEnd++;
        }

        if (slugEnd == slugStart)
        {
            return -1;
        }

        if (slugEnd - slugStart > MaxTcoSlugLength)
        {
            return 0;
        }

        var matchEnd = slugEnd < end && _text[slugEnd] == '?' && QueryEnd(slugEnd, end) is var q and >= 0 ? q : slugEnd;
        return matchEnd - start;
    }

    /// <summary>
    /// The matches of twitter-text's <c>validAsciiDomain</c> (<c>(?:[ascii-domain]+\.)+tld</c>, global) in the
    /// domain [<paramref name="start"/>, <paramref name="end"/>), whose end stands for <c>$</c>.
    /// </summary>
    private List<(int Start, int Length)> AsciiDomains(int start, int end)
    {
        // As DomainEndFrom: labels are runs ending in '.', the deepest label followed by a TLD wins.
        var length = end - start;
        if (_asciiDomainEnd.Length < length + 1)
        {
            _asciiDomainEnd = new int[Math.Max(length + 1, _asciiDomainEnd.Length * 2)];
        }

        var domainEnd = _asciiDomainEnd;
        domainEnd[length] = -1;
        var runEnd = end;
        for (var i = end - 1; i >= start; i--)
        {
            if (!_data.Is(_text[i], CharClass.AsciiDomain))
            {
                runEnd = i;
                domainEnd[i - start] = -1;
                continue;
            }

            if (runEnd >= end || _text[runEnd] != '.')
            {
                domainEnd[i - start] = -1;
                continue;
            }

            var next = runEnd + 1;
            var deeper = domainEnd[next - start];
            var tld = deeper >= 0 ? -1 : TldLength(next, end);
            domainEnd[i - start] = deeper >= 0 ? deeper : tld >= 0 ? next + tld : -1;
        }

        var matches = _asciiDomains;
        matches.Clear();
        for (var i = start; i < end;)
        {
            var matchEnd = domainEnd[i - start];
            if (matchEnd > i)
            {
                matches.Add((i, matchEnd - i));
                i = matchEnd;
            }
            else
            {
                i++;
            }
        }

        return matches;
    }

    /// <summary>twitter-text's <c>idna.toAscii</c>: every '.'-separated label is 1 to 63 characters once punycode-encoded.</summary>
    private bool DomainLabelsFit(int start, int end)
    {
        var labelStart = start;
        for (var i = start; i <= end; i++)
        {
            if (i == end || _text[i] == '.')
            {
                var encoded = Punycode.ToAsciiLength(_text.AsSpan(labelStart, i - labelStart), MaxDomainLabelLength);
                if (encoded is < 1 or > MaxDomainLabelLength)
                {
                    return false;
                }

                labelStart = i + 1;
            }
        }

        return true;
    }
}
