using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Bench;

/// <summary>
/// The worker publishing against a fake X that answers in 20 ms, as separate worker processes on a local PostgreSQL:
/// a burst (10,000 posts over 1,000 accounts due at the same second, 2 workers), a steady load (100 posts due per
/// second for 60 s), and the quiet load on PostgreSQL with nothing due.
/// Run: <c>dotnet run -c Release --project bench/PublishBench</c>.
/// </summary>
internal static class PublishBenchmark
{
    private const int Accounts = 1_000;

    private static async Task Main()
    {
        using var database = await BenchDatabase.StartAsync();
        var fakeX = await FakeXServer.StartAsync();
        // The API applies the migrations; then it is not needed.
        using (await ApiProcess.StartAsync(database.ConnectionString, 4, new Dictionary<string, string> { ["Clerk__Issuer"] = "https://bench.clerk.accounts.dev" }))
        {
        }

        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        var accounts = await BenchAccounts.SeedConnectedAsync(dataSource, Accounts);
        var workerSettings = new Dictionary<string, string>
        {
            ["X__ApiBaseUrl"] = fakeX.BaseUrl,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        using var worker1 = await ApiProcess.StartAsync("XGrowth.Worker.dll", database.ConnectionString, 4, workerSettings);
        using var worker2 = await ApiProcess.StartAsync("XGrowth.Worker.dll", database.ConnectionString, 4, workerSettings);
        Console.WriteLine($"Publishing: fake X answers in {FakeXServer.Latency.TotalMilliseconds} ms; 2 worker processes; {Environment.ProcessorCount} cores shared by everything");

        // Quiet first (before the bursts leave work for autovacuum, whose transactions would count too): nothing due;
        // how many transactions the two idle workers cause.
        await Task.Delay(TimeSpan.FromSeconds(5));
        var before = await TransactionsAsync(dataSource);
        await Task.Delay(TimeSpan.FromSeconds(20));
        var after = await TransactionsAsync(dataSource);
        Console.WriteLine($"quiet: {(after - before - 1) / 20.0:F1} transactions/s on PostgreSQL from 2 idle workers (pg_stat_database, 20 s)");

        // Burst: 10,000 posts over 1,000 accounts, all due at the same second.
        var burstAt = DateTimeOffset.UtcNow.AddSeconds(5);
        await InsertPostsAsync(dataSource, accounts, Enumerable.Range(0, 10_000).Select(i => ($"burst {i}", burstAt)));
        await fakeX.WaitForAsync("burst ", 10_000, TimeSpan.FromSeconds(90));
        Report("burst", fakeX.Arrivals("burst "), at => burstAt, 10_000);

        // Steady: 100 posts due per second for 60 s.
        var steadyStart = DateTimeOffset.UtcNow.AddSeconds(5);
        var steady = Enumerable.Range(0, 6_000).Select(i => ($"steady {i}", steadyStart.AddMilliseconds(i * 10))).ToArray();
        var due = steady.ToDictionary(p => p.Item1, p => p.Item2);
        await InsertPostsAsync(dataSource, accounts, steady);
        await fakeX.WaitForAsync("steady ", 6_000, TimeSpan.FromSeconds(120));
        Report("steady", fakeX.Arrivals("steady "), text => due[text], 6_000);

        await fakeX.DisposeAsync();
    }

    private static void Report(string name, List<(string Text, DateTimeOffset At)> arrivals, Func<string, DateTimeOffset> dueOf, int expected)
    {
        var distinct = arrivals.Select(a => a.Text).Distinct().Count();
        var lateness = arrivals.GroupBy(a => a.Text).Select(g => (g.Min(a => a.At) - dueOf(g.Key)).TotalMilliseconds).Order().ToArray();
        var first = arrivals.Min(a => a.At);
        var last = arrivals.Max(a => a.At);
        double P(double p) => lateness[Math.Min(lateness.Length - 1, (int)(p * lateness.Length))];
        Console.WriteLine($"{name}: {distinct}/{expected} published, duplicates {arrivals.Count - distinct}, drain {(last - dueOf(arrivals[0].Text)).TotalSeconds:F2} s " +
            $"(first to last {(last - first).TotalSeconds:F2} s, {distinct / Math.Max(0.001, (last - first).TotalSeconds):F0} posts/s), " +
            $"lateness p50 {P(0.5):F0} ms, p99 {P(0.99):F0} ms, max {lateness[^1]:F0} ms");
    }

    private static async Task<long> TransactionsAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'xgrowth'");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task InsertPostsAsync(NpgsqlDataSource dataSource, Guid[] accounts, IEnumerable<(string Text, DateTimeOffset At)> posts)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var texts = new List<(Guid Id, string Text)>();
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY scheduled_posts (id, x_account_id, scheduled_at, status, created_at, updated_at, attempts) FROM STDIN (FORMAT BINARY)"))
        {
            var i = 0;
            foreach (var (text, at) in posts)
            {
                var id = Guid.CreateVersion7();
                texts.Add((id, text));
                await copy.StartRowAsync();
                await copy.WriteAsync(id, NpgsqlDbType.Uuid);
                await copy.WriteAsync(accounts[i++ % accounts.Length], NpgsqlDbType.Uuid);
                await copy.WriteAsync(at, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync("scheduled", NpgsqlDbType.Varchar);
                await copy.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(0, NpgsqlDbType.Integer);
            }

            await copy.CompleteAsync();
        }

        await using (var copy = await connection.BeginBinaryImportAsync("COPY post_parts (post_id, position, text) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var (id, text) in texts)
            {
                await copy.WriteRowAsync(default, id, 0, text);
            }

            await copy.CompleteAsync();
        }

        await transaction.CommitAsync();
    }
}

/// <summary>X's <c>POST /2/tweets</c>, answering in 20 ms and noting when each post arrived.</summary>
internal sealed class FakeXServer : IAsyncDisposable
{
    public static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(20);

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(string Text, DateTimeOffset At)> _arrivals = new();

    private FakeXServer(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public static async Task<FakeXServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new FakeXServer(app);
        long ids = 0;
        app.MapPost("/2/tweets", async (HttpContext context) =>
        {
            var arrived = DateTimeOffset.UtcNow;
            using var body = await System.Text.Json.JsonDocument.ParseAsync(context.Request.Body);
            var text = body.RootElement.GetProperty("text").GetString()!;
            server._arrivals.Enqueue((text, arrived));
            await Task.Delay(Latency);
            return Results.Json(new { data = new { id = Interlocked.Increment(ref ids).ToString(CultureInfo.InvariantCulture), text } }, statusCode: 201);
        });
        await app.StartAsync();
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    public List<(string Text, DateTimeOffset At)> Arrivals(string prefix) => _arrivals.Where(a => a.Text.StartsWith(prefix, StringComparison.Ordinal)).ToList();

    public async Task WaitForAsync(string prefix, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Arrivals(prefix).Select(a => a.Text).Distinct().Count() < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        await Task.Delay(2000); // late duplicates, if any, would arrive now
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
