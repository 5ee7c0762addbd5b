using System.Globalization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NpgsqlTypes;
using XGrowth.Data;
using XGrowth.X;

namespace XGrowth.Bench;

/// <summary>Connected X accounts written straight to the database with COPY, for the benches that publish or collect.</summary>
internal static class BenchAccounts
{
    /// <summary>
    /// <paramref name="count"/> users (<c>user_bench_{i}</c>) with one connected account each (X user id <c>{i}</c>), tokens
    /// encrypted with the key ring the workers read; answers the account ids in that order.
    /// </summary>
    public static async Task<Guid[]> SeedConnectedAsync(NpgsqlDataSource dataSource, int count)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDbContext<XGrowthDbContext>(options => options.UseXGrowthDatabase(dataSource));
        services.AddDataProtection().SetApplicationName("XGrowth").PersistKeysToDbContext<XGrowthDbContext>();
        await using var provider = services.BuildServiceProvider();
        var protector = new XTokenProtector(provider.GetRequiredService<IDataProtectionProvider>());
        var accounts = Enumerable.Range(0, count).Select(_ => Guid.NewGuid()).ToArray();
        var now = DateTimeOffset.UtcNow;
        await using var connection = await dataSource.OpenConnectionAsync();
        await using (var users = await connection.BeginBinaryImportAsync("COPY users (id, created_at, updated_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < count; i++)
            {
                await users.WriteRowAsync(default, $"user_bench_{i}", now, now);
            }

            await users.CompleteAsync();
        }

        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY x_accounts (id, user_id, x_user_id, username, status, access_token_protected, refresh_token_protected, access_token_expires_at, connected_at, updated_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < count; i++)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync(accounts[i], NpgsqlDbType.Uuid);
                await copy.WriteAsync($"user_bench_{i}", NpgsqlDbType.Varchar);
                await copy.WriteAsync(i.ToString(CultureInfo.InvariantCulture), NpgsqlDbType.Varchar);
                await copy.WriteAsync($"bench{i}", NpgsqlDbType.Varchar);
                await copy.WriteAsync("connected", NpgsqlDbType.Varchar);
                await copy.WriteAsync(protector.Protect($"token_{i}"), NpgsqlDbType.Text);
                await copy.WriteAsync(protector.Protect($"refresh_{i}"), NpgsqlDbType.Text);
                await copy.WriteAsync(now.AddHours(2), NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(now, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(now, NpgsqlDbType.TimestampTz);
            }

            await copy.CompleteAsync();
        }

        return accounts;
    }
}
