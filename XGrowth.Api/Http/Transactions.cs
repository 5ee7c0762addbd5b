using Microsoft.EntityFrameworkCore;
using XGrowth.Data;

namespace XGrowth.Api.Http;

/// <summary>The one way the endpoints run a change as a transaction.</summary>
public static class Transactions
{
    /// <summary>
    /// Runs <paramref name="work"/> in a transaction, under the execution strategy (which may run it again after a
    /// transient failure), and commits it unless the work refused by returning a problem: then nothing is written.
    /// </summary>
    public static async Task<(T? Done, TProblem? Problem)> InTransactionAsync<T, TProblem>(this XGrowthDbContext db,
        Func<CancellationToken, Task<(T?, TProblem?)>> work, CancellationToken cancellationToken)
        where T : class where TProblem : class
    {
        var strategy = db.Database.CreateExecutionStrategy();
        return await strategy.ExecuteAsync(async ct =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            var (done, problem) = await work(ct);
            if (problem is null)
            {
                await transaction.CommitAsync(ct);
            }

            return (done, problem);
        }, cancellationToken);
    }
}
