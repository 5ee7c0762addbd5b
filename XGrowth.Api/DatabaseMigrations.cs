using Microsoft.EntityFrameworkCore;
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
        await db.Database.ExecuteSqlRawAsync("""
            CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" ("MigrationId" character varying(150) NOT NULL,
                "ProductVersion" character varying(32) NOT NULL, CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY ("MigrationId"))
            """, app.Lifetime.ApplicationStopping);
        await db.Database.MigrateAsync(app.Lifetime.ApplicationStopping);
    }
}
