using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Npgsql;

namespace XGrowth.Data;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without a running database or service.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<XGrowthDbContext>
{
    public XGrowthDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<XGrowthDbContext>();
        options.UseXGrowthDatabase(NpgsqlDataSource.Create("Host=localhost;Database=xgrowth"));
        return new XGrowthDbContext(options.Options);
    }
}
