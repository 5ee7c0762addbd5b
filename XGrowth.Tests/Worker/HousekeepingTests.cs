extern alias worker;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using XGrowth.Tests.Infrastructure;
using worker::XGrowth.Worker;

namespace XGrowth.Tests.Worker;

public class HousekeepingTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Removes_only_expired_states_and_old_webhook_ids()
    {
        var now = DateTimeOffset.UtcNow;
        var tag = Guid.NewGuid().ToString("N")[..8];
        await using (var seed = api.Database.CreateCommand("""
            INSERT INTO x_oauth_states (state_hash, user_id, code_verifier_protected, created_at, expires_at) VALUES
                ('old' || $1, 'user_x', 'v', $2 - interval '3 days', $2 - interval '2 days'),
                ('recent' || $1, 'user_x', 'v', $2 - interval '1 hour', $2 - interval '50 minutes'),
                ('live' || $1, 'user_x', 'v', $2, $2 + interval '10 minutes');
            """))
        {
            seed.Parameters.Add(new() { Value = tag });
            seed.Parameters.Add(new() { Value = now });
            await seed.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        await using (var seed = api.Database.CreateCommand("""
            INSERT INTO clerk_webhook_deliveries (svix_id, event_type, received_at) VALUES
                ('msg_old' || $1, 'user.created', $2 - interval '8 days'), ('msg_new' || $1, 'user.created', $2 - interval '2 days');
            """))
        {
            seed.Parameters.Add(new() { Value = tag });
            seed.Parameters.Add(new() { Value = now });
            await seed.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        var housekeeping = new Housekeeping(api.Database, new FakeTimeProvider(now), NullLogger<Housekeeping>.Instance);
        await housekeeping.RunOnceAsync(TestContext.Current.CancellationToken);

        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM x_oauth_states WHERE state_hash = 'old' || $1", tag));
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM x_oauth_states WHERE state_hash = 'recent' || $1", tag));
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM x_oauth_states WHERE state_hash = 'live' || $1", tag));
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM clerk_webhook_deliveries WHERE svix_id = 'msg_old' || $1", tag));
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM clerk_webhook_deliveries WHERE svix_id = 'msg_new' || $1", tag));
    }
}
