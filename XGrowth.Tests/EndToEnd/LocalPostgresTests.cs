extern alias apphost;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using apphost::XGrowth.AppHost.Database;

namespace XGrowth.Tests.EndToEnd;

/// <summary>
/// The AppHost's own PostgreSQL (local mode) across real AppHost processes: one AppHost per data directory, a clean
/// shutdown on Ctrl+C, recovery after a crash, and files only their owner can read. Each test has its own directory.
/// </summary>
public sealed class LocalPostgresTests : IDisposable
{
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = OwnerOnlyFile | UnixFileMode.UserExecute;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);

    private readonly LocalPostgres _server = new(
        LocalPostgres.FindBinDirectory() ?? throw new InvalidOperationException("The tests need PostgreSQL's server binaries."),
        Path.Combine(Path.GetTempPath(), "xgrowth-local-" + Guid.NewGuid().ToString("N")[..12]));

    private readonly int _port = LocalPostgres.FreeLoopbackPort();

    private static CancellationToken Bounded(TimeSpan timeout)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        source.CancelAfter(timeout);
        return source.Token;
    }

    [Fact]
    public async Task A_second_AppHost_on_the_same_data_directory_says_the_first_is_running_and_leaves_its_database_alone()
    {
        var cancellationToken = Bounded(StartTimeout);
        await using var first = AppHostProcess.Start(_server, _port);
        await first.WaitForDatabaseAsync(_server, _port, cancellationToken);
        var login = await first.WaitForOutputAsync("Login to the dashboard at ", cancellationToken);
        var loginUrl = login[login.IndexOf("http", StringComparison.Ordinal)..].Trim();
        var postmaster = PostmasterProcessId();

        // Started exactly as the first (same directory, same ports), as a second `dotnet run` in another terminal is.
        await using var second = AppHostProcess.Start(_server, _port);
        await second.WaitForExitAsync(Bounded(StopTimeout));

        Assert.Equal(DatabaseResources.CannotStartExitCode, second.ExitCode);
        Assert.NotEqual(0, second.ExitCode);
        var message = Assert.Single(second.Output, line => line.Trim().Length > 0);
        Assert.Equal(
            $"XGrowth is already running (dashboard at {loginUrl}, AppHost process {first.Id}); stop it first, or give this one another Database:DataDirectory.",
            message);
        Assert.False(first.HasExited);
        Assert.Equal(postmaster, PostmasterProcessId());
        Assert.Equal(1, await AppHostProcess.QueryAsync(_server, _port, "SELECT 1", cancellationToken));
    }

    [Fact]
    public async Task An_AppHost_whose_database_port_is_taken_says_so_in_one_line()
    {
        using var other = new TcpListener(IPAddress.Loopback, _port);
        other.Start();

        await using var appHost = AppHostProcess.Start(_server, _port);
        await appHost.WaitForExitAsync(Bounded(StopTimeout));

        Assert.Equal(DatabaseResources.CannotStartExitCode, appHost.ExitCode);
        var message = Assert.Single(appHost.Output, line => line.Trim().Length > 0);
        Assert.Equal(
            $"PostgreSQL's port {_port} on 127.0.0.1 is taken by another program (see `ss -ltnp 'sport = :{_port}'`); stop it, or set Database:Port.",
            message);
    }

    [Fact]
    public async Task Ctrl_C_shuts_PostgreSQL_down_cleanly_and_the_AppHost_exits_once_every_resource_has_stopped()
    {
        var cancellationToken = Bounded(StartTimeout);
        await using var appHost = AppHostProcess.Start(_server, _port);
        await appHost.WaitForOutputAsync("Distributed application started", cancellationToken);
        // Stopped in use: the services hold connections, which a smart shutdown would wait for.
        Assert.NotEqual(0L, await ServiceConnectionsAsync(cancellationToken));

        appHost.Interrupt();
        await appHost.WaitForExitAsync(Bounded(StopTimeout));

        Assert.Equal(0, appHost.ExitCode);
        Assert.Equal("shut down", _server.ClusterState());
        Assert.Null(PostmasterProcessId());
        Assert.Contains(appHost.Output, line => line.Contains("PostgreSQL has stopped; pg_controldata says the cluster is 'shut down'.", StringComparison.Ordinal));
        Assert.Contains(appHost.Output, line => line.Contains("Every resource has stopped.", StringComparison.Ordinal));
        Assert.Empty(ProcessesNaming(_server.RootDirectory));
        using var next = DataDirectoryLock.TryAcquire(_server.RootDirectory);
        Assert.NotNull(next);
    }

    [Fact]
    public async Task Ctrl_C_during_start_up_shuts_PostgreSQL_down_cleanly_too()
    {
        var cancellationToken = Bounded(StartTimeout);
        await using var appHost = AppHostProcess.Start(_server, _port);
        await appHost.WaitForDatabaseAsync(_server, _port, cancellationToken);
        // The services are not up yet (the worker waits for the API, which migrates first): the start is cancelled.
        Assert.DoesNotContain(appHost.Output, line => line.Contains("Distributed application started", StringComparison.Ordinal));

        appHost.Interrupt();
        await appHost.WaitForExitAsync(Bounded(StopTimeout));

        Assert.Equal("shut down", _server.ClusterState());
        Assert.Null(PostmasterProcessId());
    }

    [Fact]
    public async Task An_AppHost_killed_with_SIGKILL_does_not_keep_the_next_one_from_starting()
    {
        var cancellationToken = Bounded(StartTimeout);
        int? crashedServer;
        await using (var crashed = AppHostProcess.Start(_server, _port))
        {
            await crashed.WaitForDatabaseAsync(_server, _port, cancellationToken);
            crashedServer = PostmasterProcessId();
            crashed.Kill();
            await crashed.WaitForExitAsync(cancellationToken);
        }

        // Its server may still run (the orchestrator ends it a little later): the next AppHost stops it and starts its own.
        await using var next = AppHostProcess.Start(_server, _port);
        while (PostmasterProcessId() is not { } server || server == crashedServer)
        {
            Assert.False(next.HasExited, string.Join('\n', next.Output));
            await Task.Delay(250, cancellationToken);
        }

        await next.WaitForDatabaseAsync(_server, _port, cancellationToken);
        Assert.False(next.HasExited);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public void The_password_and_the_AppHost_files_are_readable_by_their_owner_only()
    {
        _server.Prepare();
        using (var directoryLock = DataDirectoryLock.TryAcquire(_server.RootDirectory)!)
        {
            directoryLock.RecordDashboard("http://localhost:15062/login?t=secret");
            Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(_server.RootDirectory));
            Assert.All(Directory.GetFiles(_server.RootDirectory), file => Assert.Equal(OwnerOnlyFile, File.GetUnixFileMode(file)));
            if (LocalPostgres.RunningAsRoot)
            {
                // The server runs as 'postgres' and reads both; root reads them anyway.
                Assert.Equal(["postgres", "postgres"], [Owner(_server.RootDirectory), Owner(_server.PasswordFile)]);
            }
        }

        // As an older version left them: world-readable.
        File.SetUnixFileMode(_server.PasswordFile, OwnerOnlyFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.SetUnixFileMode(_server.RootDirectory, OwnerOnlyDirectory | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        _server.Prepare();

        Assert.Equal(OwnerOnlyFile, File.GetUnixFileMode(_server.PasswordFile));
        Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(_server.RootDirectory));
    }

    [Fact]
    public void The_data_directory_lock_has_one_holder_at_a_time_and_says_who_it_is()
    {
        _server.EnsureRootDirectory();
        var holder = DataDirectoryLock.TryAcquire(_server.RootDirectory);
        Assert.NotNull(holder);
        using (holder)
        {
            Assert.Null(DataDirectoryLock.TryAcquire(_server.RootDirectory));
            Assert.Equal($"AppHost process {Environment.ProcessId}, dashboard not up yet", DataDirectoryLock.DescribeHolder(_server.RootDirectory));
            holder.RecordDashboard("http://localhost:15062/login?t=abc");
            Assert.Equal(
                $"dashboard at http://localhost:15062/login?t=abc, AppHost process {Environment.ProcessId}",
                DataDirectoryLock.DescribeHolder(_server.RootDirectory));
        }

        using var next = DataDirectoryLock.TryAcquire(_server.RootDirectory);
        Assert.NotNull(next);
    }

    public void Dispose()
    {
        // A test that failed half-way may have left the server running.
        if (Directory.Exists(_server.DataDirectory))
        {
            _server.StopFast(TimeSpan.FromSeconds(20), out _);
        }

        try
        {
            Directory.Delete(_server.RootDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Left in /tmp; harmless.
        }
    }

    private int? PostmasterProcessId()
    {
        try
        {
            var firstLine = File.ReadLines(Path.Combine(_server.DataDirectory, "postmaster.pid")).FirstOrDefault();
            return int.TryParse(firstLine, CultureInfo.InvariantCulture, out var processId) ? processId : null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private async Task<long> ServiceConnectionsAsync(CancellationToken cancellationToken) =>
        (long)(await AppHostProcess.QueryAsync(_server, _port,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'xgrowth' AND pid <> pg_backend_pid()", cancellationToken))!;

    /// <summary>The processes whose command line names <paramref name="path"/>, such as a server on that data directory.</summary>
    private static string[] ProcessesNaming(string path) =>
    [
        .. Directory.GetDirectories("/proc").Select(directory => Path.Combine(directory, "cmdline")).Select(file =>
        {
            try
            {
                return File.ReadAllText(file).Replace('\0', ' ');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not a process, or it has just ended.
                return "";
            }
        }).Where(commandLine => commandLine.Contains(path, StringComparison.Ordinal)),
    ];

    private static string Owner(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["--format", "%U", path]) { RedirectStandardOutput = true })!;
        var owner = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        return owner;
    }
}
