using System.Text;
using XGrowth.Api.Posts;

namespace XGrowth.Tests.Posts.Length;

/// <summary>
/// Random texts near the 280 limit made of the pieces twitter-text treats specially: URLs with and without a
/// scheme on TLDs from its lists, long labels, t.co slugs, emoji sequences, combining marks, variation selectors,
/// CJK, punctuation, mentions, hashtags and cashtags.
/// </summary>
internal sealed class PostTextGenerator(int seed)
{
    private static readonly string[] Tlds = ReadTlds();

    private static readonly string[] Emoji =
    [
        "😀", "🐱", "☺", "☺\uFE0F", "☺\uFE0E", "❤", "❤\uFE0F", "👍🏽", "👍🏿", "🙋🏽", "👨‍👩‍👧‍👦", "👩‍❤️‍💋‍👨", "👨‍🎤", "🏳️‍🌈",
        "🏴‍☠️", "🇩🇪", "🇯🇵", "🇺🇸", "🇦🇿", "🇿🇿", "1️⃣", "#⃣", "*️⃣", "9\u20E3", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "©", "©\uFE0F", "®\uFE0F",
        "™\uFE0F", "🤪", "🧕🏾", "💃🏾", "🧑‍💻", "🫠", "🏃‍♀️", "🏃🏽‍♂️", "⛹️‍♀️", "👁‍🗨", "\uFE0F", "\u200D", "🏻", "\U0001F1E6",
    ];

    private static readonly string[] Words = ["the", "post", "X", "launch", "now", "a", "Café", "naïve", "über", "data", "CO", "com", "Tweet"];
    private static readonly string[] Punctuation = [".", ",", "!", "?", ":", ";", "-", "_", "/", "(", ")", "'", "\"", "…", "–", "—", "“", "”", "@", "#", "$", "&", "%", "=", "+", "~", "|", "[", "]", "\u00A0", "\u3002", "\u202A", "\u202C", "\u2066", "\u2069"];
    private static readonly string[] Cjk = ["日本語", "中文", "한국어", "のの", "故人西辞", "あいうえお", "ｱｲｳ", "中国", "香港", "コム", "みんな"];
    private static readonly string[] Marks = ["\u0301", "\u0300", "\u0308", "\u0327", "\u0323", "\u0307", "\u05B7", "\u05BC", "\u093C", "\u3099", "\u20E3", "\u0334", "\u0345", "\u1ACF", "\u0897", "\U00016D6B"];
    private static readonly string[] LabelCharacters = ["a", "b", "z", "0", "9", "-", "_", "é", "ñ", "ü", "中", "☃", "ж", "ß", "K", "X"];

    private readonly Random _random = new(seed);

    public string Next()
    {
        // One text in four is "URL soup": the tokens URL extraction decides on, in any order.
        var soup = _random.Next(4) == 0;
        var text = new StringBuilder();
        var target = _random.Next(240, 320);
        while (PostText.WeightedLength(text.ToString()) < target && text.Length < 2_000)
        {
            text.Append(soup ? Pick(SoupTokens) : Piece());
        }

        return text.ToString();
    }

    private static readonly string[] SoupTokens =
    [
        ".", ".", "/", "/", "(", ")", "?", "=", "&", "#", "!", "'", ":", "8", "@", "_", "-", "~", " ", "a", "b", "x", "co", "com", "jp", "ninja",
        "http://", "https://", "t.co/", "xn--", "www.", "中", "é", "ж", "😀", "\u3002", "\u2013", "$", "%", "[", "]", "|", ",", ";", "*", "+",
    ];

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    private bool Chance(double p) => _random.NextDouble() < p;

    private string Piece() => _random.Next(15) switch
    {
        0 or 1 => Pick(Words) + (Chance(0.7) ? " " : ""),
        2 => Pick(Punctuation),
        3 => Pick(Cjk),
        4 or 5 => Pick(Emoji),
        6 => Pick(["e", "a", "o", "u", "n", "c", "é", "\u1100", "\u1161", "가", "ᄀ", "\U000105D2", "\U00016D63"]) + string.Concat(Enumerable.Range(0, _random.Next(1, 4)).Select(_ => Pick(Marks))),
        7 or 8 or 9 => Url(),
        10 => Pick(["@", "＠", "#", "＃", "$"]) + Pick(Words) + Pick(["", "_1", "é", "中"]) + " ",
        11 => string.Concat(Enumerable.Range(0, _random.Next(1, 12)).Select(_ => Pick([".", "-", "/", "a.co", ".com", "http://", "https://", "xn--", "t.co/", "1", "(", ")"]))),
        12 => Pick(["\uFEFF", "\uFFFE", "\uFFFF", "\u2028", "\t", "\n", " ", "  ", "\uD800", "\uDC00x", "\uFDD0", "\U0001FFFE"]),
        13 => Label(_random.Next(55, 70)) + "." + Pick(Tlds),
        _ => Pick(["Ω", "Ω", "Å", "ﬁ", "①", "ｘ", "½", "ǅ", "\u212A", "\u017F", "\u0130", "\u1E9E"]),
    };

    private string Url()
    {
        var url = new StringBuilder();
        url.Append(Pick(["", "", "http://", "https://", "HTTPS://", "Http://", "ftp://", "www."]));
        if (Chance(0.1))
        {
            url.Append("t.co/").Append(Slug(_random.Next(35, 46)));
            if (Chance(0.3))
            {
                url.Append("?x=").Append(Slug(3)).Append(Pick(["", "!", "/", "-"]));
            }

            return Boundary(url);
        }

        for (var labels = _random.Next(0, 3); labels > 0; labels--)
        {
            url.Append(Label(_random.Next(1, 12))).Append('.');
        }

        url.Append(Label(Chance(0.1) ? _random.Next(58, 70) : _random.Next(1, 15)));
        url.Append('.').Append(Chance(0.8) ? Pick(Tlds) : Pick(["xn--p1ai", "xn--fiqs8s", "XN--abc", "Com", "COM", "coM", "co", "example", "中國", "рф", "ком"]));
        if (Chance(0.15))
        {
            url.Append(':').Append(_random.Next(0, 70000));
        }

        if (Chance(0.5))
        {
            url.Append('/').Append(Path());
        }

        if (Chance(0.25))
        {
            url.Append('?').Append(Pick(["a=1", "q=x&y=2", "s=$bar.;baz?BAZ&c=d-#top/?stories+", "x=!", "", "a=(b)"]));
        }

        return Boundary(url);
    }

    private string Boundary(StringBuilder url) => url.Append(Pick([" ", " ", "", ".", ",", ")", "!", "\n", "日", "😀", "-", "_", "@"])).ToString();

    private string Path()
    {
        var path = new StringBuilder();
        for (var parts = _random.Next(1, 5); parts > 0; parts--)
        {
            path.Append(Pick(["foo", "bar", "Русские_слова", "a(b)c", "(x)", "((y))", "a((b)c)", "é", "~user", "@me/", "#!", "index.html", "%20", "…", "–", "!", "'", "x.", "中文", "😀", "1", "+", "=", "_", "-"]));
            if (Chance(0.5))
            {
                path.Append('/');
            }
        }

        return path.ToString();
    }

    private string Label(int length)
    {
        var label = new StringBuilder();
        while (label.Length < length)
        {
            label.Append(Pick(LabelCharacters));
        }

        return label.ToString();
    }

    private string Slug(int length) => string.Concat(Enumerable.Range(0, length).Select(_ => Pick(["a", "Z", "0", "7", "q"])));

    private static string[] ReadTlds()
    {
        using var stream = typeof(PostText).Assembly.GetManifestResourceStream("XGrowth.Api.Posts.Length.Data.tlds.txt")!;
        using var reader = new StreamReader(stream);
        var tlds = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0 && line[0] is not '#' and not '[')
            {
                tlds.Add(line);
            }
        }

        return [.. tlds];
    }
}
