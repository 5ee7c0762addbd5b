using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Npgsql;
using NpgsqlTypes;

namespace XGrowth.Bench;

/// <summary>
/// Month-long calendars for one account with 10,000 posts over a year, asked by concurrent clients with valid Clerk
/// session tokens through the real API process; and, in the same run, the same query sent straight through Npgsql.
/// Run: <c>dotnet run -c Release --project bench/CalendarBench [-- requests concurrency]</c>.
/// </summary>
internal static class CalendarBenchmark
{
    private const string Issuer = "https://bench.clerk.accounts.dev";
    private const string UserId = "user_calendar_bench";
    private const int Posts = 10_000;

    // The query the calendar endpoint sends (see the API's SQL log), for the ceiling.
    private const string CalendarSql = """
        SELECT s.id, s.x_account_id, s.text, s.scheduled_at, s.status, s.x_post_id, s.published_at, s.error
        FROM scheduled_posts AS s
        INNER JOIN x_accounts AS x ON s.x_account_id = x.id
        WHERE x.user_id = $1 AND s.scheduled_at >= $2 AND s.scheduled_at < $3 AND s.status <> 'cancelled'
        ORDER BY s.scheduled_at, s.id
        """;

    private static async Task Main(string[] args)
    {
        var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 4_000;
        var concurrency = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 32;

        using var signingKey = RSA.Create(2048);
        using var database = await BenchDatabase.StartAsync();
        using var api = await ApiProcess.StartAsync(database.ConnectionString, concurrency, new Dictionary<string, string>
        {
            ["Clerk__Issuer"] = Issuer,
            ["Clerk__JwtKey"] = signingKey.ExportSubjectPublicKeyInfoPem(),
            ["Clerk__AuthorizedParties"] = "http://localhost:3000",
        });
        // The raw side prepares its statements as the services do (XGrowth.Data's Max Auto Prepare), so that the
        // comparison is of the service's own work, not of statement preparation.
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString + ";Max Auto Prepare=64");
        var start = new DateTimeOffset(DateTime.UtcNow.Year + 1, 1, 1, 0, 0, 0, TimeSpan.Zero);
        await SeedAsync(dataSource, start);

        // One token per client, as a frontend holds one at a time.
        var tokens = Enumerable.Range(0, concurrency).Select(_ => BenchTokens.Mint(signingKey, Issuer, UserId)).ToArray();
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var months = Enumerable.Range(0, 12).Select(m => new DateOnly(start.Year, m + 1, 1)).ToArray();
        var sizes = new long[months.Length];

        Console.WriteLine($"Calendar: {Posts} posts over a year on one account, month-long calendars (Europe/Berlin), {requests} requests, " +
            $"concurrency {concurrency}, {Environment.ProcessorCount} cores shared by client, API and PostgreSQL");

        Func<int, Task<bool>> throughApi = async i =>
        {
            var month = months[i % months.Length];
            using var request = new HttpRequestMessage(HttpMethod.Get,
                $"/api/calendar?from={month:yyyy-MM-dd}&to={month.AddMonths(1).AddDays(-1):yyyy-MM-dd}&tz=Europe/Berlin");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens[i % tokens.Length]);
            using var response = await api.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            sizes[i % months.Length] = await DrainAsync(response);
            return response.IsSuccessStatusCode;
        };
        Func<int, Task<bool>> direct = async i =>
        {
            var month = months[i % months.Length];
            var from = LocalMidnight(month, berlin);
            var to = LocalMidnight(month.AddMonths(1), berlin);
            await using var command = dataSource.CreateCommand(CalendarSql);
            command.Parameters.Add(new NpgsqlParameter { Value = UserId });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = from });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = to });
            await using var reader = await command.ExecuteReaderAsync();
            var rows = 0;
            while (await reader.ReadAsync())
            {
                // Materialize every column, as the API does.
                _ = (reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3), reader.GetString(4),
                    reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? (DateTimeOffset?)null : reader.GetFieldValue<DateTimeOffset>(6),
                    reader.IsDBNull(7) ? null : reader.GetString(7));
                rows++;
            }

            return rows > 0;
        };

        Func<int, Task<bool>> me = async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/me");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens[i % tokens.Length]);
            using var response = await api.Client.SendAsync(request);
            return response.IsSuccessStatusCode;
        };
        await Load.RunAsync(500, concurrency, me);
        Load.Print("GET /api/me (token and user check only)", await Load.RunAsync(requests, concurrency, me));

        // Long warm-ups: the API's hot paths go through tiered compilation with dynamic PGO, which takes thousands of
        // requests under load; measuring before that would measure the JIT, not the steady state a service runs in.
        await Load.RunAsync(Math.Max(3_000, requests / 2), concurrency, throughApi);
        await Load.RunAsync(Math.Max(3_000, requests / 2), concurrency, direct);
        var apiResult = await Load.RunAsync(requests, concurrency, throughApi);
        var directResult = await Load.RunAsync(requests, concurrency, direct);
        Console.WriteLine($"posts per month: ~{Posts / 12}, response size: ~{sizes.Average() / 1024:F0} KiB");
        Load.Print("API (token, user check, query, JSON)", apiResult);
        Load.Print("same query via Npgsql", directResult);
        Console.WriteLine($"API / raw query throughput: {apiResult.PerSecond / directResult.PerSecond:P0}");

        // At 32 clients on 2 shared cores, latency is mostly waiting in line (32 / throughput); with as many clients as
        // cores it shows what one calendar costs when the machine is not saturated.
        Load.Print("API, 2 clients", await Load.RunAsync(1_000, 2, throughApi));
        Load.Print("same query via Npgsql, 2 clients", await Load.RunAsync(1_000, 2, direct));
    }

    /// <summary>
    /// Reads the whole body through a pooled buffer and counts its bytes. The client shares the cores with the API and
    /// PostgreSQL: allocating a fresh 290 KiB array per response (a large-object-heap allocation, then page faults and
    /// gen 2 collections) made it use more CPU than the API itself (perf: 34 % of the machine against the API's 24 %).
    /// </summary>
    private static async Task<long> DrainAsync(HttpResponseMessage response)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync();
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(buffer)) > 0)
            {
                total += read;
            }

            return total;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static DateTimeOffset LocalMidnight(DateOnly day, TimeZoneInfo zone)
    {
        var local = day.ToDateTime(TimeOnly.MinValue);
        return new DateTimeOffset(local, zone.GetUtcOffset(local)).ToUniversalTime();
    }

    /// <summary>The user, one account and 10,000 posts spread evenly over the year from <paramref name="start"/>.</summary>
    private static async Task SeedAsync(NpgsqlDataSource dataSource, DateTimeOffset start)
    {
        var accountId = Guid.NewGuid();
        await using (var command = dataSource.CreateCommand("""
            INSERT INTO users (id, email, created_at, updated_at) VALUES ($1, 'bench@example.com', now(), now());
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = UserId });
            await command.ExecuteNonQueryAsync();
        }

        await using (var command = dataSource.CreateCommand("""
            INSERT INTO x_accounts (id, user_id, x_user_id, username, status, connected_at, updated_at)
            VALUES ($1, $2, '1234567890', 'bench', 'connected', now(), now())
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = accountId });
            command.Parameters.Add(new NpgsqlParameter { Value = UserId });
            await command.ExecuteNonQueryAsync();
        }

        await using var connection = await dataSource.OpenConnectionAsync();
        await using (var writer = await connection.BeginBinaryImportAsync(
            "COPY scheduled_posts (id, x_account_id, scheduled_at, status, created_at, updated_at) FROM STDIN (FORMAT BINARY)"))
        {
            var step = TimeSpan.FromDays(365).Ticks / Posts;
            for (var i = 0; i < Posts; i++)
            {
                await writer.StartRowAsync();
                await writer.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid);
                await writer.WriteAsync(accountId, NpgsqlDbType.Uuid);
                await writer.WriteAsync(start.AddTicks(step * i), NpgsqlDbType.TimestampTz);
                await writer.WriteAsync("scheduled", NpgsqlDbType.Varchar);
                await writer.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
                await writer.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
            }

            await writer.CompleteAsync();
        }

        await using (var parts = new NpgsqlCommand("""
            INSERT INTO post_parts (post_id, position, text)
            SELECT id, 0, 'Post ' || id || ': a realistic amount of text for a scheduled post, with a link https://example.com/p/1 and #hashtags.'
            FROM scheduled_posts
            """, connection))
        {
            await parts.ExecuteNonQueryAsync();
        }

        await using var analyze = new NpgsqlCommand("ANALYZE", connection);
        await analyze.ExecuteNonQueryAsync();
    }
}
