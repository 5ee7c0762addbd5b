using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
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
/// Threads published by 2 worker processes against a fake X that answers in 20 ms: 1,000 threads of 5 parts over 100
/// accounts, all due at the same second. Prints the drain time, parts per second, duplicates and broken reply chains.
/// (Images are not part of it yet: media publishing is not built.)
/// Run: <c>dotnet run -c Release --project bench/ThreadsBench</c>.
/// </summary>
internal static class ThreadsBenchmark
{
    private const int Accounts = 100;
    private const int Threads = 1_000;
    private const int PartsPerThread = 5;

    private static async Task Main()
    {
        using var database = await BenchDatabase.StartAsync();
        var fakeX = await ThreadsFakeX.StartAsync();
        // The API applies the migrations; then it is not needed.
        using (await ApiProcess.StartAsync(database.ConnectionString, 4, new Dictionary<string, string> { ["Clerk__Issuer"] = "https://bench.clerk.accounts.dev" }))
        {
        }

        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        var accounts = await SeedAccountsAsync(dataSource);
        var workerSettings = new Dictionary<string, string> { ["X__ApiBaseUrl"] = fakeX.BaseUrl, ["Logging__LogLevel__Default"] = "Warning" };
        using var worker1 = await ApiProcess.StartAsync("XGrowth.Worker.dll", database.ConnectionString, 4, workerSettings);
        using var worker2 = await ApiProcess.StartAsync("XGrowth.Worker.dll", database.ConnectionString, 4, workerSettings);
        Console.WriteLine($"Threads: fake X answers in {ThreadsFakeX.Latency.TotalMilliseconds} ms; 2 worker processes; {Environment.ProcessorCount} cores shared by everything");

        var dueAt = DateTimeOffset.UtcNow.AddSeconds(5);
        await InsertThreadsAsync(dataSource, accounts, dueAt);
        var expected = Threads * PartsPerThread;
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (fakeX.Created.Select(c => c.Text).Distinct().Count() < expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        await Task.Delay(2000); // late duplicates, if any, would arrive now
        var created = fakeX.Created.ToList();
        var distinct = created.Select(c => c.Text).Distinct().Count();
        var byText = created.GroupBy(c => c.Text).ToDictionary(g => g.Key, g => g.First());
        // Part i of a thread must reply to the id X gave part i-1 (and part 1 to nothing).
        var brokenChains = 0;
        for (var t = 0; t < Threads; t++)
        {
            for (var p = 0; p < PartsPerThread; p++)
            {
                var previous = p == 0 ? null : byText.TryGetValue(Text(t, p - 1), out var before) ? before.Id : "missing";
                if (!byText.TryGetValue(Text(t, p), out var part) || part.InReplyTo != previous)
                {
                    brokenChains++;
                    break;
                }
            }
        }

        var published = await CountAsync(dataSource, "SELECT count(*) FROM scheduled_posts WHERE status = 'published'");
        var last = created.Max(c => c.At);
        var first = created.Min(c => c.At);
        Console.WriteLine($"{distinct}/{expected} parts on X, {published}/{Threads} threads published, duplicate parts {created.Count - distinct}, " +
            $"broken reply chains {brokenChains}; drain {(last - dueAt).TotalSeconds:F2} s from the due time " +
            $"(first to last part {(last - first).TotalSeconds:F2} s, {distinct / Math.Max(0.001, (last - first).TotalSeconds):F0} parts/s)");
        await fakeX.DisposeAsync();
    }

    private static string Text(int thread, int part) => $"thread {thread} part {part + 1}/{PartsPerThread}";

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>100 users with one connected account each, tokens encrypted with the key ring the workers read.</summary>
    private static async Task<Guid[]> SeedAccountsAsync(NpgsqlDataSource dataSource)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDbContext<XGrowthDbContext>(options => options.UseXGrowthDatabase(dataSource));
        services.AddDataProtection().SetApplicationName("XGrowth").PersistKeysToDbContext<XGrowthDbContext>();
        await using var provider = services.BuildServiceProvider();
        var protector = new XTokenProtector(provider.GetRequiredService<IDataProtectionProvider>());
        var accounts = Enumerable.Range(0, Accounts).Select(_ => Guid.NewGuid()).ToArray();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using (var users = await connection.BeginBinaryImportAsync("COPY users (id, created_at, updated_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < Accounts; i++)
            {
                await users.WriteRowAsync(default, $"user_bench_{i}", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
            }

            await users.CompleteAsync();
        }

        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY x_accounts (id, user_id, x_user_id, username, status, access_token_protected, refresh_token_protected, access_token_expires_at, connected_at, updated_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < Accounts; i++)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync(accounts[i], NpgsqlDbType.Uuid);
                await copy.WriteAsync($"user_bench_{i}", NpgsqlDbType.Varchar);
                await copy.WriteAsync(i.ToString(CultureInfo.InvariantCulture), NpgsqlDbType.Varchar);
                await copy.WriteAsync($"bench{i}", NpgsqlDbType.Varchar);
                await copy.WriteAsync("connected", NpgsqlDbType.Varchar);
                await copy.WriteAsync(protector.Protect($"token_{i}"), NpgsqlDbType.Text);
                await copy.WriteAsync(protector.Protect($"refresh_{i}"), NpgsqlDbType.Text);
                await copy.WriteAsync(DateTimeOffset.UtcNow.AddHours(2), NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
            }

            await copy.CompleteAsync();
        }

        return accounts;
    }

    private static async Task InsertThreadsAsync(NpgsqlDataSource dataSource, Guid[] accounts, DateTimeOffset dueAt)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var ids = Enumerable.Range(0, Threads).Select(_ => Guid.CreateVersion7()).ToArray();
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY scheduled_posts (id, x_account_id, scheduled_at, status, created_at, updated_at, attempts) FROM STDIN (FORMAT BINARY)"))
        {
            for (var t = 0; t < Threads; t++)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync(ids[t], NpgsqlDbType.Uuid);
                await copy.WriteAsync(accounts[t % accounts.Length], NpgsqlDbType.Uuid);
                await copy.WriteAsync(dueAt, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync("scheduled", NpgsqlDbType.Varchar);
                await copy.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(0, NpgsqlDbType.Integer);
            }

            await copy.CompleteAsync();
        }

        await using (var copy = await connection.BeginBinaryImportAsync("COPY post_parts (post_id, position, text) FROM STDIN (FORMAT BINARY)"))
        {
            for (var t = 0; t < Threads; t++)
            {
                for (var p = 0; p < PartsPerThread; p++)
                {
                    await copy.WriteRowAsync(default, ids[t], p, Text(t, p));
                }
            }

            await copy.CompleteAsync();
        }

        await transaction.CommitAsync();
    }
}

/// <summary>X's <c>POST /2/tweets</c>, answering in 20 ms, noting each post's text, reply target, id and arrival.</summary>
internal sealed class ThreadsFakeX : IAsyncDisposable
{
    public static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(20);

    private readonly WebApplication _app;

    private ThreadsFakeX(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public ConcurrentQueue<(string Text, string? InReplyTo, string Id, DateTimeOffset At)> Created { get; } = new();

    public static async Task<ThreadsFakeX> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new ThreadsFakeX(app);
        long ids = 0;
        app.MapPost("/2/tweets", async (HttpContext context) =>
        {
            using var body = await System.Text.Json.JsonDocument.ParseAsync(context.Request.Body);
            var text = body.RootElement.GetProperty("text").GetString()!;
            var inReplyTo = body.RootElement.TryGetProperty("reply", out var reply) ? reply.GetProperty("in_reply_to_tweet_id").GetString() : null;
            await Task.Delay(Latency);
            var id = Interlocked.Increment(ref ids).ToString(CultureInfo.InvariantCulture);
            server.Created.Enqueue((text, inReplyTo, id, DateTimeOffset.UtcNow));
            return Results.Json(new { data = new { id, text } }, statusCode: 201);
        });
        await app.StartAsync();
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
