namespace XGrowth.Api.Posts.Length;

/// <summary>
/// The length of <c>punycode.toASCII(label)</c> as twitter-text calls it in Node (its built-in punycode.js 2.1.0,
/// RFC 3492): the parts between '.', '。', '．' and '｡' are kept when ASCII and become <c>xn--</c> + their encoding
/// otherwise.
/// </summary>
internal static class Punycode
{
    private const int Base = 36;
    private const int TMin = 1;
    private const int TMax = 26;
    private const int Skew = 38;
    private const int Damp = 700;
    private const int InitialBias = 72;
    private const int InitialN = 128;
    private const long MaxInt = int.MaxValue;

    /// <summary>
    /// The encoded length, or any number over <paramref name="limit"/> once it is certain to exceed it. Parts too
    /// long to fit are not encoded: that keeps the work bounded, and it is where punycode.js could throw "overflow"
    /// (a part of thousands of characters), which twitter-text does not catch; such a domain is simply not a URL here.
    /// </summary>
    public static int ToAsciiLength(ReadOnlySpan<char> label, int limit)
    {
        var total = 0;
        var partStart = 0;
        for (var i = 0; i <= label.Length; i++)
        {
            if (i < label.Length && label[i] is not ('.' or '\u3002' or '\uFF0E' or '\uFF61'))
            {
                continue;
            }

            if (partStart > 0)
            {
                total++; // the separator, written as '.'
            }

            total += PartLength(label[partStart..i], limit);
            if (total > limit)
            {
                return limit + 1;
            }

            partStart = i + 1;
        }

        return total;
    }

    private static int PartLength(ReadOnlySpan<char> part, int limit)
    {
        var ascii = true;
        foreach (var c in part)
        {
            ascii &= c < 0x80;
        }

        if (ascii)
        {
            return part.Length;
        }

        // "xn--" and at least one character per code point.
        if (part.Length > limit * 2)
        {
            return limit + 1;
        }

        var input = CodePoints(part);
        return input.Count + 4 > limit ? limit + 1 : 4 + EncodedLength(input);
    }

    // punycode.js ucs2decode: a high surrogate not followed by a low one stays a code point of its own.
    private static List<int> CodePoints(ReadOnlySpan<char> text)
    {
        var result = new List<int>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            int value = text[i];
            if (value is >= 0xD800 and <= 0xDBFF && i + 1 < text.Length && (text[i + 1] & 0xFC00) == 0xDC00)
            {
                result.Add(((value & 0x3FF) << 10) + (text[i + 1] & 0x3FF) + 0x10000);
                i++;
            }
            else
            {
                result.Add(value);
            }
        }

        return result;
    }

    private static int EncodedLength(List<int> input)
    {
        var output = 0;
        long n = InitialN;
        long delta = 0;
        var bias = InitialBias;
        var basicLength = input.Count(c => c < 0x80);
        output += basicLength;
        var handled = basicLength;
        if (basicLength > 0)
        {
            output++; // delimiter
        }

        while (handled < input.Count)
        {
            var m = MaxInt;
            foreach (var c in input)
            {
                if (c >= n && c < m)
                {
                    m = c;
                }
            }

            var handledPlusOne = handled + 1;
            if (m - n > (MaxInt - delta) / handledPlusOne)
            {
                return int.MaxValue; // punycode.js: RangeError "overflow"
            }

            delta += (m - n) * handledPlusOne;
            n = m;
            foreach (var c in input)
            {
                if (c < n && ++delta > MaxInt)
                {
                    return int.MaxValue;
                }

                if (c == n)
                {
                    var q = delta;
                    for (var k = Base; ; k += Base)
                    {
                        var t = k <= bias ? TMin : k >= bias + TMax ? TMax : k - bias;
                        if (q < t)
                        {
                            break;
                        }

                        output++;
                        q = (q - t) / (Base - t);
                    }

                    output++;
                    bias = Adapt(delta, handledPlusOne, handled == basicLength);
                    delta = 0;
                    handled++;
                }
            }

            delta++;
            n++;
        }

        return output;
    }

    private static int Adapt(long delta, int numPoints, bool firstTime)
    {
        var k = 0;
        delta = firstTime ? delta / Damp : delta >> 1;
        delta += delta / numPoints;
        for (; delta > ((Base - TMin) * TMax) >> 1; k += Base)
        {
            delta /= Base - TMin;
        }

        return (int)(k + ((Base - TMin + 1) * delta / (delta + Skew)));
    }
}
