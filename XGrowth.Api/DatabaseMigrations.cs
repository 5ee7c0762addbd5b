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
        await db.Database.MigrateAsync(app.Lifetime.ApplicationStopping);
    }
}
