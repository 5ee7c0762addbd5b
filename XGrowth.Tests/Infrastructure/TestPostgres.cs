extern alias apphost;
using apphost::XGrowth.AppHost.Database;
using Npgsql;

[assembly: AssemblyFixture(typeof(XGrowth.Tests.Infrastructure.TestPostgres))]

namespace XGrowth.Tests.Infrastructure;

/// <summary>
/// The real PostgreSQL every test uses: a throwaway cluster made from the machine's PostgreSQL binaries (the same
/// code as the AppHost's local mode), or the server named by <c>XGROWTH_TEST_POSTGRES</c> (a connection string to
/// a database the tests may create databases in).
/// </summary>
public sealed class TestPostgres : IAsyncLifetime
{
    private LocalPostgres? _cluster;
    private int _port;

    /// <summary>A connection string to the server's <c>postgres</c> database, as superuser.</summary>
    public string ServerConnectionString { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable("XGROWTH_TEST_POSTGRES");
        if (!string.IsNullOrWhiteSpace(external))
        {
            ServerConnectionString = external;
            return;
        }

        var binDirectory = LocalPostgres.FindBinDirectory() ?? throw new InvalidOperationException(
            "The tests need PostgreSQL: install its server binaries (Debian: apt-get install postgresql) or set XGROWTH_TEST_POSTGRES.");
        var root = Path.Combine(Path.GetTempPath(), "xgrowth-tests-" + Guid.NewGuid().ToString("N")[..12]);
        _cluster = new LocalPostgres(binDirectory, root);
        var password = _cluster.Prepare();
        var port = _port = LocalPostgres.FreeLoopbackPort();
        _cluster.StartDetached(port);
        ServerConnectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1", Port = port, Username = LocalPostgres.SuperUser, Password = password, Database = "postgres",
        }.ConnectionString;
        await using var connection = new NpgsqlConnection(ServerConnectionString);
        await connection.OpenAsync();
    }

    /// <summary>Stops the server at once (as a crash would), keeps it down for <paramref name="downtime"/>, and starts it again.</summary>
    public async Task RestartAsync(TimeSpan downtime)
    {
        var cluster = _cluster ?? throw new InvalidOperationException("Only a cluster the tests started can be restarted.");
        cluster.Stop();
        await Task.Delay(downtime);
        cluster.StartDetached(_port);
    }

    /// <summary>Makes an empty database with a fresh name and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string purpose)
    {
        var name = $"xgrowth_{purpose}_{Guid.NewGuid():N}"[..40].ToLowerInvariant();
        await using var connection = new NpgsqlConnection(ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = name }.ConnectionString;
    }

    public ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            _cluster.Stop();
            try
            {
                Directory.Delete(_cluster.RootDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A leftover directory in /tmp is harmless.
            }
        }

        return ValueTask.CompletedTask;
    }
}
