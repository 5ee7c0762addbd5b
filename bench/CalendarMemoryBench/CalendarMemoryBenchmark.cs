using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Npgsql;

namespace XGrowth.Bench;

/// <summary>
/// The largest calendar a user can have, asked by several clients at once: the API process's memory while they are
/// answered. One user at the limits (5 accounts × 1,000 pending posts = 5,000, each text 10,000 characters) in one
/// 93-day range, so each answer is ~50 MB of JSON.
/// Run: <c>dotnet run -c Release --project bench/CalendarMemoryBench [-- parallel rounds]</c>.
/// </summary>
internal static class CalendarMemoryBenchmark
{
    private const string Issuer = "https://bench.clerk.accounts.dev";
    private const string UserId = "user_calendar_memory_bench";

    private static async Task Main(string[] args)
    {
        var parallel = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 4;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;

        using var signingKey = RSA.Create(2048);
        using var database = await BenchDatabase.StartAsync();
        var settings = new Dictionary<string, string>
        {
            ["Clerk__Issuer"] = Issuer,
            ["Clerk__JwtKey"] = signingKey.ExportSubjectPublicKeyInfoPem(),
            ["Clerk__AuthorizedParties"] = "http://localhost:3000",
        };
        // Extra environment for the API, e.g. DOTNET_gcServer=0, to see what the garbage collector's mode does.
        foreach (var setting in args.Skip(2).Select(a => a.Split('=', 2)))
        {
            settings[setting[0]] = setting[1];
        }

        using var api = await ApiProcess.StartAsync(database.ConnectionString, parallel, settings);
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        var from = DateOnly.FromDateTime(DateTime.UtcNow.AddDays(1));
        var to = from.AddDays(92);
        await SeedAsync(dataSource, from);

        var token = BenchTokens.Mint(signingKey, Issuer, UserId);
        async Task<long> CalendarAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/calendar?from={from:yyyy-MM-dd}&to={to:yyyy-MM-dd}&tz=UTC");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await api.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64 * 1024];
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(buffer)) > 0)
            {
                total += read;
            }

            return total;
        }

        var size = await CalendarAsync(); // Warm: the first answer also compiles the path.
        await Task.Delay(1000);
        var idle = api.ResidentMiB();
        Console.WriteLine($"Calendar memory: 5,000 posts of 10,000 characters in 93 days for one user: {size / 1048576.0:0.0} MiB of JSON per answer; " +
            $"{parallel} answers at once, {rounds} rounds; {Environment.ProcessorCount} cores shared by client, API and PostgreSQL");
        Console.WriteLine($"API resident memory after one answer, idle: {idle:0} MiB");

        var peak = idle;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, api.ResidentMiB());
                await Task.Delay(20);
            }
        });
        var started = System.Diagnostics.Stopwatch.StartNew();
        for (var round = 0; round < rounds; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, parallel).Select(_ => CalendarAsync()));
        }

        var elapsed = started.Elapsed;
        await sampling.CancelAsync();
        await sampler;
        Console.WriteLine($"API resident memory, peak while {parallel} answers were written at once: {peak:0} MiB (+{peak - idle:0} MiB); " +
            $"{rounds * parallel} answers in {elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>The user at every limit: 5 accounts, 1,000 pending posts each, texts of the longest length, all in range.</summary>
    private static async Task SeedAsync(NpgsqlDataSource dataSource, DateOnly from)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO users (id, email, created_at, updated_at) VALUES ($1, 'bench@example.com', now(), now());
            INSERT INTO x_accounts (id, user_id, x_user_id, username, status, connected_at, updated_at)
            SELECT gen_random_uuid(), $1, 'x' || a, 'bench' || a, 'connected', now(), now() FROM generate_series(1, 5) AS a;
            WITH posts AS (
                INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, created_at, updated_at, attempts)
                SELECT gen_random_uuid(), a.id, $2::timestamptz + (n * interval '25 minutes'), 'scheduled', now(), now(), 0
                FROM x_accounts AS a, generate_series(1, 1000) AS n WHERE a.user_id = $1 RETURNING id)
            INSERT INTO post_parts (post_id, position, text) SELECT id, 0, repeat('x', 10000) FROM posts;
            """.Replace("$1", "@user", StringComparison.Ordinal).Replace("$2", "@from", StringComparison.Ordinal));
        command.Parameters.AddWithValue("user", UserId);
        command.Parameters.AddWithValue("from", from.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc));
        await command.ExecuteNonQueryAsync();
    }
}
