extern alias apphost;
using System.Diagnostics;
using apphost::XGrowth.AppHost.Database;
using Npgsql;

namespace XGrowth.Bench;

/// <summary>A throwaway PostgreSQL cluster (the AppHost's local mode) with an empty <c>xgrowth</c> database.</summary>
internal sealed class BenchDatabase : IDisposable
{
    private readonly LocalPostgres _cluster;

    private BenchDatabase(LocalPostgres cluster, string connectionString)
    {
        _cluster = cluster;
        ConnectionString = connectionString;
    }

    public string ConnectionString { get; }

    public static async Task<BenchDatabase> StartAsync()
    {
        var root = Path.Combine(Path.GetTempPath(), "xgrowth-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var cluster = new LocalPostgres(LocalPostgres.FindBinDirectory() ?? throw new InvalidOperationException("PostgreSQL binaries not found"), root);
        var password = cluster.Prepare();
        var port = LocalPostgres.FreeLoopbackPort();
        cluster.StartDetached(port);
        var server = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = port, Username = "postgres", Password = password, Database = "postgres" };
        await using (var admin = new NpgsqlConnection(server.ConnectionString))
        {
            await admin.OpenAsync();
            await new NpgsqlCommand("CREATE DATABASE xgrowth", admin).ExecuteNonQueryAsync();
        }

        return new BenchDatabase(cluster, new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = "xgrowth", MaxPoolSize = 100 }.ConnectionString);
    }

    public void Dispose()
    {
        _cluster.Stop();
        Directory.Delete(_cluster.RootDirectory, recursive: true);
    }
}

/// <summary>The real API as its own process (Release build, Production environment), on a free port.</summary>
internal sealed class ApiProcess : IDisposable
{
    private readonly Process _process;
    private bool _disposed;

    private ApiProcess(Process process, HttpClient client)
    {
        _process = process;
        Client = client;
    }

    public HttpClient Client { get; }

    /// <summary>The service's resident memory now, in MiB (Linux: /proc/{pid}/status VmRSS).</summary>
    public double ResidentMiB()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return double.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024;
            }
        }

        return double.NaN;
    }

    /// <summary>The most resident memory the service has had so far, in MiB (Linux: /proc/{pid}/status VmHWM).</summary>
    public double PeakResidentMiB()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return double.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024;
            }
        }

        return double.NaN;
    }

    /// <summary>A self-signed certificate for <c>DataProtection:Certificate</c>, made for this run (PKCS#12, base64).</summary>
    private static readonly string KeyRingCertificate = NewKeyRingCertificate();

    private static string NewKeyRingCertificate()
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=xgrowth-bench", rsa,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return Convert.ToBase64String(certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12));
    }

    /// <summary>The CPU time (user and system) the service has used so far (Linux: /proc/{pid}/stat).</summary>
    public TimeSpan CpuTime()
    {
        // Fields 14 and 15 (utime, stime), in clock ticks, after the parenthesized command name.
        var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ is 100 on Linux
    }

    public static Task<ApiProcess> StartAsync(string connectionString, int concurrency, IReadOnlyDictionary<string, string> settings) =>
        StartAsync("XGrowth.Api.dll", connectionString, concurrency, settings);

    /// <summary>Starts one of the services (<c>XGrowth.Api.dll</c>, <c>XGrowth.Worker.dll</c>) and waits for its /health.</summary>
    public static async Task<ApiProcess> StartAsync(string dll, string connectionString, int concurrency, IReadOnlyDictionary<string, string> settings)
    {
        var port = LocalPostgres.FreeLoopbackPort();
        var startInfo = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, dll)])
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        startInfo.Environment["ConnectionStrings__xgrowth"] = connectionString;
        startInfo.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        startInfo.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // Production refuses an unencrypted key ring; every process of a run shares this certificate.
        startInfo.Environment["DataProtection__Certificate"] = KeyRingCertificate;
        foreach (var (key, value) in settings)
        {
            startInfo.Environment[key] = value;
        }

        var process = Process.Start(startInfo)!;
        // The API logs as configured in its appsettings.json; its output is read (so it never blocks), and the last
        // lines are kept to explain a failed start.
        var lastLines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lastLines.Enqueue(e.Data);
                while (lastLines.Count > 30 && lastLines.TryDequeue(out string? _))
                {
                }
            }
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine("api: " + e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var api = new ApiProcess(process, client);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if ((await client.GetAsync("/health")).IsSuccessStatusCode)
                {
                    return api;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(250);
        }

        api.Dispose();
        throw new TimeoutException($"{dll} did not become healthy within 60 s. Its last output:\n" + string.Join('\n', lastLines));
    }

    /// <summary>Stops the service; a second call does nothing (a bench may stop a service early, before its <c>using</c> ends).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}

/// <summary>Runs operations from a fixed number of concurrent workers and reports throughput and latency.</summary>
internal static class Load
{
    public sealed record Result(int Count, TimeSpan Elapsed, double[] SortedLatenciesMs, int Errors)
    {
        public double PerSecond => Count / Elapsed.TotalSeconds;

        public double Percentile(double p) => SortedLatenciesMs[Math.Min(SortedLatenciesMs.Length - 1, (int)(p * SortedLatenciesMs.Length))];
    }

    /// <summary>Operation <c>i</c> for i in [0, count); an operation returns false for an error.</summary>
    public static async Task<Result> RunAsync(int count, int concurrency, Func<int, Task<bool>> operation)
    {
        var latencies = new double[count];
        var next = -1;
        var errors = 0;
        var total = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var started = Stopwatch.GetTimestamp();
                if (!await operation(i))
                {
                    Interlocked.Increment(ref errors);
                }

                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        })));
        total.Stop();
        Array.Sort(latencies);
        return new Result(count, total.Elapsed, latencies, errors);
    }

    public static void Print(string name, Result result) =>
        Console.WriteLine($"{name,-40} {result.PerSecond,8:F0}/s   p50 {result.Percentile(0.50),6:F2} ms   p99 {result.Percentile(0.99),6:F2} ms   " +
            $"max {result.SortedLatenciesMs[^1],7:F2} ms   errors {result.Errors}");
}

/// <summary>Clerk-shaped session tokens for the benchmarks' users, signed with the key the API is given as <c>Clerk:JwtKey</c>.</summary>
internal static class BenchTokens
{
    public static string Mint(System.Security.Cryptography.RSA key, string issuer, string userId)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(
            new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
            {
                Claims = new Dictionary<string, object>
                {
                    ["sub"] = userId, ["sid"] = "sess_bench", ["iss"] = issuer, ["azp"] = "http://localhost:3000",
                    ["iat"] = now, ["nbf"] = now - 5, ["exp"] = now + 3600,
                },
                SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(
                    new Microsoft.IdentityModel.Tokens.RsaSecurityKey(key) { KeyId = "bench" }, Microsoft.IdentityModel.Tokens.SecurityAlgorithms.RsaSha256),
            });
    }
}
