using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Queue;

/// <summary>
/// A user with one X account, talking to the API whose clock stands still at <see cref="Now"/>: tomorrow 01:00 UTC,
/// so that the slots a test expects are the same whatever moment it runs.
/// </summary>
public sealed class QueueTestClient : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly WebApplicationFactory<Program> _clocked;

    private QueueTestClient(ApiFactory api, WebApplicationFactory<Program> clocked, FakeTimeProvider clock, string userId, Guid accountId)
    {
        Api = api;
        _clocked = clocked;
        Clock = clock;
        UserId = userId;
        AccountId = accountId;
        Http = clocked.CreateClient();
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", api.Clerk.Mint(userId));
    }

    public ApiFactory Api { get; }

    public FakeTimeProvider Clock { get; }

    public DateTimeOffset Now => Clock.GetUtcNow();

    public string UserId { get; }

    public Guid AccountId { get; }

    public HttpClient Http { get; }

    public static async Task<QueueTestClient> StartAsync(ApiFactory api, DateTimeOffset? now = null)
    {
        var clock = new FakeTimeProvider(now ?? new DateTimeOffset(DateTime.UtcNow.Date.AddDays(1).AddHours(1), TimeSpan.Zero));
        var clocked = api.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(clock)));
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        return new QueueTestClient(api, clocked, clock, userId, accountId);
    }

    /// <summary>Another client of the same API and clock, for another user.</summary>
    public HttpClient ClientFor(string userId)
    {
        var client = _clocked.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Api.Clerk.Mint(userId));
        return client;
    }

    /// <summary>Every day at 00:00, 06:00, 12:00 and 18:00 UTC: the next slots are plain to compute.</summary>
    public static readonly string[] EverySixHours = ["00:00", "06:00", "12:00", "18:00"];

    public static readonly string[] Days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

    /// <summary>The next <paramref name="count"/> six-hour marks at least a minute after <see cref="Now"/>.</summary>
    public List<DateTimeOffset> NextSixHourSlots(int count)
    {
        var earliest = Now.AddMinutes(1);
        var first = new DateTimeOffset(earliest.UtcDateTime.Date, TimeSpan.Zero);
        while (first < earliest)
        {
            first = first.AddHours(6);
        }

        return [.. Enumerable.Range(0, count).Select(i => first.AddHours(6 * i))];
    }

    public async Task<HttpResponseMessage> PutScheduleAsync(string timeZone = "UTC", IEnumerable<string>? times = null, int jitter = 0, Guid? accountId = null)
    {
        var slots = Days.SelectMany(day => (times ?? EverySixHours).Select(time => new { day, time })).ToArray();
        return await Http.PutAsJsonAsync($"/api/x-accounts/{accountId ?? AccountId}/schedule", new { timeZone, slots, jitterMinutes = jitter }, Ct);
    }

    public async Task UseEverySixHoursAsync(int jitter = 0)
    {
        using var response = await PutScheduleAsync(jitter: jitter);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public Task<HttpResponseMessage> SendJsonAsync(HttpMethod method, string url, string json) =>
        Http.SendAsync(new HttpRequestMessage(method, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") }, Ct);

    public async Task<JsonObject> AddToQueueAsync(string? text = null)
    {
        using var response = await Http.PostAsJsonAsync("/api/posts", new { xAccountId = AccountId, text = text ?? "queued " + Guid.NewGuid(), queue = true }, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
        return (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
    }

    public async Task<JsonObject> CreateAtAsync(DateTimeOffset at)
    {
        using var response = await Http.PostAsJsonAsync("/api/posts",
            new { xAccountId = AccountId, text = "explicit " + Guid.NewGuid(), scheduledAt = at.ToString("O", CultureInfo.InvariantCulture) }, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
        return (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
    }

    public async Task<JsonNode> GetJsonAsync(string url)
    {
        using var response = await Http.GetAsync(url, Ct);
        Assert.True(response.IsSuccessStatusCode, $"{url}: {await response.Content.ReadAsStringAsync(Ct)}");
        return (await response.Content.ReadFromJsonAsync<JsonNode>(Ct))!;
    }

    /// <summary>The account's queued, live posts as the database holds them: (id, slot, time), in slot order.</summary>
    public async Task<List<(Guid Id, DateTimeOffset Slot, DateTimeOffset At)>> QueueRowsAsync()
    {
        await using var command = Api.Database.CreateCommand("""
            SELECT id, slot_at, scheduled_at FROM scheduled_posts
            WHERE x_account_id = $1 AND queued AND status NOT IN ('draft', 'cancelled') ORDER BY slot_at
            """);
        command.Parameters.Add(new() { Value = AccountId });
        var rows = new List<(Guid, DateTimeOffset, DateTimeOffset)>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            rows.Add((reader.GetGuid(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetFieldValue<DateTimeOffset>(2)));
        }

        return rows;
    }

    public static DateTimeOffset Time(JsonNode? node) => DateTimeOffset.Parse((string)node!, CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _clocked.DisposeAsync();
    }
}
