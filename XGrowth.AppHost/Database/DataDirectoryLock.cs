using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace XGrowth.AppHost.Database;

/// <summary>
/// An AppHost's claim on a local data directory, held for the AppHost's whole life: an exclusive lock on
/// <c>apphost.lock</c> in the directory, with who holds it (process id, dashboard URL) in <c>apphost.json</c>.
/// </summary>
/// <remarks>
/// The lock is the operating system's (<see cref="FileShare.None"/> takes <c>flock(LOCK_EX)</c> on Unix and a
/// share-mode lock on Windows), so it goes with the process however the process ends: an AppHost killed with
/// SIGKILL never blocks the next start. The handle is not inherited by the processes the AppHost starts.
/// </remarks>
public sealed class DataDirectoryLock : IDisposable
{
    private const string LockFileName = "apphost.lock";
    private const string HolderFileName = "apphost.json";

    private readonly FileStream _lock;
    private readonly string _holderFile;

    private DataDirectoryLock(FileStream @lock, string holderFile)
    {
        _lock = @lock;
        _holderFile = holderFile;
    }

    /// <summary>Takes the lock on <paramref name="rootDirectory"/>, or returns null when another process holds it.</summary>
    public static DataDirectoryLock? TryAcquire(string rootDirectory)
    {
        FileStream lockFile;
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            lockFile = new FileStream(Path.Combine(rootDirectory, LockFileName), options);
        }
        catch (IOException) when (File.Exists(Path.Combine(rootDirectory, LockFileName)))
        {
            // Held by a live process (EWOULDBLOCK on Unix, a sharing violation on Windows).
            return null;
        }

        var claim = new DataDirectoryLock(lockFile, Path.Combine(rootDirectory, HolderFileName));
        claim.WriteHolder(dashboardUrl: null);
        return claim;
    }

    /// <summary>
    /// Says who holds the lock on <paramref name="rootDirectory"/>, for a second AppHost to tell its user:
    /// "dashboard at http://localhost:15062/login?t=..., AppHost process 1234", or less when the holder is still
    /// starting.
    /// </summary>
    public static string DescribeHolder(string rootDirectory)
    {
        JsonNode? holder = null;
        try
        {
            holder = JsonNode.Parse(File.ReadAllText(Path.Combine(rootDirectory, HolderFileName)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            // Not written yet (the holder has just taken the lock), or not ours to read.
        }

        var processId = (int?)holder?["pid"];
        var dashboardUrl = (string?)holder?["dashboard"];
        if (processId is null || !IsAlive(processId.Value))
        {
            // The file is from an earlier holder; the live one has not written its own yet.
            return "another AppHost holds " + Path.Combine(rootDirectory, LockFileName);
        }

        var pid = processId.Value.ToString(CultureInfo.InvariantCulture);
        return dashboardUrl is null
            ? $"AppHost process {pid}, dashboard not up yet"
            : $"dashboard at {dashboardUrl}, AppHost process {pid}";
    }

    /// <summary>Records the dashboard's login URL for a second AppHost to show.</summary>
    public void RecordDashboard(string dashboardUrl) => WriteHolder(dashboardUrl);

    public void Dispose()
    {
        if (_lock.SafeFileHandle.IsClosed)
        {
            return;
        }

        try
        {
            File.Delete(_holderFile);
        }
        catch (IOException)
        {
            // The next holder overwrites it.
        }

        _lock.Dispose();
    }

    private void WriteHolder(string? dashboardUrl)
    {
        var holder = new JsonObject { ["pid"] = Environment.ProcessId, ["dashboard"] = dashboardUrl };

        // Written aside and moved into place, so that a reader never sees half a file. Private: the dashboard URL
        // carries its login token.
        var pending = _holderFile + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        File.Delete(pending);
        LocalPostgres.WritePrivateFile(pending, holder.ToJsonString());
        File.Move(pending, _holderFile, overwrite: true);
    }

    private static bool IsAlive(int processId)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
