using System.Text.Json;
using XGrowth.Api.Posts;

namespace XGrowth.Tests.Posts.Length;

/// <summary>twitter-text's own conformance cases for parseTweet (see the "source" of the data file).</summary>
public class ConformanceTests
{
    [Theory]
    [MemberData(nameof(Cases))]
    public void Weighted_length_and_validity_are_twitter_text_s(string section, string description, string text, int weightedLength, bool valid)
    {
        _ = (section, description);
        var parsed = PostText.Parse(text);
        Assert.Equal((weightedLength, valid), (parsed.WeightedLength, parsed.Valid));
    }

    public static TheoryData<string, string, string, int, bool> Cases()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Posts", "Length", "validate-weighted-length.json")));
        var data = new TheoryData<string, string, string, int, bool>();
        foreach (var c in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            data.Add(c.GetProperty("section").GetString()!, c.GetProperty("description").GetString()!, c.GetProperty("text").GetString()!,
                c.GetProperty("weightedLength").GetInt32(), c.GetProperty("valid").GetBoolean());
        }

        return data;
    }
}
