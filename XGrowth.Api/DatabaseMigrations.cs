using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;
using XGrowth.Data;

namespace XGrowth.Api;

/// <summary>Brings the schema up to date when the API starts.</summary>
public static class DatabaseMigrations
{
    /// <summary>
    /// The PostgreSQL advisory lock that replicas take turns on while they migrate (an arbitrary number that no other
    /// code of this database uses).
    /// </summary>
    public const long MigrationLock = 0x5847_726F_7774_6831; // "XGrowth1"

    /// <summary>Applies pending EF Core migrations before the API takes requests.</summary>
    public static Task MigrateDatabaseAsync(this WebApplication app) => MigrateAsync(app.Services, app.Lifetime.ApplicationStopping);

    /// <summary>
    /// Applies pending migrations, one replica at a time: several API replicas starting at once against the same
    /// database wait for one another on <see cref="MigrationLock"/>, and each after the first finds nothing to do.
    /// (EF Core's own lock covers only the migrations, not the creation of its history table, which two replicas
    /// racing on a fresh database can both attempt.) The lock belongs to this process's connection: a replica that dies
    /// while migrating lets it go with its connection.
    /// </summary>
    public static async Task MigrateAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XGrowthDbContext>();
        // The lock is taken on the connection EF Core migrates on (opened here, it stays open throughout): one
        // connection per replica, not two.
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            var connection = (NpgsqlConnection)db.Database.GetDbConnection();
            await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock($1)", connection) { Parameters = { new() { Value = MigrationLock } } })
            {
                await take.ExecuteNonQueryAsync(cancellationToken);
            }

            try
            {
                // EF Core first asks whether its history table exists by reading it, and logs the failed read of a fresh
                // database as an error (a red badge on the dashboard's first run); made here first, that read succeeds.
                // (EF Core's own script: its names follow the naming convention, snake_case here.)
                var history = db.GetService<IHistoryRepository>();
                await db.Database.ExecuteSqlRawAsync(history.GetCreateIfNotExistsScript(), cancellationToken);
                await db.Database.MigrateAsync(cancellationToken);
            }
            finally
            {
                await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection) { Parameters = { new() { Value = MigrationLock } } };
                await release.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }

        // Sessions keep the settings they started with: none opened before a migration changed the role's defaults (the
        // JitOff migration) is used again.
        services.GetRequiredService<NpgsqlDataSource>().Clear();
    }
}
