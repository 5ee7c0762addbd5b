using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace XGrowth.Data;

public static class DatabaseRegistration
{
    /// <summary>The connection string name the AppHost gives every service.</summary>
    public const string ConnectionName = "xgrowth";

    /// <summary>The setting that caps this process's connection pool.</summary>
    public const string MaxPoolSizeKey = "ConnectionPool:MaxSize";

    /// <summary>
    /// Registers one <see cref="NpgsqlDataSource"/> (one connection pool, traced) for the connection string
    /// <c>xgrowth</c>, and the pooled <see cref="XGrowthDbContext"/> on top of it, with Aspire's health check,
    /// telemetry and retries. Hand-written SQL (webhook upserts, the worker's claims) uses the same data source.
    /// </summary>
    public static TBuilder AddXGrowthDatabase<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var connectionString = builder.Configuration.GetConnectionString(ConnectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{ConnectionName} is not set. Start the application with 'dotnet run --project XGrowth.AppHost', " +
                $"which provides it, or set ConnectionStrings__{ConnectionName}.");
        }

        builder.Services.AddNpgsqlDataSource(connectionString, dataSource =>
        {
            // The same few statements run thousands of times (claims, outcomes, the calendar, the user check):
            // prepared once per connection, PostgreSQL skips parsing and planning them again. (Set in the connection
            // string instead to tune it; 0 turns it off, e.g. behind a pooler in transaction mode.)
            if (!connectionString.Contains("Max Auto Prepare", StringComparison.OrdinalIgnoreCase))
            {
                dataSource.ConnectionStringBuilder.MaxAutoPrepare = 64;
            }

            // ConnectionPool:MaxSize: the most connections this process opens (Npgsql's default is 100). Replicas times
            // this must stay below the server's max_connections (docs/deploy.md); the connection string's own
            // "Maximum Pool Size" wins when it has one.
            if (builder.Configuration.GetValue<int?>(MaxPoolSizeKey) is { } maxPoolSize
                && !connectionString.Contains("Maximum Pool Size", StringComparison.OrdinalIgnoreCase)
                && !connectionString.Contains("MaxPoolSize", StringComparison.OrdinalIgnoreCase))
            {
                dataSource.ConnectionStringBuilder.MaxPoolSize = maxPoolSize is >= 1 and <= 1000
                    ? maxPoolSize
                    : throw new InvalidOperationException($"{MaxPoolSizeKey} is {maxPoolSize}; it must be between 1 and 1000.");
            }

            dataSource.ConfigureTracing(tracing =>
                // Only commands inside a traced operation (a request, a publish) get spans: the worker's background
                // polls would otherwise fill the dashboard with a trace per query, several a second.
                tracing.ConfigureCommandFilter(_ => System.Diagnostics.Activity.Current is { Recorded: true }));
        });
        builder.Services.AddDbContextPool<XGrowthDbContext>((services, options) =>
            options.UseXGrowthDatabase(services.GetRequiredService<NpgsqlDataSource>()));
        builder.EnrichNpgsqlDbContext<XGrowthDbContext>();
        return builder;
    }

    /// <summary>PostgreSQL with snake_case tables and columns; the services, tests and design-time tools all use this.</summary>
    public static DbContextOptionsBuilder UseXGrowthDatabase(this DbContextOptionsBuilder options, NpgsqlDataSource dataSource) =>
        options.UseNpgsql(dataSource).UseSnakeCaseNamingConvention();
}
