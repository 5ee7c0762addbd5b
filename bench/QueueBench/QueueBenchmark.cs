using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using NodaTime;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Api.Queue;

namespace XGrowth.Bench;

/// <summary>
/// The queue of one account holding 10,000 queued posts, through the real API process: "add to queue" from 8 clients,
/// <c>GET /queue?count=50</c> from 8 clients, and a schedule change that places all of them again.
/// Run: <c>dotnet run -c Release --project bench/QueueBench [-- adds reads]</c>.
/// </summary>
internal static class QueueBenchmark
{
    private const string Issuer = "https://bench.clerk.accounts.dev";
    private const string UserId = "user_queue_bench";
    private const int Queued = 10_000;
    private const int Clients = 8;
    private const string Zone = "Europe/Berlin";

    private static async Task Main(string[] args)
    {
        var adds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2_000;
        var reads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4_000;

        using var signingKey = RSA.Create(2048);
        using var database = await BenchDatabase.StartAsync();
        using var api = await ApiProcess.StartAsync(database.ConnectionString, Clients, new Dictionary<string, string>
        {
            ["Clerk__Issuer"] = Issuer,
            ["Clerk__JwtKey"] = signingKey.ExportSubjectPublicKeyInfoPem(),
            ["Clerk__AuthorizedParties"] = "http://localhost:3000",
            ["RateLimits__WritesPerMinute"] = "1000000",
            // An account of 10,000 waiting posts is ten times the default limit.
            ["PostLimits__MaxPendingPerAccount"] = "1000000",
            ["PostLimits__MaxPendingPerUser"] = "1000000",
        });
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        var tokens = Enumerable.Range(0, Clients).Select(_ => BenchTokens.Mint(signingKey, Issuer, UserId)).ToArray();
        var account = await AddAccountAsync(dataSource);
        var warmUpAccount = await AddAccountAsync(dataSource);

        // 100 slots a week (the most allowed): 14 a day, hourly from 08:00, and two more on Mondays. Another set half an
        // hour later for the schedule change.
        object[] Slots(int minute) => [.. new[] { "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday" }
            .SelectMany(day => Enumerable.Range(8, 14).Select(hour => (object)new { day, time = $"{hour:00}:{minute:00}" }))
            .Concat([new { day = "monday", time = $"22:{minute:00}" }, new { day = "monday", time = $"23:{minute:00}" }])];
        var scheduleA = new { timeZone = Zone, slots = Slots(0), jitterMinutes = 5 };
        var scheduleB = new { timeZone = Zone, slots = Slots(30), jitterMinutes = 5 };

        async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, object? body, int client)
        {
            using var request = new HttpRequestMessage(method, url) { Content = body is null ? null : JsonContent.Create(body) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens[client % tokens.Length]);
            return await api.Client.SendAsync(request);
        }

        foreach (var id in new[] { account, warmUpAccount })
        {
            using var set = await SendAsync(HttpMethod.Put, $"/api/x-accounts/{id}/schedule", scheduleA, 0);
            set.EnsureSuccessStatusCode();
        }

        await SeedQueueAsync(dataSource, account);
        Console.WriteLine($"Queue: one account with {await QueuedAsync(dataSource, account):N0} queued posts, 100 slots a week ({Zone}, jitter ±5 min, " +
            $"so they reach {await LastSlotAsync(dataSource, account):yyyy-MM-dd}), {Environment.ProcessorCount} cores shared by client, API and PostgreSQL");

        // Warm-up on the other account: every path compiled and tiered up before anything is measured.
        Func<int, Task<bool>> AddTo(Guid id) => async i =>
        {
            using var response = await SendAsync(HttpMethod.Post, "/api/posts", new { xAccountId = id, text = $"queued {i} {Guid.NewGuid():N}", queue = true }, i);
            return response.IsSuccessStatusCode;
        };
        Func<int, Task<bool>> ReadQueue(Guid id) => async i =>
        {
            using var response = await SendAsync(HttpMethod.Get, $"/api/x-accounts/{id}/queue?count=50", null, i);
            await response.Content.CopyToAsync(Stream.Null);
            return response.IsSuccessStatusCode;
        };
        await Load.RunAsync(3_000, Clients, AddTo(warmUpAccount));
        await Load.RunAsync(3_000, Clients, ReadQueue(warmUpAccount));
        for (var i = 0; i < 4; i++)
        {
            using var change = await SendAsync(HttpMethod.Put, $"/api/x-accounts/{warmUpAccount}/schedule", i % 2 == 0 ? scheduleB : scheduleA, 0);
            change.EnsureSuccessStatusCode();
        }

        // The schedule change first, while the account holds exactly 10,000: each places every one of them again.
        foreach (var (name, schedule) in new[] { ("A -> B (every slot 30 min later)", scheduleB), ("B -> A", scheduleA), ("A -> B", scheduleB), ("B -> A", scheduleA) })
        {
            var watch = Stopwatch.StartNew();
            using var change = await SendAsync(HttpMethod.Put, $"/api/x-accounts/{account}/schedule", schedule, 0);
            watch.Stop();
            change.EnsureSuccessStatusCode();
            Console.WriteLine($"schedule change {name,-36} {watch.Elapsed.TotalMilliseconds,8:F0} ms for {await QueuedAsync(dataSource, account):N0} queued posts");
        }

        Load.Print($"GET /queue?count=50, {Clients} clients", await Load.RunAsync(reads, Clients, ReadQueue(account)));
        // The first add after a schedule change searches from the start of the queue once; then from where it is full.
        Load.Print($"add to queue, {Clients} clients", await Load.RunAsync(adds, Clients, AddTo(account)));
        Load.Print($"add to queue, 1 client", await Load.RunAsync(adds / 4, 1, AddTo(account)));
        Console.WriteLine($"queued now: {await QueuedAsync(dataSource, account):N0}, distinct slots: {await DistinctSlotsAsync(dataSource, account):N0}");
        // Baselines on the same API and machine, to tell what the queue adds to a request from what any request costs:
        // the lightest authenticated read, and creating a post at an explicit time (the same insert, no placement).
        Load.Print($"baseline: GET /api/me, {Clients} clients", await Load.RunAsync(reads, Clients, async i =>
        {
            using var response = await SendAsync(HttpMethod.Get, "/api/me", null, i);
            await response.Content.CopyToAsync(Stream.Null);
            return response.IsSuccessStatusCode;
        }));
        var explicitFrom = DateTimeOffset.UtcNow.AddDays(200); // within the year ahead a post may be scheduled
        Load.Print($"baseline: post at a time, {Clients} clients", await Load.RunAsync(adds, Clients, async i =>
        {
            using var response = await SendAsync(HttpMethod.Post, "/api/posts", new
            {
                xAccountId = account, text = $"timed {i} {Guid.NewGuid():N}", scheduledAt = explicitFrom.AddSeconds(i * 7).ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            }, i);
            return response.IsSuccessStatusCode;
        }));
        Load.Print($"GET /queue?count=50, {Clients} clients (after)", await Load.RunAsync(reads, Clients, ReadQueue(account)));
        Load.Print($"GET /queue?count=50, 1 client", await Load.RunAsync(reads / 4, 1, ReadQueue(account)));
        // The floor under any "add to queue" here: only what has to be serialized per user (the user's lock, the post and
        // its part, the commit; no limits, no slot search, no HTTP), straight through Npgsql from 8 clients on the one user.
        var floorFrom = DateTimeOffset.UtcNow.AddDays(300);
        Load.Print($"floor: lock, insert, commit via Npgsql, {Clients} clients", await Load.RunAsync(adds, Clients, async i =>
        {
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var lockUser = new NpgsqlCommand("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", connection, transaction))
            {
                lockUser.Parameters.Add(new NpgsqlParameter { Value = UserId });
                await lockUser.ExecuteNonQueryAsync();
            }

            var id = Guid.CreateVersion7();
            await using var insert = new NpgsqlBatch(connection, transaction)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand("""
                        INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, created_at, updated_at, attempts)
                        VALUES ($1, $2, $3, 'scheduled', now(), now(), 0)
                        """) { Parameters = { new() { Value = id }, new() { Value = account }, new() { Value = floorFrom.AddSeconds(i) } } },
                    new NpgsqlBatchCommand("INSERT INTO post_parts (post_id, position, text) VALUES ($1, 0, $2)")
                    {
                        Parameters = { new() { Value = id }, new() { Value = $"floor {i}" } },
                    },
                },
            };
            await insert.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
            return true;
        }));
    }

    private static async Task<Guid> AddAccountAsync(NpgsqlDataSource dataSource)
    {
        var id = Guid.NewGuid();
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("INSERT INTO users (id, created_at, updated_at) VALUES ($1, now(), now()) ON CONFLICT (id) DO NOTHING")
        {
            Parameters = { new NpgsqlParameter { Value = UserId } },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            INSERT INTO x_accounts (id, user_id, x_user_id, username, status, connected_at, updated_at)
            VALUES ($1, $2, $3, 'bench', 'connected', now(), now())
            """)
        {
            Parameters = { new NpgsqlParameter { Value = id }, new NpgsqlParameter { Value = UserId }, new NpgsqlParameter { Value = id.ToString("N")[..16] } },
        });
        await batch.ExecuteNonQueryAsync();
        return id;
    }

    /// <summary>
    /// 10,000 queued posts in the account's first 10,000 slots from a minute ahead, each at its jitter offset, written
    /// with COPY (placing them one by one through the API would take minutes and is what the adds measure anyway).
    /// </summary>
    private static async Task SeedQueueAsync(NpgsqlDataSource dataSource, Guid accountId)
    {
        var minutes = await ReadSlotsAsync(dataSource, accountId);
        var week = new PostingWeek(DateTimeZoneProviders.Tzdb[Zone], minutes);
        var now = DateTimeOffset.UtcNow;
        var slots = week.SlotsFrom(Instant.FromDateTimeOffset(now.AddMinutes(2))).Take(Queued).ToList();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using (var writer = await connection.BeginBinaryImportAsync(
            "COPY scheduled_posts (id, x_account_id, scheduled_at, status, queued, slot_at, created_at, updated_at) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var slot in slots)
            {
                var id = Guid.CreateVersion7();
                await writer.StartRowAsync();
                await writer.WriteAsync(id, NpgsqlDbType.Uuid);
                await writer.WriteAsync(accountId, NpgsqlDbType.Uuid);
                await writer.WriteAsync((slot + Duration.FromSeconds(PostingWeek.JitterSeconds(id, 5))).ToDateTimeOffset(), NpgsqlDbType.TimestampTz);
                await writer.WriteAsync("scheduled", NpgsqlDbType.Varchar);
                await writer.WriteAsync(true, NpgsqlDbType.Boolean);
                await writer.WriteAsync(slot.ToDateTimeOffset(), NpgsqlDbType.TimestampTz);
                await writer.WriteAsync(now, NpgsqlDbType.TimestampTz);
                await writer.WriteAsync(now, NpgsqlDbType.TimestampTz);
            }

            await writer.CompleteAsync();
        }

        await using (var parts = new NpgsqlCommand("""
            INSERT INTO post_parts (post_id, position, text)
            SELECT id, 0, 'A queued post of ordinary length, about as long as most posts are, with a link https://example.com/a'
            FROM scheduled_posts WHERE x_account_id = $1
            """, connection))
        {
            parts.Parameters.Add(new NpgsqlParameter { Value = accountId });
            await parts.ExecuteNonQueryAsync();
        }

        await using var analyze = new NpgsqlCommand("VACUUM ANALYZE scheduled_posts", connection);
        await analyze.ExecuteNonQueryAsync();
    }

    private static async Task<int[]> ReadSlotsAsync(NpgsqlDataSource dataSource, Guid accountId)
    {
        await using var command = dataSource.CreateCommand("SELECT slots FROM posting_schedules WHERE x_account_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = accountId });
        return (int[])(await command.ExecuteScalarAsync())!;
    }

    private static async Task<long> QueuedAsync(NpgsqlDataSource dataSource, Guid accountId) =>
        await ScalarAsync<long>(dataSource, "SELECT count(*) FROM scheduled_posts WHERE x_account_id = $1 AND queued AND status = 'scheduled'", accountId);

    private static async Task<long> DistinctSlotsAsync(NpgsqlDataSource dataSource, Guid accountId) =>
        await ScalarAsync<long>(dataSource, "SELECT count(DISTINCT slot_at) FROM scheduled_posts WHERE x_account_id = $1 AND queued AND status = 'scheduled'", accountId);

    private static async Task<DateTime> LastSlotAsync(NpgsqlDataSource dataSource, Guid accountId) =>
        await ScalarAsync<DateTime>(dataSource, "SELECT max(slot_at) FROM scheduled_posts WHERE x_account_id = $1", accountId);

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource dataSource, string sql, Guid accountId)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = accountId });
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
