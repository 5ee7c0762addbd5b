extern alias apphost;
using System.Diagnostics;
using System.Net.Http.Headers;
using apphost::XGrowth.AppHost.Database;
using Npgsql;
using XGrowth.Api.Webhooks;

namespace XGrowth.Bench;

/// <summary>
/// Throughput and latency of Clerk webhooks through the real API process on a local PostgreSQL, next to the
/// ceiling: the same database writes sent straight through Npgsql at the same concurrency.
/// Run: <c>dotnet run -c Release --project bench/WebhookBench [-- events concurrency]</c>.
/// </summary>
internal static class WebhookBenchmark
{
    private const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    private static async Task<int> Main(string[] args)
    {
        var events = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 20_000;
        var concurrency = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 32;

        var root = Path.Combine(Path.GetTempPath(), "xgrowth-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var postgres = new LocalPostgres(LocalPostgres.FindBinDirectory() ?? throw new InvalidOperationException("PostgreSQL binaries not found"), root);
        var password = postgres.Prepare();
        var pgPort = LocalPostgres.FreeLoopbackPort();
        postgres.StartDetached(pgPort);
        Process? api = null;
        try
        {
            var server = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = pgPort, Username = "postgres", Password = password, Database = "postgres" };
            await using (var admin = new NpgsqlConnection(server.ConnectionString))
            {
                await admin.OpenAsync();
                await new NpgsqlCommand("CREATE DATABASE xgrowth", admin).ExecuteNonQueryAsync();
            }

            var connectionString = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = "xgrowth", MaxPoolSize = 100 }.ConnectionString;
            var apiPort = LocalPostgres.FreeLoopbackPort();
            api = StartApi(connectionString, apiPort);
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency })
            {
                BaseAddress = new Uri($"http://127.0.0.1:{apiPort}"),
            };
            await WaitHealthyAsync(http);

            Console.WriteLine($"Clerk webhooks: {events} events (user.created then user.updated of {events / 2} distinct users, {MakeEvents(2, "size")[0].Body.Length} bytes each), concurrency {concurrency}");
            Console.WriteLine($"machine: {Environment.ProcessorCount} cores, PostgreSQL {LocalPostgres.FindBinDirectory()}");

            // Warm up both paths (JIT, pools, PostgreSQL caches) on users that are not measured.
            await RunApiAsync(http, MakeEvents(2_000, "warm"), concurrency);
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            var sync = new ClerkUserSync(dataSource, TimeProvider.System);
            await RunDirectAsync(sync, MakeEvents(2_000, "warmdirect"), concurrency);

            var apiResult = await RunApiAsync(http, MakeEvents(events, "api"), concurrency);
            var directResult = await RunDirectAsync(sync, MakeEvents(events, "direct"), concurrency);
            Print("API (HTTP, verify, parse, write)", apiResult);
            Print("ceiling (same writes via Npgsql)", directResult);
            Console.WriteLine($"API / ceiling throughput: {apiResult.PerSecond / directResult.PerSecond:P0}");
            return 0;
        }
        finally
        {
            if (api is { HasExited: false })
            {
                api.Kill(entireProcessTree: true);
            }

            postgres.Stop();
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed record SampleEvent(string Type, string UserId, string SvixId, byte[] Body, ClerkUser User);

    private sealed record Result(int Count, TimeSpan Elapsed, double[] LatenciesMs, int Errors)
    {
        public double PerSecond => Count / Elapsed.TotalSeconds;
    }

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
                var user = ClerkEventReader.ReadUser(ClerkEventReader.ReadEvent(body)!.Data)!;
                list.Add(new SampleEvent(type, userId, "msg_" + Guid.NewGuid().ToString("N"), body, user));
            }
        }

        return list;
    }

    private static async Task<Result> RunApiAsync(HttpClient http, List<SampleEvent> events, int concurrency)
    {
        var key = SvixSignatureVerifier.ParseSecrets(Secret)[0];
        var errors = 0;
        return await RunAsync(events, concurrency, async e =>
        {
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            using var content = new ByteArrayContent(e.Body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/webhooks/clerk") { Content = content };
            request.Headers.Add("svix-id", e.SvixId);
            request.Headers.Add("svix-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add("svix-signature", SvixSignatureVerifier.Sign(key, e.SvixId, timestamp, e.Body));
            using var response = await http.SendAsync(request);
            if (!response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref errors);
            }
        }, () => errors);
    }

    private static Task<Result> RunDirectAsync(ClerkUserSync sync, List<SampleEvent> events, int concurrency) =>
        RunAsync(events, concurrency, e => e.Type == "user.deleted"
            ? sync.DeleteAsync(e.SvixId, e.Type, e.UserId, CancellationToken.None)
            : sync.UpsertAsync(e.SvixId, e.Type, e.User, CancellationToken.None), () => 0);

    /// <summary>Sends the events with <paramref name="concurrency"/> workers; a user's created precedes its updated.</summary>
    private static async Task<Result> RunAsync(List<SampleEvent> events, int concurrency, Func<SampleEvent, Task> send, Func<int> errors)
    {
        var latencies = new double[events.Count];
        var next = -1;
        var total = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < events.Count)
            {
                var started = Stopwatch.GetTimestamp();
                await send(events[i]);
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        })));
        total.Stop();
        Array.Sort(latencies);
        return new Result(events.Count, total.Elapsed, latencies, errors());
    }

    private static void Print(string name, Result result)
    {
        double Percentile(double p) => result.LatenciesMs[Math.Min(result.LatenciesMs.Length - 1, (int)(p * result.LatenciesMs.Length))];
        Console.WriteLine($"{name,-36} {result.PerSecond,8:F0}/s   p50 {Percentile(0.50),6:F2} ms   p99 {Percentile(0.99),6:F2} ms   max {result.LatenciesMs[^1],7:F2} ms   errors {result.Errors}");
    }

    private static Process StartApi(string connectionString, int port)
    {
        var apiDll = Path.Combine(AppContext.BaseDirectory, "XGrowth.Api.dll");
        var startInfo = new ProcessStartInfo("dotnet", [apiDll])
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        startInfo.Environment["ConnectionStrings__xgrowth"] = connectionString;
        startInfo.Environment["Clerk__WebhookSecret"] = Secret;
        startInfo.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        startInfo.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // The API logs as configured in its appsettings.json (one Information line per webhook).
        var process = Process.Start(startInfo)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine("api: " + e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitHealthyAsync(HttpClient http)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if ((await http.GetAsync("/health")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(250);
        }

        throw new TimeoutException("The API did not become healthy within 60 s.");
    }
}
