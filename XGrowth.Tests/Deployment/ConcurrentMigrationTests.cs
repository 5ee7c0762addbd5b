using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using XGrowth.Api;
using XGrowth.Data;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Deployment;

/// <summary>Several API replicas starting at once against one fresh database, as a deployment with replicas does.</summary>
[Collection(nameof(DeploymentCollection))]
public class ConcurrentMigrationTests(TestPostgres postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Replicas_migrating_a_fresh_database_at_the_same_moment_all_succeed_and_apply_each_migration_once()
    {
        for (var round = 0; round < 4; round++)
        {
            var connectionString = await postgres.CreateDatabaseAsync("replicas");
            var replicas = Enumerable.Range(0, 4).Select(_ => ReplicaServices(connectionString)).ToList();
            try
            {
                // Each replica's services are built first; then all start migrating on the same signal.
                var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var migrations = replicas.Select(replica => Task.Run(async () =>
                {
                    await go.Task;
                    await DatabaseMigrations.MigrateAsync(replica.Services, Ct);
                }, Ct)).ToList();
                go.SetResult();
                await Task.WhenAll(migrations).WaitAsync(TimeSpan.FromSeconds(90), Ct);

                await using var scope = replicas[0].Services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<XGrowthDbContext>();
                Assert.Empty(await db.Database.GetPendingMigrationsAsync(Ct));
                Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync(Ct));
            }
            finally
            {
                foreach (var replica in replicas)
                {
                    replica.Dispose();
                }
            }
        }
    }

    /// <summary>The API's database services (data source, DbContext) as one replica has them.</summary>
    private static IHost ReplicaServices(string connectionString)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:" + DatabaseRegistration.ConnectionName] = connectionString;
        builder.AddXGrowthDatabase();
        return builder.Build();
    }
}
