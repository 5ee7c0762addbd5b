namespace XGrowth.Tests.Posts.Length;

/// <summary>
/// Texts of a given size that make a backtracking URL or emoji pattern work hard. Shared with bench/PostTextBench.
/// </summary>
public static class AdversarialTexts
{
    public static IReadOnlyList<(string Name, string Text)> All(int size) =>
    [
        ("a.co/ repeated, then <", Repeat("a.co/", size - 1) + "<"),
        ("a.co/ repeated", Repeat("a.co/", size)),
        ("one long URL path", "https://example.com/" + Repeat("a", size - 20)),
        ("long URL path of ! (no ending character)", "https://example.com/a" + Repeat("!", size - 21)),
        ("URL path of nested parentheses", "https://example.com/" + Repeat("a(b(c)d)", size - 20)),
        ("URL path of open parentheses", "https://example.com/" + Repeat("(a", size - 20)),
        ("long query of !", "https://example.com/?" + Repeat("a!", size - 21)),
        ("http:// repeated", Repeat("http://", size)),
        ("https://a. repeated", Repeat("https://a.", size)),
        ("digits", Repeat("0123456789", size)),
        ("digits and dots", Repeat("1.", size)),
        ("dots", Repeat(".", size)),
        ("hyphens", Repeat("-", size)),
        ("labels a. repeated", Repeat("a.", size)),
        ("labels a- repeated with a dot", Repeat("a-", size - 2) + ".x"),
        ("CJK labels and dots", Repeat("中.", size)),
        ("one huge label then .com", Repeat("中", size - 4) + ".com"),
        ("xn-- repeated", Repeat("xn--", size - 4) + ".com"),
        ("a.xn-- repeated", Repeat("a.xn--a", size)),
        ("t.co slugs", Repeat("https://t.co/" + new string('a', 50) + " ", size)),
        ("ports", Repeat("a.com:", size)),
        ("emoji", Repeat("👨‍👩‍👧‍👦👍🏽🇩🇪1️⃣", size)),
        ("variation selectors", Repeat("\uFE0F", size)),
        ("combining marks", "e" + Repeat("\u0301", size - 1)),
        ("marks of alternating classes (NFC sorts them)", "e" + Repeat("\u0301\u0316", size - 1)),
        ("Hangul jamo (NFC composes them)", Repeat("\u1100\u1161\u11A8", size)),
        ("@ and labels", Repeat("@a.co", size)),
        ("underscores in labels", Repeat("a_", size - 4) + ".com"),
    ];

    /// <summary>Ordinary posts: text, a URL or two, an emoji, about 280 characters.</summary>
    public static IReadOnlyList<string> Normal() =>
    [
        "Shipping the new scheduler today 🚀 Read the notes at https://example.com/blog/2026/scheduler-notes?utm_source=x and tell us what you think. #buildinpublic @xgrowth",
        "日本語のポストです。リンクはこちら https://example.jp/ですが、example.co.jp でも見られます。よろしくお願いします 👍🏽",
        "Three things I learned this week:\n1. Ship small\n2. Measure\n3. Repeat\n\nMore at blog.example.dev/notes (and the slides at https://t.co/AbC123xyz) $TSLA",
    ];

    private static string Repeat(string unit, int size) =>
        string.Concat(Enumerable.Repeat(unit, size / unit.Length + 1))[..size];
}
