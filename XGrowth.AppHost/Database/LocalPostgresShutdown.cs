using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace XGrowth.AppHost.Database;

/// <summary>
/// Shuts the AppHost's local PostgreSQL down cleanly when the AppHost stops (Ctrl+C, SIGTERM), before the
/// orchestrator ends its processes, and lets go of the data directory only once everything has stopped.
/// </summary>
/// <remarks>
/// Left to the orchestrator, the server does not survive a stop cleanly: the cluster stays "in production" and the
/// next start runs crash recovery. <see cref="IHostedLifecycleService.StoppingAsync"/> runs before any hosted
/// service stops, the orchestrator's included. A stop during start-up (Ctrl+C before "Distributed application
/// started") never gets there: the start is cancelled and the process exits, with the orchestrator still running
/// the server; so the server is shut down on the way out of the process as well. The host creates this service
/// before it starts any resource.
/// </remarks>
internal sealed class LocalPostgresShutdown : IHostedLifecycleService, IAsyncDisposable
{
    /// <summary>How long a fast shutdown may take: it ends sessions and writes a checkpoint, seconds at most.</summary>
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(20);

    private readonly LocalPostgres _server;
    private readonly DataDirectoryLock _directoryLock;
    private readonly ILogger<LocalPostgresShutdown> _logger;

    public LocalPostgresShutdown(LocalPostgres server, DataDirectoryLock directoryLock, ILogger<LocalPostgresShutdown> logger)
    {
        _server = server;
        _directoryLock = directoryLock;
        _logger = logger;
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        await Task.Run(ShutDown, CancellationToken.None);

        // The services take several seconds to stop; say why the prompt is not back yet.
        _logger.LogInformation("Waiting for the other resources (API, worker, dashboard) to stop...");
    }

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        // Every process the AppHost started is gone now: in local mode the orchestrator's stop waits for them.
        _logger.LogInformation("Every resource has stopped.");
        _directoryLock.Dispose();
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        await Task.Run(ShutDown);
        _directoryLock.Dispose();
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void OnProcessExit(object? sender, EventArgs e)
    {
        ShutDown();
        _directoryLock.Dispose();
    }

    private void ShutDown()
    {
        if (!File.Exists(Path.Combine(_server.DataDirectory, "postmaster.pid")))
        {
            return;
        }

        _logger.LogInformation("Stopping PostgreSQL (fast shutdown) in {DataDirectory}...", _server.DataDirectory);
        if (_server.StopFast(ShutdownTimeout, out var output))
        {
            // A server that had already crashed leaves its pid file too: say what pg_controldata says.
            _logger.LogInformation("PostgreSQL has stopped; pg_controldata says the cluster is '{State}'.", _server.ClusterState());
        }
        else
        {
            _logger.LogWarning(
                "PostgreSQL is still shutting down after {Seconds} s ({Output}); the next start stops it before it starts its own.",
                ShutdownTimeout.TotalSeconds, output.Trim());
        }
    }
}
