using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using XGrowth.Data;

namespace XGrowth.Api;

/// <summary>Brings the schema up to date when the API starts.</summary>
public static class DatabaseMigrations
{
    /// <summary>
    /// Applies pending EF Core migrations before the API takes requests. Several replicas starting at once are safe:
    /// EF Core holds a database lock while it migrates, and a replica that gets it second finds nothing to do.
    /// </summary>
    public static async Task MigrateDatabaseAsync(this WebApplication app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XGrowthDbContext>();
        // EF Core first asks whether its history table exists by reading it, and logs the failed read of a fresh
        // database as an error (a red badge on the dashboard's first run); made here first, that read succeeds.
        // (EF Core's own script: its names follow the naming convention, snake_case here.)
        var history = db.GetService<IHistoryRepository>();
        await db.Database.ExecuteSqlRawAsync(history.GetCreateIfNotExistsScript(), app.Lifetime.ApplicationStopping);
        await db.Database.MigrateAsync(app.Lifetime.ApplicationStopping);
    }
}
