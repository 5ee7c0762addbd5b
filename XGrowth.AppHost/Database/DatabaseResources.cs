using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace XGrowth.AppHost.Database;

/// <summary>Where the application's PostgreSQL comes from; see <c>Database:Mode</c> in the README.</summary>
public enum DatabaseMode
{
    /// <summary>A PostgreSQL container with a data volume (needs a running container engine).</summary>
    Container,

    /// <summary>The machine's PostgreSQL binaries, run by the AppHost with a data directory on disk.</summary>
    Local,

    /// <summary>An existing server, from <c>ConnectionStrings:xgrowth</c>.</summary>
    External,
}

public static class DatabaseResources
{
    /// <summary>The connection string name every service reads.</summary>
    public const string ConnectionName = "xgrowth";

    /// <summary>
    /// Adds the database in the mode <c>Database:Mode</c> names, or the first that works here: a container when a
    /// container engine answers, else the local binaries. Published (a deployment), it is the container or the external
    /// connection string, never this machine's binaries. Returns the connection string resource named <c>xgrowth</c>
    /// and the resource to wait for before using it.
    /// </summary>
    public static (IResourceBuilder<IResourceWithConnectionString> Database, IResourceBuilder<IResource> Server) AddXGrowthDatabase(
        this IDistributedApplicationBuilder builder)
    {
        var mode = builder.ExecutionContext.IsPublishMode ? ChoosePublishedMode(builder.Configuration) : ChooseMode(builder.Configuration);
        switch (mode)
        {
            case DatabaseMode.Container:
                var postgres = builder.AddPostgres("postgres").WithDataVolume("xgrowth-postgres-data");
                return (postgres.AddDatabase(ConnectionName), postgres);
            case DatabaseMode.External:
                var external = builder.AddConnectionString(ConnectionName);
                return (external, external);
            default:
                return builder.AddLocalPostgres();
        }
    }

    private static DatabaseMode? ConfiguredMode(IConfiguration configuration)
    {
        var configured = configuration["Database:Mode"];
        if (string.IsNullOrWhiteSpace(configured))
        {
            return null;
        }

        return Enum.TryParse<DatabaseMode>(configured, ignoreCase: true, out var mode) && Enum.IsDefined(mode)
            ? mode
            : throw new DistributedApplicationException(
                $"Database:Mode is '{configured}'; it must be 'container', 'local' or 'external'.");
    }

    /// <summary>
    /// A deployment's database: the <c>postgres</c> container (the default) or, with <c>Database:Mode=external</c>, a
    /// connection string the deployment is asked for (a managed PostgreSQL). The local binaries and their paths belong
    /// to one machine and cannot be published.
    /// </summary>
    private static DatabaseMode ChoosePublishedMode(IConfiguration configuration) => ConfiguredMode(configuration) switch
    {
        DatabaseMode.Local => throw new DistributedApplicationException(
            "Database:Mode 'local' runs this machine's PostgreSQL binaries and cannot be published: publish with " +
            "Database:Mode=container (a postgres container with a data volume) or Database:Mode=external (a connection string)."),
        { } mode => mode,
        null => DatabaseMode.Container,
    };

    private static DatabaseMode ChooseMode(IConfiguration configuration)
    {
        if (ConfiguredMode(configuration) is { } mode)
        {
            return mode;
        }

        if (ContainerRuntimeAnswers())
        {
            return DatabaseMode.Container;
        }

        if (LocalPostgres.FindBinDirectory() is not null)
        {
            return DatabaseMode.Local;
        }

        throw new DistributedApplicationException(
            "XGrowth needs PostgreSQL, and found neither a running container engine (Docker or Podman) nor PostgreSQL " +
            "server binaries (initdb, postgres). Start Docker, or install PostgreSQL (Debian/Ubuntu: " +
            "'apt-get install postgresql'; macOS: 'brew install postgresql'), or set Database:Mode=external with " +
            "ConnectionStrings:xgrowth.");
    }

    /// <summary>Whether a container engine answers within a few seconds (a client without an engine does not).</summary>
    private static bool ContainerRuntimeAnswers()
    {
        var runtime = Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME");
        string[] runtimes = string.IsNullOrEmpty(runtime) ? ["docker", "podman"] : [runtime];
        foreach (var candidate in runtimes)
        {
            try
            {
                using var process = Process.Start(new ProcessStartInfo(candidate, ["info", "--format", "{{.ServerVersion}}"])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                });
                if (process is null)
                {
                    continue;
                }

                if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
                {
                    process.Kill(entireProcessTree: true);
                    continue;
                }

                if (process.ExitCode == 0)
                {
                    return true;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // This runtime's client is not installed.
            }
        }

        return false;
    }

    private static (IResourceBuilder<IResourceWithConnectionString>, IResourceBuilder<IResource>) AddLocalPostgres(
        this IDistributedApplicationBuilder builder)
    {
        var binDirectory = builder.Configuration["Database:BinDirectory"] ?? LocalPostgres.FindBinDirectory()
            ?? throw new DistributedApplicationException(
                "Database:Mode is 'local' but no PostgreSQL server binaries (initdb, postgres) were found in PATH, " +
                "'pg_config --bindir' or /usr/lib/postgresql/*/bin. Install PostgreSQL or set Database:BinDirectory.");
        var local = new LocalPostgres(binDirectory, builder.Configuration["Database:DataDirectory"] ?? LocalPostgres.DefaultRootDirectory());
        var port = builder.Configuration.GetValue<int?>("Database:Port") ?? 5433;
        if (port == 0)
        {
            port = LocalPostgres.FreeLoopbackPort();
        }

        // The cluster is made (or a leftover server stopped) only when the application really runs, and only by the
        // one AppHost that holds the data directory.
        var password = "";
        if (builder.ExecutionContext.IsRunMode)
        {
            builder.HoldDataDirectory(local);
            password = local.Prepare();
            if (!LoopbackPortIsFree(port))
            {
                // Otherwise the server exits at once and the AppHost waits for it forever.
                Exit($"PostgreSQL's port {port} on 127.0.0.1 is taken by another program (see `ss -ltnp 'sport = :{port}'`); " +
                    "stop it, or set Database:Port.");
            }
        }

        var passwordParameter = builder.AddParameter("postgres-password", password, secret: true);

        var (command, arguments) = local.ServerCommand(port);
        var server = builder.AddExecutable("postgres", command, local.RootDirectory, arguments)
            .WithEndpoint(name: "tcp", scheme: "tcp", port: port, targetPort: port, isProxied: false)
            .WithIconName("Database");
        var endpoint = server.GetEndpoint("tcp");

        var serverConnectionString = ReferenceExpression.Create(
            $"Host={endpoint.Property(EndpointProperty.Host)};Port={endpoint.Property(EndpointProperty.Port)};Username={LocalPostgres.SuperUser};Password={passwordParameter}");
        var database = builder.AddConnectionString(ConnectionName, ReferenceExpression.Create(
            $"{serverConnectionString};Database={ConnectionName}"));

        var healthCheckKey = "postgres-accepts-connections";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheckKey, async cancellationToken =>
        {
            try
            {
                await using var connection = new NpgsqlConnection(await serverConnectionString.GetValueAsync(cancellationToken));
                await connection.OpenAsync(cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or SocketException)
            {
                return HealthCheckResult.Unhealthy("PostgreSQL does not accept connections yet.");
            }
        });
        server.WithHealthCheck(healthCheckKey);

        // Like AddPostgres().AddDatabase(), make the application's database once the server is up; the services
        // wait for this handler to finish before they start.
        builder.Eventing.Subscribe<ResourceReadyEvent>(server.Resource, async (_, cancellationToken) =>
        {
            await using var connection = new NpgsqlConnection(await serverConnectionString.GetValueAsync(cancellationToken));
            await connection.OpenAsync(cancellationToken);
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection)
            {
                Parameters = { new() { Value = ConnectionName } },
            };
            if (await exists.ExecuteScalarAsync(cancellationToken) is null)
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{ConnectionName}\"", connection);
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
        });

        return (database, server);
    }

    /// <summary>
    /// Takes the data directory for this AppHost's lifetime, or ends the process with one line when another live
    /// AppHost has it; stops the server cleanly when the AppHost stops.
    /// </summary>
    private static void HoldDataDirectory(this IDistributedApplicationBuilder builder, LocalPostgres local)
    {
        local.EnsureRootDirectory();
        var directoryLock = DataDirectoryLock.TryAcquire(local.RootDirectory);
        if (directoryLock is null)
        {
            Exit($"XGrowth is already running ({DataDirectoryLock.DescribeHolder(local.RootDirectory)}); " +
                "stop it first, or give this one another Database:DataDirectory.");
            return;
        }

        // On stop, wait until the orchestrator has ended every process it started (its default is to finish that
        // after the AppHost has exited): the prompt comes back, and the directory is let go, only once they are gone.
        builder.Configuration["DcpPublisher:WaitForResourceCleanup"] = "true";
        builder.Services.AddHostedService(services => new LocalPostgresShutdown(
            local, directoryLock, services.GetRequiredService<ILogger<LocalPostgresShutdown>>()));

        // Which dashboard to point a second AppHost at: the URL it logs as "Login to the dashboard at".
        builder.Eventing.Subscribe<ResourceReadyEvent>((ready, cancellationToken) =>
        {
            if (ready.Resource.Name == DashboardResourceName && ready.Resource is IResourceWithEndpoints dashboard
                && new[] { "https", "http" }.Select(dashboard.GetEndpoint).FirstOrDefault(e => e.Exists && e.IsAllocated) is { } endpoint)
            {
                var token = builder.Configuration["AppHost:BrowserToken"];
                directoryLock.RecordDashboard(string.IsNullOrEmpty(token) ? endpoint.Url : $"{endpoint.Url}/login?t={token}");
            }

            return Task.CompletedTask;
        });
    }

    /// <summary>The orchestrator's name for the dashboard resource.</summary>
    private const string DashboardResourceName = "aspire-dashboard";

    /// <summary>
    /// The exit code of an AppHost that cannot start its local PostgreSQL: another AppHost runs on its data
    /// directory, or the server's port is taken.
    /// </summary>
    public const int CannotStartExitCode = 1;

    /// <summary>Ends the AppHost with <paramref name="message"/> as its one line of output, not a stack trace.</summary>
    [DoesNotReturn]
    private static void Exit(string message)
    {
        if (Assembly.GetEntryAssembly() != typeof(DatabaseResources).Assembly)
        {
            // Built in-process by a test (Aspire.Hosting.Testing): ending the process would end the test run.
            throw new DistributedApplicationException(message);
        }

        Console.Error.WriteLine(message);
        Environment.Exit(CannotStartExitCode);
    }

    private static bool LoopbackPortIsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return false;
        }
    }
}
