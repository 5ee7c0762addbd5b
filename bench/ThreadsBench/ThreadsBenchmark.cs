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
/// Threads with images published by 2 worker processes against a fake X that answers in 20 ms: 1,000 threads of 5
/// parts, each part with one 200 KB image, over 100 accounts, all due at the same second. Prints the drain time, parts
/// per second, duplicates, broken reply chains and parts that reached X without their image. Then one worker alone
/// publishes 50 posts with a 15 MB GIF each, all due at once (chunked upload, processing): its peak resident memory.
/// Run: <c>dotnet run -c Release --project bench/ThreadsBench</c>.
/// </summary>
internal static class ThreadsBenchmark
{
    private const int Accounts = 100;
    private const int Threads = 1_000;
    private const int PartsPerThread = 5;
    private const int ImageBytes = 200 * 1024;
    private const int GifPosts = 50;
    private const int GifBytes = 15 * 1024 * 1024;

    private static async Task Main()
    {
        using var database = await BenchDatabase.StartAsync();
        var fakeX = await ThreadsFakeX.StartAsync();
        // The API applies the migrations; then it is not needed.
        using (await ApiProcess.StartAsync(database.ConnectionString, 4, new Dictionary<string, string> { ["Clerk__Issuer"] = "https://bench.clerk.accounts.dev" }))
        {
        }

        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        var accounts = await BenchAccounts.SeedConnectedAsync(dataSource, Accounts);
        var workerSettings = new Dictionary<string, string> { ["X__ApiBaseUrl"] = fakeX.BaseUrl, ["Logging__LogLevel__Default"] = "Warning" };
        using var worker1 = await ApiProcess.StartAsync("XGrowth.Worker.dll", database.ConnectionString, 4, workerSettings);
        using var worker2 = await ApiProcess.StartAsync("XGrowth.Worker.dll", database.ConnectionString, 4, workerSettings);
        Console.WriteLine($"Threads: fake X answers in {ThreadsFakeX.Latency.TotalMilliseconds} ms; 2 worker processes; {Environment.ProcessorCount} cores shared by everything");

        var seeding = System.Diagnostics.Stopwatch.StartNew();
        var images = await InsertMediaAsync(dataSource, Threads * PartsPerThread, ImageBytes, gif: false);
        Console.WriteLine($"Stored {images.Length:N0} images of {ImageBytes / 1024} KB in PostgreSQL in {seeding.Elapsed.TotalSeconds:F0} s");
        var dueAt = DateTimeOffset.UtcNow.AddSeconds(5);
        await InsertThreadsAsync(dataSource, accounts, dueAt, Threads, PartsPerThread, (t, p) => Text(t, p), (t, p) => images[(t * PartsPerThread) + p]);
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
        var withoutImage = created.Count(c => c.MediaIds.Length != 1 || !fakeX.Media.TryGetValue(c.MediaIds[0], out var bytes) || bytes != ImageBytes);
        Console.WriteLine($"{distinct}/{expected} parts on X, {published}/{Threads} threads published, duplicate parts {created.Count - distinct}, " +
            $"broken reply chains {brokenChains}, parts without their whole image {withoutImage}; drain {(last - dueAt).TotalSeconds:F2} s from the due time " +
            $"(first to last part {(last - first).TotalSeconds:F2} s, {distinct / Math.Max(0.001, (last - first).TotalSeconds):F0} parts/s, " +
            $"{fakeX.Media.Count:N0} images uploaded)");
        Console.WriteLine($"worker peak resident memory during the threads: {worker1.PeakResidentMiB():F0} MiB and {worker2.PeakResidentMiB():F0} MiB");
        worker1.Dispose();
        worker2.Dispose();

        await GifMemoryAsync(dataSource, database.ConnectionString, accounts, fakeX, workerSettings);
        await fakeX.DisposeAsync();
    }

    /// <summary>50 posts with a 15 MB GIF each, due at once, published by one worker: its peak memory (goal: under 400 MB).</summary>
    private static async Task GifMemoryAsync(NpgsqlDataSource dataSource, string connectionString, Guid[] accounts, ThreadsFakeX fakeX,
        Dictionary<string, string> workerSettings)
    {
        var gifs = await InsertMediaAsync(dataSource, GifPosts, GifBytes, gif: true);
        using var worker = await ApiProcess.StartAsync("XGrowth.Worker.dll", connectionString, 4, workerSettings);
        var idle = worker.ResidentMiB();
        var dueAt = DateTimeOffset.UtcNow.AddSeconds(3);
        await InsertThreadsAsync(dataSource, accounts, dueAt, GifPosts, 1, (t, _) => $"gif post {t}", (t, _) => gifs[t]);
        var started = DateTime.UtcNow;
        while (await CountAsync(dataSource, "SELECT count(*) FROM scheduled_posts WHERE status = 'published' AND x_post_id IS NOT NULL") < (Threads + GifPosts)
            && DateTime.UtcNow < started.AddMinutes(5))
        {
            await Task.Delay(200);
        }

        var posted = fakeX.Created.Count(c => c.Text.StartsWith("gif post ", StringComparison.Ordinal));
        var whole = fakeX.Created.Count(c => c.Text.StartsWith("gif post ", StringComparison.Ordinal) && c.MediaIds.Length == 1
            && fakeX.Media.TryGetValue(c.MediaIds[0], out var bytes) && bytes == GifBytes);
        Console.WriteLine($"GIFs: {posted}/{GifPosts} posts with a {GifBytes / (1024 * 1024)} MB GIF published by one worker in " +
            $"{(DateTime.UtcNow - dueAt.UtcDateTime).TotalSeconds:F1} s from the due time ({whole} with their whole GIF); " +
            $"worker resident memory idle {idle:F0} MiB, peak {worker.PeakResidentMiB():F0} MiB (goal: under 400 MB)");
    }

    /// <summary>Media owned by the accounts' users, each <paramref name="bytes"/> of random bytes in 1 MiB pieces, as the upload API stores them.</summary>
    private static async Task<Guid[]> InsertMediaAsync(NpgsqlDataSource dataSource, int count, int bytes, bool gif)
    {
        var ids = Enumerable.Range(0, count).Select(_ => Guid.CreateVersion7()).ToArray();
        // One random file, written for every media item: what is measured is storage and transfer, not the bytes.
        var content = new byte[bytes];
        Random.Shared.NextBytes(content);
        await using var connection = await dataSource.OpenConnectionAsync();
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY media (id, user_id, type, content_type, bytes, width, height, created_at, updated_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < count; i++)
            {
                await copy.WriteRowAsync(default, ids[i], $"user_bench_{i % Accounts}", gif ? "gif" : "image", gif ? "image/gif" : "image/jpeg",
                    (long)bytes, 1200, 800, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
            }

            await copy.CompleteAsync();
        }

        await using (var copy = await connection.BeginBinaryImportAsync("COPY media_contents (media_id, index, data) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < count; i++)
            {
                for (var index = 0; index * MediaChunk.Size < bytes; index++)
                {
                    await copy.WriteRowAsync(default, ids[i], index, content[(index * MediaChunk.Size)..Math.Min(bytes, (index + 1) * MediaChunk.Size)]);
                }
            }

            await copy.CompleteAsync();
        }

        return ids;
    }

    private static string Text(int thread, int part) => $"thread {thread} part {part + 1}/{PartsPerThread}";

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Threads of the accounts (thread t on account t mod 100, owner of media t mod 100), each part with one media item.</summary>
    private static async Task InsertThreadsAsync(NpgsqlDataSource dataSource, Guid[] accounts, DateTimeOffset dueAt, int threads, int parts,
        Func<int, int, string> text, Func<int, int, Guid> media)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var ids = Enumerable.Range(0, threads).Select(_ => Guid.CreateVersion7()).ToArray();
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY scheduled_posts (id, x_account_id, scheduled_at, status, created_at, updated_at, attempts) FROM STDIN (FORMAT BINARY)"))
        {
            for (var t = 0; t < threads; t++)
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
            for (var t = 0; t < threads; t++)
            {
                for (var p = 0; p < parts; p++)
                {
                    await copy.WriteRowAsync(default, ids[t], p, text(t, p));
                }
            }

            await copy.CompleteAsync();
        }

        await using (var copy = await connection.BeginBinaryImportAsync("COPY post_part_media (post_id, part_position, position, media_id) FROM STDIN (FORMAT BINARY)"))
        {
            for (var t = 0; t < threads; t++)
            {
                for (var p = 0; p < parts; p++)
                {
                    await copy.WriteRowAsync(default, ids[t], p, 0, media(t, p));
                }
            }

            await copy.CompleteAsync();
        }

        await transaction.CommitAsync();
    }
}

/// <summary>
/// X's <c>POST /2/tweets</c> and media upload (one request for images; initialize, append, finalize and one STATUS for
/// GIFs), each answering in 20 ms, noting each post's text, reply target, media, id and arrival, and each media's size.
/// </summary>
internal sealed class ThreadsFakeX : IAsyncDisposable
{
    public static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(20);

    private readonly WebApplication _app;

    private ThreadsFakeX(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public ConcurrentQueue<(string Text, string? InReplyTo, string Id, DateTimeOffset At, string[] MediaIds)> Created { get; } = new();

    /// <summary>Bytes received per media id.</summary>
    public ConcurrentDictionary<string, long> Media { get; } = new();

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
            var mediaIds = body.RootElement.TryGetProperty("media", out var media)
                ? media.GetProperty("media_ids").EnumerateArray().Select(m => m.GetString()!).ToArray() : [];
            await Task.Delay(Latency);
            var id = Interlocked.Increment(ref ids).ToString(CultureInfo.InvariantCulture);
            server.Created.Enqueue((text, inReplyTo, id, DateTimeOffset.UtcNow, mediaIds));
            return Results.Json(new { data = new { id, text } }, statusCode: 201);
        });
        app.MapPost("/2/media/upload", async (HttpContext context) =>
        {
            var form = await context.Request.ReadFormAsync();
            await Task.Delay(Latency);
            var id = "m" + Interlocked.Increment(ref ids).ToString(CultureInfo.InvariantCulture);
            server.Media[id] = form.Files["media"]!.Length;
            return Results.Json(new { data = new { id, expires_after_secs = 86_400 } });
        }).DisableAntiforgery();
        app.MapPost("/2/media/upload/initialize", async () =>
        {
            await Task.Delay(Latency);
            var id = "m" + Interlocked.Increment(ref ids).ToString(CultureInfo.InvariantCulture);
            server.Media[id] = 0;
            return Results.Json(new { data = new { id, expires_after_secs = 86_400 } });
        });
        app.MapPost("/2/media/upload/{id}/append", async (HttpContext context, string id) =>
        {
            var form = await context.Request.ReadFormAsync();
            await Task.Delay(Latency);
            server.Media.AddOrUpdate(id, form.Files["media"]!.Length, (_, before) => before + form.Files["media"]!.Length);
            return Results.NoContent();
        }).DisableAntiforgery();
        app.MapPost("/2/media/upload/{id}/finalize", async (string id) =>
        {
            await Task.Delay(Latency);
            return Results.Json(new { data = new { id, processing_info = new { state = "pending", check_after_secs = 1 } } });
        });
        app.MapGet("/2/media/upload", async (string media_id) =>
        {
            await Task.Delay(Latency);
            return Results.Json(new { data = new { id = media_id, processing_info = new { state = "succeeded" } } });
        });
        await app.StartAsync();
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
