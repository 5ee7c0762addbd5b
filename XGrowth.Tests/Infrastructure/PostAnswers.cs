using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace XGrowth.Tests.Infrastructure;

/// <summary>Checks that a post reads the same in every answer that shows it.</summary>
public static class PostAnswers
{
    /// <summary>
    /// The user's only post, <paramref name="created"/> as <c>POST /api/posts</c> answered it: its parts are the same in
    /// <c>GET /api/posts/{id}</c>, and that answer is the same, whole, in the list and in the calendar of its day.
    /// </summary>
    public static async Task AssertTheSameEverywhereAsync(HttpClient client, JsonObject created, DateTimeOffset scheduledAt)
    {
        var ct = TestContext.Current.CancellationToken;
        var single = (await client.GetFromJsonAsync<JsonObject>($"/api/posts/{created["id"]}", ct))!;
        var list = (await client.GetFromJsonAsync<JsonObject>("/api/posts", ct))!["items"]!.AsArray().Single()!;
        var day = DateOnly.FromDateTime(scheduledAt.UtcDateTime).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var calendar = (await client.GetFromJsonAsync<JsonObject>($"/api/calendar?from={day}&to={day}", ct))!;
        var inCalendar = calendar["days"]!.AsArray().Single()!["posts"]!.AsArray().Single()!;
        Assert.True(JsonNode.DeepEquals(created["parts"], single["parts"]), single.ToJsonString());
        Assert.True(JsonNode.DeepEquals(single, list), list.ToJsonString());
        Assert.True(JsonNode.DeepEquals(single, inCalendar), inCalendar.ToJsonString());
    }
}
