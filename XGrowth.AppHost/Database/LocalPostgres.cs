using System.ComponentModel;
using System.Diagnostics;
using System.Security.Cryptography;

namespace XGrowth.AppHost.Database;

/// <summary>
/// A PostgreSQL server run from the machine's own binaries (<c>initdb</c>, <c>postgres</c>), for machines without a
/// container engine. Used by the AppHost's <c>local</c> mode and by the tests.
/// </summary>
/// <remarks>
/// PostgreSQL refuses to run as root, so when this process is root every server command runs as the
/// <c>postgres</c> system user through <c>runuser</c>, and the data directory belongs to that user.
/// </remarks>
public sealed class LocalPostgres
{
    public const string SuperUser = "postgres";
    private const string ServiceAccount = "postgres";
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private static readonly TimeSpan LeftoverStopTimeout = TimeSpan.FromSeconds(30);

    public LocalPostgres(string binDirectory, string rootDirectory)
    {
        BinDirectory = binDirectory;
        RootDirectory = rootDirectory;
        DataDirectory = Path.Combine(rootDirectory, "data");
        PasswordFile = Path.Combine(rootDirectory, "password");
    }

    public string BinDirectory { get; }

    /// <summary>Holds the data directory and the generated superuser password.</summary>
    public string RootDirectory { get; }

    public string DataDirectory { get; }

    public string PasswordFile { get; }

    public static bool RunningAsRoot => !OperatingSystem.IsWindows() && Environment.IsPrivilegedProcess;

    /// <summary>Where this machine's PostgreSQL server binaries are, or null when it has none.</summary>
    /// <remarks>Looks in PATH, then <c>pg_config --bindir</c>, then Debian's <c>/usr/lib/postgresql/&lt;v&gt;/bin</c>, newest first.</remarks>
    public static string? FindBinDirectory()
    {
        var candidates = new List<string>();
        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        if (TryRun("pg_config", ["--bindir"], out var pgConfigBinDir))
        {
            candidates.Add(pgConfigBinDir.Trim());
        }

        if (Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(dir => int.TryParse(Path.GetFileName(dir), out var major) ? major : 0)
                .Select(dir => Path.Combine(dir, "bin")));
        }

        return candidates.FirstOrDefault(dir =>
            File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "postgres")));
    }

    /// <summary>The default place for the data: outside the source tree, surviving restarts and clean clones.</summary>
    public static string DefaultRootDirectory()
    {
        if (RunningAsRoot)
        {
            // root's home is usually closed to other users, and the server runs as 'postgres'.
            return "/var/lib/xgrowth/postgres";
        }

        var dataHome = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (string.IsNullOrEmpty(dataHome))
        {
            dataHome = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        }

        return Path.Combine(dataHome, "xgrowth", "postgres");
    }

    /// <summary>
    /// Makes <see cref="RootDirectory"/> if it is missing, private from the start (0700), and owned by the user
    /// the server runs as.
    /// </summary>
    public void EnsureRootDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(RootDirectory);
            return;
        }

        // The parents keep the default mode: the server's user must be able to pass through them.
        var parent = Path.GetDirectoryName(Path.GetFullPath(RootDirectory));
        if (parent is not null)
        {
            Directory.CreateDirectory(parent);
        }

        Directory.CreateDirectory(RootDirectory, OwnerOnlyDirectory);
        if (File.GetUnixFileMode(RootDirectory) != OwnerOnlyDirectory)
        {
            // Made by an older version or by hand.
            File.SetUnixFileMode(RootDirectory, OwnerOnlyDirectory);
        }

        if (RunningAsRoot)
        {
            RunChecked("chown", [$"{ServiceAccount}:", RootDirectory]);
        }
    }

    /// <summary>
    /// Creates the cluster on first use (superuser <c>postgres</c> with a generated password, password
    /// authentication), and stops a server left running by an AppHost that did not shut down cleanly.
    /// Returns the superuser password.
    /// </summary>
    /// <remarks>
    /// Only for a data directory no live AppHost uses: the AppHost calls it while holding the directory's
    /// <see cref="DataDirectoryLock"/>, so the server it may stop can only be a leftover.
    /// </remarks>
    public string Prepare()
    {
        EnsureRootDirectory();
        if (!File.Exists(PasswordFile))
        {
            WritePrivateFile(PasswordFile, Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant());
            if (RunningAsRoot)
            {
                // initdb reads it as the server's user.
                RunChecked("chown", [$"{ServiceAccount}:", PasswordFile]);
            }
        }
        else if (!OperatingSystem.IsWindows() && File.GetUnixFileMode(PasswordFile) != OwnerOnlyFile)
        {
            // Written world-readable by an older version.
            File.SetUnixFileMode(PasswordFile, OwnerOnlyFile);
        }

        if (!File.Exists(Path.Combine(DataDirectory, "PG_VERSION")))
        {
            RunChecked(Tool("initdb"),
            [
                "--pgdata", DataDirectory, "--username", SuperUser, "--pwfile", PasswordFile,
                "--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C",
            ], asServiceAccount: true);
        }
        else if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")) && !StopFast(LeftoverStopTimeout, out var output))
        {
            // A server left behind (its AppHost was killed) would hold the data directory; a stale pid file is
            // harmless, pg_ctl tells the two apart.
            throw new DistributedApplicationException(
                $"A PostgreSQL server left running in {DataDirectory} did not stop within {LeftoverStopTimeout.TotalSeconds:0} s: {output.Trim()}");
        }

        return File.ReadAllText(PasswordFile).Trim();
    }

    /// <summary>
    /// Shuts the server down cleanly (<c>pg_ctl stop --mode fast</c>: sessions are ended, a checkpoint is written)
    /// and waits at most <paramref name="timeout"/>. True when no server runs on the data directory any more.
    /// </summary>
    public bool StopFast(TimeSpan timeout, out string output)
    {
        if (!File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            output = "no server running";
            return true;
        }

        var seconds = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (TryRun(Tool("pg_ctl"), ["stop", "--pgdata", DataDirectory, "--mode", "fast", "--wait", "--timeout", seconds], out output, asServiceAccount: true))
        {
            return true;
        }

        // pg_ctl also fails when the pid file is stale (the server is already gone): that is stopped too.
        return !TryRun(Tool("pg_ctl"), ["status", "--pgdata", DataDirectory], out _, asServiceAccount: true);
    }

    /// <summary>What <c>pg_controldata</c> says of the data directory, such as "shut down" or "in production".</summary>
    public string ClusterState()
    {
        RunChecked(Tool("pg_controldata"), [DataDirectory], out var output);
        return output.Split('\n').Select(line => line.Split(':', 2)).Where(parts => parts is ["Database cluster state", _])
            .Select(parts => parts[1].Trim()).SingleOrDefault() ?? throw new InvalidOperationException($"pg_controldata said: {output}");
    }

    /// <summary>
    /// Creates a file only its owner may read or write (0600 from the first byte, never widened and then
    /// narrowed), failing if the path exists.
    /// </summary>
    public static void WritePrivateFile(string path, string contents)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnlyFile;
        }

        using var writer = new StreamWriter(new FileStream(path, options));
        writer.Write(contents);
    }

    /// <summary>The command and arguments that run the server in the foreground on 127.0.0.1 at <paramref name="port"/>.</summary>
    public (string Command, string[] Arguments) ServerCommand(int port)
    {
        string[] serverArgs = ["-D", DataDirectory, .. ServerOptions(port)];
        var server = Path.Combine(BinDirectory, "postgres");
        return RunningAsRoot
            ? ("runuser", ["-u", ServiceAccount, "--", server, .. serverArgs])
            : (server, serverArgs);
    }

    /// <summary>
    /// Starts the server detached (<c>pg_ctl start</c>) and waits until it accepts connections; for the tests,
    /// which have no orchestrator to keep the process.
    /// </summary>
    public void StartDetached(int port)
    {
        var options = string.Join(' ', ServerOptions(port).Select(option => option.EndsWith('=') ? option + "''" : option));
        RunChecked(Tool("pg_ctl"),
            ["start", "--pgdata", DataDirectory, "--wait", "--log", Path.Combine(RootDirectory, "server.log"), "-o", options],
            asServiceAccount: true);
    }

    /// <summary>Stops a server started by <see cref="StartDetached"/> without waiting for clients.</summary>
    public void Stop() =>
        TryRun(Tool("pg_ctl"), ["stop", "--pgdata", DataDirectory, "--mode", "immediate", "--wait"], out _, asServiceAccount: true);

    /// <summary>A TCP port on 127.0.0.1 that is free right now.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string[] ServerOptions(int port) =>
    [
        "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "-c", "listen_addresses=127.0.0.1",
        // No Unix socket: its default directory may not exist or be writable for this user.
        "-c", "unix_socket_directories=",
        "-c", "max_connections=300",
    ];

    /// <summary>
    /// The path of one of the server's tools. A directory in PATH may hold links to only some of them (initdb and
    /// postgres, say): the others are looked for where the <c>postgres</c> link points.
    /// </summary>
    public string Tool(string name)
    {
        var tool = Path.Combine(BinDirectory, name);
        if (File.Exists(tool))
        {
            return tool;
        }

        var server = new FileInfo(Path.Combine(BinDirectory, "postgres")).ResolveLinkTarget(returnFinalTarget: true);
        return Path.GetDirectoryName(server?.FullName) is { } realBinDirectory && File.Exists(Path.Combine(realBinDirectory, name))
            ? Path.Combine(realBinDirectory, name)
            : tool;
    }

    private static void RunChecked(string command, string[] arguments, bool asServiceAccount = false) =>
        RunChecked(command, arguments, out _, asServiceAccount);

    private static void RunChecked(string command, string[] arguments, out string output, bool asServiceAccount = false)
    {
        if (!TryRun(command, arguments, out output, asServiceAccount))
        {
            throw new InvalidOperationException($"'{Path.GetFileName(command)}' failed: {output}");
        }
    }

    private static bool TryRun(string command, string[] arguments, out string output, bool asServiceAccount = false)
    {
        var startInfo = asServiceAccount && RunningAsRoot
            ? new ProcessStartInfo("runuser", ["-u", ServiceAccount, "--", command, .. arguments])
            : new ProcessStartInfo(command, arguments);
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.WorkingDirectory = Path.GetTempPath();
        try
        {
            using var process = Process.Start(startInfo)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
                output = "timed out";
                return false;
            }

            output = stdout.Result + stderr.Result;
            return process.ExitCode == 0;
        }
        catch (Win32Exception e)
        {
            // The command does not exist on this machine.
            output = e.Message;
            return false;
        }
    }
}
