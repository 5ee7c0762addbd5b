using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Npgsql;

namespace XGrowth.Bench;

/// <summary>
/// Live updates at scale: many <c>GET /api/events</c> streams open on one API process (one user each), then post
/// updates spread over those users, committed straight to PostgreSQL as the worker commits its outcomes. Prints the
/// delivery latency (commit started → event read by the client), the API's memory per open stream and its CPU while
/// the streams are open and idle.
/// Run: <c>dotnet run -c Release --project bench/EventsBench [-- streams updates idleSeconds]</c>.
/// </summary>
internal static class EventsBenchmark
{
    private const string Issuer = "https://bench.clerk.accounts.dev";

    private static async Task Main(string[] args)
    {
        var streamCount = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2_000;
        var updateCount = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000;
        var idleSeconds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 30;

        using var signingKey = RSA.Create(2048);
        using var database = await BenchDatabase.StartAsync();
        using var api = await ApiProcess.StartAsync(database.ConnectionString, 16, new Dictionary<string, string>
        {
            ["Clerk__Issuer"] = Issuer,
            ["Clerk__JwtKey"] = signingKey.ExportSubjectPublicKeyInfoPem(),
            ["Clerk__AuthorizedParties"] = "http://localhost:3000",
        });
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        var users = Enumerable.Range(0, streamCount).Select(i => $"user_events_bench_{i:D5}").ToArray();
        var posts = await SeedAsync(dataSource, users);
        Console.WriteLine($"Events: {streamCount:N0} streams (one user each) on one API process, {updateCount:N0} post updates; " +
            $"{Environment.ProcessorCount} cores shared by the client, the API and PostgreSQL");

        using var streamsClient = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = streamCount + 10, PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = api.Client.BaseAddress, Timeout = Timeout.InfiniteTimeSpan,
        };
        // Warm the stream path (and the JIT) with a few streams opened and closed, then measure with none open.
        using (var warm = new CancellationTokenSource())
        {
            var warming = Enumerable.Range(0, 20).Select(i => ReadStreamAsync(streamsClient, BenchTokens.Mint(signingKey, Issuer, users[i]), new ConcurrentDictionary<string, long>(), new TaskCompletionSource(), warm.Token)).ToArray();
            await Task.Delay(3000);
            await warm.CancelAsync();
            await Task.WhenAll(warming.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        }

        await Task.Delay(2000);
        var before = api.ResidentMiB();

        // arrivals[postId|marker] = Stopwatch timestamp when the client read the event.
        var arrivals = new ConcurrentDictionary<string, long>();
        using var stop = new CancellationTokenSource();
        var opened = users.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var openWatch = Stopwatch.StartNew();
        var readers = new List<Task>(streamCount);
        using (var opening = new SemaphoreSlim(64))
        {
            for (var i = 0; i < streamCount; i++)
            {
                await opening.WaitAsync();
                var ready = opened[i];
                _ = ready.Task.ContinueWith(_ => opening.Release(), TaskScheduler.Default);
                readers.Add(ReadStreamAsync(streamsClient, BenchTokens.Mint(signingKey, Issuer, users[i]), arrivals, ready, stop.Token));
            }

            await Task.WhenAll(opened.Select(o => o.Task));
        }

        Console.WriteLine($"{streamCount:N0} streams open (each got its ready event) in {openWatch.Elapsed.TotalSeconds:0.0} s");
        await Task.Delay(5000);
        var after = api.ResidentMiB();
        Console.WriteLine($"API resident memory: {before:0} MiB with no stream, {after:0} MiB with {streamCount:N0} open: " +
            $"{(after - before) * 1024 / streamCount:0.0} KiB per stream");

        var cpuBefore = api.CpuTime();
        var wall = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(idleSeconds));
        var cpu = api.CpuTime() - cpuBefore;
        Console.WriteLine($"API CPU while the {streamCount:N0} streams were open and idle for {wall.Elapsed.TotalSeconds:0} s (heartbeats every 15 s): " +
            $"{cpu.TotalMilliseconds:0} ms ({cpu / wall.Elapsed * 100:0.00} % of one core)");

        // Each update touches a different user's post, chosen at random; the text says which update it is.
        var random = new Random(13);
        var chosen = Enumerable.Range(0, streamCount).OrderBy(_ => random.Next()).Take(Math.Min(updateCount, streamCount)).ToArray();
        await RunUpdatesAsync("burst: as fast as 16 connections commit", dataSource, posts, chosen, updateCount, arrivals, perSecond: null);
        await RunUpdatesAsync("paced: 200 updates/s", dataSource, posts, chosen, updateCount, arrivals, perSecond: 200);

        await stop.CancelAsync();
        await Task.WhenAll(readers.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
    }

    private static async Task RunUpdatesAsync(string name, NpgsqlDataSource dataSource, Guid[] posts, int[] chosen, int count,
        ConcurrentDictionary<string, long> arrivals, int? perSecond)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var started = new long[count];
        var returned = new long[count];
        var total = Stopwatch.StartNew();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                if (perSecond is { } rate)
                {
                    var due = TimeSpan.FromSeconds((double)i / rate);
                    if (due > total.Elapsed)
                    {
                        await Task.Delay(due - total.Elapsed);
                    }
                }

                await using var command = dataSource.CreateCommand("UPDATE post_parts SET text = $2 WHERE post_id = $1 AND position = 0");
                var post = posts[chosen[i % chosen.Length]];
                command.Parameters.Add(new NpgsqlParameter { Value = post });
                command.Parameters.Add(new NpgsqlParameter { Value = $"{run}-{i}" });
                started[i] = Stopwatch.GetTimestamp();
                await command.ExecuteNonQueryAsync();
                returned[i] = Stopwatch.GetTimestamp();
            }
        })));
        var committed = total.Elapsed;

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Enumerable.Range(0, count).Any(i => !arrivals.ContainsKey($"{run}-{i}")) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        double[] Latencies(long[] from) => Enumerable.Range(0, count)
            .Select(i => arrivals.TryGetValue($"{run}-{i}", out var at) ? Stopwatch.GetElapsedTime(from[i], at).TotalMilliseconds : double.NaN)
            .Where(ms => !double.IsNaN(ms)).Order().ToArray();
        static double P(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
        var fromStart = Latencies(started);
        var fromCommit = Latencies(returned);
        Console.WriteLine($"{name,-40} {count:N0} updates committed in {committed.TotalSeconds:0.00} s; delivered {fromStart.Length:N0}");
        Console.WriteLine($"    from the UPDATE sent:          p50 {P(fromStart, 0.50):0} ms, p99 {P(fromStart, 0.99):0} ms, max {fromStart[^1]:0} ms");
        Console.WriteLine($"    from its commit acknowledged:  p50 {P(fromCommit, 0.50):0} ms, p99 {P(fromCommit, 0.99):0} ms, max {fromCommit[^1]:0} ms " +
            "(negative: the event was read before the committing task resumed)");
    }

    /// <summary>Reads one stream until cancelled, recording when each post.updated event (by its text) arrived.</summary>
    private static async Task ReadStreamAsync(HttpClient client, string token, ConcurrentDictionary<string, long> arrivals, TaskCompletionSource ready, CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/events");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            string? type = null;
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    type = line["event: ".Length..];
                    if (type == "ready")
                    {
                        ready.TrySetResult();
                    }
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal) && type == "post.updated")
                {
                    var now = Stopwatch.GetTimestamp();
                    using var json = JsonDocument.Parse(line["data: ".Length..]);
                    arrivals.TryAdd(json.RootElement.GetProperty("text").GetString()!, now);
                }
                else if (line.Length == 0)
                {
                    type = null;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            ready.TrySetException(e);
            throw;
        }
    }

    /// <summary>The users, one connected account and one scheduled post each; answers the post ids, by user.</summary>
    private static async Task<Guid[]> SeedAsync(NpgsqlDataSource dataSource, string[] users)
    {
        var posts = users.Select(_ => Guid.NewGuid()).ToArray();
        await using var command = dataSource.CreateCommand("""
            INSERT INTO users (id, created_at, updated_at) SELECT u, now(), now() FROM unnest(@users) AS u;
            INSERT INTO x_accounts (id, user_id, x_user_id, username, status, connected_at, updated_at)
            SELECT gen_random_uuid(), u, 'x' || n, 'bench' || n, 'connected', now(), now() FROM unnest(@users) WITH ORDINALITY AS t(u, n);
            INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, created_at, updated_at, attempts)
            SELECT p, a.id, now() + interval '30 days', 'scheduled', now(), now(), 0
            FROM unnest(@users, @posts) AS t(u, p) JOIN x_accounts AS a ON a.user_id = t.u;
            INSERT INTO post_parts (post_id, position, text) SELECT p, 0, 'seeded' FROM unnest(@posts) AS p;
            """);
        command.Parameters.AddWithValue("users", users);
        command.Parameters.AddWithValue("posts", posts);
        await command.ExecuteNonQueryAsync();
        return posts;
    }
}
