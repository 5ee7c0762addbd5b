using System.Globalization;
using System.Reflection;
using System.Text;

namespace XGrowth.Api.Posts.Length;

/// <summary>
/// Unicode NFC as twitter-text gets it from <c>text.normalize()</c> in Node: the data in
/// <c>Data/normalization.txt</c> comes from Node's ICU (see <c>Data/generate.js</c>).
/// </summary>
/// <remarks>
/// Not <see cref="string.Normalize()"/>: .NET asks the host's ICU, whose Unicode version is the operating system's
/// (Debian 12's ICU 72 knows Unicode 15, and composes or reorders none of the marks added since), refuses lone
/// surrogates and noncharacters that JavaScript keeps, and has no data at all under invariant globalization.
/// Linear in the text: marks are put in order by a stable sort, not by insertion.
/// </remarks>
internal sealed class Nfc
{
    private const int SBase = 0xAC00;
    private const int LBase = 0x1100;
    private const int VBase = 0x1161;
    private const int TBase = 0x11A7;
    private const int LCount = 19;
    private const int VCount = 21;
    private const int TCount = 28;
    private const int NCount = VCount * TCount;
    private const int SCount = LCount * NCount;

    public static Nfc Instance { get; } = new();

    private readonly Dictionary<int, int[]> _decompositions = [];
    private readonly Dictionary<int, byte> _combiningClass = [];
    private readonly byte[] _combiningClassBmp = new byte[0x10000];
    private readonly Dictionary<long, int> _compositions = [];
    // BMP code units that can change under NFC: they decompose, are marks, or compose with what precedes them.
    private readonly bool[] _mayChange = new bool[0x10000];

    private Nfc()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("XGrowth.Api.Posts.Length.Data.normalization.txt")
            ?? throw new InvalidDataException("embedded resource normalization.txt is missing");
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var fields = line.Split(' ');
            var values = fields.Skip(1).Select(f => int.Parse(f, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
            switch (fields[0])
            {
                case "decompose":
                    _decompositions[values[0]] = values[1..];
                    MarkMayChange(values[0]);
                    break;
                case "ccc":
                    _combiningClass[values[0]] = checked((byte)int.Parse(fields[2], CultureInfo.InvariantCulture));
                    if (values[0] < 0x10000)
                    {
                        _combiningClassBmp[values[0]] = _combiningClass[values[0]];
                    }

                    MarkMayChange(values[0]);
                    break;
                case "compose":
                    _compositions[Key(values[0], values[1])] = values[2];
                    MarkMayChange(values[1]);
                    break;
                default:
                    throw new InvalidDataException($"normalization.txt: unknown line {line}");
            }
        }

        for (var c = LBase + LCount; c < TBase + TCount; c++)
        {
            MarkMayChange(c); // Hangul vowels and trailing consonants compose with the syllable before them
        }

        for (var c = SBase; c < SBase + SCount; c++)
        {
            MarkMayChange(c);
        }
    }

    public string Normalize(string text)
    {
        if (!MayChange(text))
        {
            return text;
        }

        var decomposed = new List<int>(text.Length + 8);
        for (var i = 0; i < text.Length; i++)
        {
            int codePoint = text[i];
            if (char.IsSurrogatePair(text, i))
            {
                codePoint = char.ConvertToUtf32(text[i], text[i + 1]);
                i++;
            }

            Decompose(codePoint, decomposed);
        }

        OrderMarks(decomposed);
        return Compose(decomposed);
    }

    private bool MayChange(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsSurrogatePair(text, i))
            {
                var codePoint = char.ConvertToUtf32(c, text[i + 1]);
                if (_decompositions.ContainsKey(codePoint) || _combiningClass.ContainsKey(codePoint) || _mayChangeSupplementary.Contains(codePoint))
                {
                    return true;
                }

                i++;
            }
            else if (_mayChange[c])
            {
                return true;
            }
        }

        return false;
    }

    private readonly HashSet<int> _mayChangeSupplementary = [];

    private void MarkMayChange(int codePoint)
    {
        if (codePoint < 0x10000)
        {
            _mayChange[codePoint] = true;
        }
        else
        {
            _mayChangeSupplementary.Add(codePoint);
        }
    }

    private void Decompose(int codePoint, List<int> output)
    {
        if (codePoint is >= SBase and < SBase + SCount)
        {
            var s = codePoint - SBase;
            output.Add(LBase + (s / NCount));
            output.Add(VBase + (s % NCount / TCount));
            if (s % TCount != 0)
            {
                output.Add(TBase + (s % TCount));
            }
        }
        else if ((codePoint >= 0x10000 || _mayChange[codePoint]) && _decompositions.TryGetValue(codePoint, out var decomposition))
        {
            output.AddRange(decomposition);
        }
        else
        {
            output.Add(codePoint);
        }
    }

    private int CombiningClass(int codePoint) =>
        codePoint < 0x10000 ? _combiningClassBmp[codePoint] : _combiningClass.TryGetValue(codePoint, out var c) ? c : 0;

    /// <summary>Canonical ordering: every run of marks sorted by combining class, equal classes kept in order.</summary>
    private void OrderMarks(List<int> text)
    {
        var i = 0;
        while (i < text.Count)
        {
            if (CombiningClass(text[i]) == 0)
            {
                i++;
                continue;
            }

            var start = i;
            var sorted = true;
            var previous = 0;
            for (; i < text.Count && CombiningClass(text[i]) is var ccc and > 0; i++)
            {
                sorted &= ccc >= previous;
                previous = ccc;
            }

            if (!sorted)
            {
                SortByClass(text, start, i);
            }
        }
    }

    /// <summary>A counting sort on the class (a byte): stable and linear, however long the run of marks.</summary>
    private void SortByClass(List<int> text, int start, int end)
    {
        Span<int> next = stackalloc int[256];
        next.Clear();
        for (var k = start; k < end; k++)
        {
            next[CombiningClass(text[k])]++;
        }

        for (int c = 0, position = 0; c < next.Length; c++)
        {
            (next[c], position) = (position, position + next[c]);
        }

        var run = text.GetRange(start, end - start);
        foreach (var codePoint in run)
        {
            text[start + next[CombiningClass(codePoint)]++] = codePoint;
        }
    }

    /// <summary>Canonical composition: a mark or starter joins the last starter unless something between blocks it.</summary>
    private string Compose(List<int> text)
    {
        var output = new List<int>(text.Count);
        var starter = -1; // index in output of the last starter
        var lastClass = -1; // class of the last code point kept after it, -1 when none
        foreach (var codePoint in text)
        {
            var ccc = CombiningClass(codePoint);
            if (starter >= 0 && (lastClass == -1 || lastClass < ccc) && Composition(output[starter], codePoint) is var composite and >= 0)
            {
                output[starter] = composite;
                continue;
            }

            if (ccc == 0)
            {
                starter = output.Count;
                lastClass = -1;
            }
            else
            {
                lastClass = ccc;
            }

            output.Add(codePoint);
        }

        var result = new StringBuilder(output.Count + 8);
        foreach (var codePoint in output)
        {
            if (codePoint is >= 0xD800 and <= 0xDFFF)
            {
                result.Append((char)codePoint); // a lone surrogate, kept as JavaScript keeps it
            }
            else
            {
                result.Append(char.ConvertFromUtf32(codePoint));
            }
        }

        return result.ToString();
    }

    private int Composition(int first, int second)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
        {
            return SBase + ((((first - LBase) * VCount) + second - VBase) * TCount);
        }

        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0 && second is > TBase and < TBase + TCount)
        {
            return first + second - TBase;
        }

        return _compositions.TryGetValue(Key(first, second), out var composite) ? composite : -1;
    }

    private static long Key(int first, int second) => ((long)first << 21) | (uint)second;
}
