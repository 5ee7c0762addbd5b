extern alias apphost;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using apphost::XGrowth.AppHost.Database;
using Npgsql;

namespace XGrowth.Tests.EndToEnd;

/// <summary>
/// The AppHost as a real process, as <c>dotnet run --project XGrowth.AppHost</c> starts it, in local PostgreSQL mode
/// on a data directory of its own. Every port is free or randomized, so that it never meets a developer's AppHost.
/// </summary>
public sealed class AppHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ITestOutputHelper? _testOutput = TestContext.Current.TestOutputHelper;

    private AppHostProcess(Process process)
    {
        _process = process;
        Id = process.Id;
        _process.OutputDataReceived += (_, line) => Keep(line.Data);
        _process.ErrorDataReceived += (_, line) => Keep(line.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Id { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything it printed, stdout and stderr, line by line.</summary>
    public IReadOnlyList<string> Output => [.. _output];

    /// <summary>Starts an AppHost on <paramref name="server"/>'s data directory, with its PostgreSQL at <paramref name="databasePort"/>.</summary>
    public static AppHostProcess Start(LocalPostgres server, int databasePort)
    {
        var startInfo = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "XGrowth.AppHost.dll")])
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var environment = startInfo.Environment;
        environment["DOTNET_ENVIRONMENT"] = "Development";
        environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        environment["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
        environment["ASPNETCORE_URLS"] = LoopbackUrl();
        environment["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = LoopbackUrl();
        environment["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = LoopbackUrl();
        // Proxied endpoints (the API's 8002, the worker's, the dashboard's) on random ports, as Aspire.Hosting.Testing does.
        environment["DcpPublisher__RandomizePorts"] = "true";
        environment["Database__Mode"] = "local";
        environment["Database__DataDirectory"] = server.RootDirectory;
        environment["Database__Port"] = databasePort.ToString(CultureInfo.InvariantCulture);
        environment["StandIns__DataDirectory"] = Path.Combine(server.RootDirectory, "stand-ins");
        return new AppHostProcess(Process.Start(startInfo)!);
    }

    /// <summary>Waits until <paramref name="server"/> answers a query, failing if the AppHost exits first.</summary>
    public async Task WaitForDatabaseAsync(LocalPostgres server, int port, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"The AppHost exited ({_process.ExitCode}) before its PostgreSQL answered:\n{string.Join('\n', Output)}");
            }

            try
            {
                await QueryAsync(server, port, "SELECT 1", cancellationToken);
                return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException)
            {
                // Not made or not up yet.
            }

            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>Waits until a line containing <paramref name="text"/> is printed, and returns it.</summary>
    public async Task<string> WaitForOutputAsync(string text, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_output.FirstOrDefault(line => line.Contains(text, StringComparison.Ordinal)) is { } printed)
            {
                return printed;
            }

            if (_process.HasExited)
            {
                Assert.Fail($"The AppHost exited ({_process.ExitCode}) without printing '{text}':\n{string.Join('\n', Output)}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>Runs a query on <paramref name="server"/> as its superuser and returns the first value.</summary>
    public static async Task<object?> QueryAsync(LocalPostgres server, int port, string sql, CancellationToken cancellationToken)
    {
        var connectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1", Port = port, Username = LocalPostgres.SuperUser, Database = "postgres",
            Password = (await File.ReadAllTextAsync(server.PasswordFile, cancellationToken)).Trim(),
            Pooling = false, Timeout = 5,
        }.ConnectionString;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>Sends SIGINT, as Ctrl+C in its terminal does.</summary>
    public void Interrupt()
    {
        using var kill = Process.Start("kill", ["-INT", Id.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    /// <summary>Ends the AppHost process alone with SIGKILL, as a crash or <c>kill -9</c> does; what it started lives on.</summary>
    public void Kill() => _process.Kill(entireProcessTree: false);

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>Stops it as Ctrl+C does, or, if that takes too long, kills it and everything it started.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Interrupt();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
            try
            {
                _testOutput?.WriteLine($"[apphost {Id}] {line}");
            }
            catch (InvalidOperationException)
            {
                // The test has ended; the line is still in Output.
            }
        }
    }

    private static string LoopbackUrl() => $"http://127.0.0.1:{LocalPostgres.FreeLoopbackPort()}";
}
