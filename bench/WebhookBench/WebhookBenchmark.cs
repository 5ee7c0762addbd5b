using System.Globalization;
using System.Net.Http.Headers;
using Npgsql;
using XGrowth.Api.Webhooks;
using XGrowth.DevStandIns.Clerk;

namespace XGrowth.Bench;

/// <summary>
/// Throughput and latency of Clerk webhooks through the real API process on a local PostgreSQL, next to the
/// ceiling: the same database writes sent straight through Npgsql at the same concurrency.
/// Run: <c>dotnet run -c Release --project bench/WebhookBench [-- events concurrency]</c>.
/// </summary>
internal static class WebhookBenchmark
{
    // A secret of this run: published example secrets are refused outside Development.
    private static readonly string Secret = "whsec_" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));

    private static async Task Main(string[] args)
    {
        var events = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20_000;
        var concurrency = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 32;

        using var database = await BenchDatabase.StartAsync();
        using var api = await ApiProcess.StartAsync(database.ConnectionString, concurrency, new Dictionary<string, string>
        {
            ["Clerk__WebhookSecret"] = Secret,
            // Production requires an issuer; webhooks do not use it.
            ["Clerk__Issuer"] = "https://bench.clerk.accounts.dev",
        });
        // The raw side prepares its statements as the services do (XGrowth.Data's Max Auto Prepare), so that the
        // comparison is of the service's own work, not of statement preparation.
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString + ";Max Auto Prepare=64");
        var sync = new ClerkUserSync(dataSource, TimeProvider.System, new XGrowth.Api.Auth.ClerkUserProvisioning(dataSource, TimeProvider.System));

        Console.WriteLine($"Clerk webhooks: {events} events (user.created then user.updated of {events / 2} distinct users, " +
            $"{MakeEvents(2, "size")[0].Body.Length} bytes each), concurrency {concurrency}, {Environment.ProcessorCount} cores shared by client, API and PostgreSQL");

        // Warm up both paths (JIT, pools, PostgreSQL caches) on users that are not measured.
        await SendThroughApiAsync(api.Client, MakeEvents(2_000, "warm"), concurrency);
        await WriteDirectlyAsync(sync, MakeEvents(2_000, "warmdirect"), concurrency);

        var throughApi = await SendThroughApiAsync(api.Client, MakeEvents(events, "api"), concurrency);
        var direct = await WriteDirectlyAsync(sync, MakeEvents(events, "direct"), concurrency);
        Load.Print("API (HTTP, verify, parse, write)", throughApi);
        Load.Print("ceiling (same writes via Npgsql)", direct);
        Console.WriteLine($"API / ceiling throughput: {throughApi.PerSecond / direct.PerSecond:P0}");
    }

    private sealed record SampleEvent(string Type, string UserId, string SvixId, byte[] Body, ClerkProfile User);

    private static List<SampleEvent> MakeEvents(int count, string prefix)
    {
        var list = new List<SampleEvent>(count);
        var baseTime = DateTimeOffset.UtcNow.AddMinutes(-10);
        for (var i = 0; i < count / 2; i++)
        {
            var userId = $"user_{prefix}{i:D6}{Guid.NewGuid():N}"[..32];
            foreach (var (type, offset) in new[] { ("user.created", 0), ("user.updated", 1) })
            {
                var body = ClerkSampleEvents.UserEvent(type, userId, $"{userId}@example.com", baseTime.AddSeconds(offset));
                var user = ClerkEventReader.ReadProfile(ClerkEventReader.ReadEvent(body)!.Data, DateTimeOffset.UtcNow).Profile!;
                list.Add(new SampleEvent(type, userId, "msg_" + Guid.NewGuid().ToString("N"), body, user));
            }
        }

        return list;
    }

    private static Task<Load.Result> SendThroughApiAsync(HttpClient http, List<SampleEvent> events, int concurrency)
    {
        var key = SvixSignatureVerifier.ParseSecrets(Secret)[0];
        return Load.RunAsync(events.Count, concurrency, async i =>
        {
            var e = events[i];
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            using var content = new ByteArrayContent(e.Body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/webhooks/clerk") { Content = content };
            request.Headers.Add("svix-id", e.SvixId);
            request.Headers.Add("svix-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add("svix-signature", SvixSignatureVerifier.Sign(key, e.SvixId, timestamp, e.Body));
            using var response = await http.SendAsync(request);
            return response.IsSuccessStatusCode;
        });
    }

    private static Task<Load.Result> WriteDirectlyAsync(ClerkUserSync sync, List<SampleEvent> events, int concurrency) =>
        Load.RunAsync(events.Count, concurrency, async i =>
        {
            var e = events[i];
            await sync.UpsertAsync(e.SvixId, e.Type, e.User, CancellationToken.None);
            return true;
        });
}
