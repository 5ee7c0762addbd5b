using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using XGrowth.Api.Auth;
using XGrowth.DevStandIns.Clerk;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Webhooks;

/// <summary>A user deleted while other work for them is in flight: the deletion wins, with the race forced each time.</summary>
public class DeletionRaceTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_connection_finishing_while_the_user_is_deleted_leaves_no_account_behind()
    {
        var userId = ApiFactory.NewUserId();
        var username = "slowrace_" + Guid.NewGuid().ToString("N")[..6];
        using var client = api.ClientFor(userId);
        using var connect = await client.PostAsync("/api/x-accounts/connect", null, Ct);
        var authorizeUrl = (string)(await connect.Content.ReadFromJsonAsync<JsonObject>(Ct))!["authorizeUrl"]!;
        var callback = QueryHelpers.ParseQuery(new Uri(api.X.Approve(authorizeUrl, username)).Query);
        // The race, forced: the account's insert sleeps inside the callback's transaction (after it checked the user).
        await ExecuteAsync($"""
            CREATE OR REPLACE FUNCTION slow_account_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.username = '{username}' THEN PERFORM pg_sleep(2); END IF; RETURN NEW; END $$;
            CREATE OR REPLACE TRIGGER slow_account_insert BEFORE INSERT ON x_accounts FOR EACH ROW EXECUTE FUNCTION slow_account_insert();
            """);
        try
        {
            var finishing = client.PostAsJsonAsync("/api/x-accounts/callback",
                new { code = callback["code"].ToString(), state = callback["state"].ToString() }, Ct);
            await WaitUntilAsync("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'");

            using var deleted = await api.PostSignedWebhookAsync(ClerkSampleEvents.UserDeleted(userId, DateTimeOffset.UtcNow));
            using var finished = await finishing;

            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
            Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM x_accounts WHERE user_id = $1", userId));
        }
        finally
        {
            await ExecuteAsync("DROP TRIGGER slow_account_insert ON x_accounts; DROP FUNCTION slow_account_insert();");
        }
    }

    [Fact]
    public async Task A_request_in_flight_when_the_user_is_deleted_does_not_bring_the_user_back_into_memory()
    {
        var provisioning = api.Services.GetRequiredService<ClerkUserProvisioning>();
        var userId = ApiFactory.NewUserId();
        var checkedDatabase = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        // The race, forced: a request found the user active in the database and has not remembered it yet.
        provisioning.AfterDatabaseCheck = async id =>
        {
            if (id == userId)
            {
                checkedDatabase.TrySetResult();
                await release.Task;
            }
        };
        try
        {
            var inFlight = provisioning.EnsureActiveUserAsync(userId, Ct);
            await checkedDatabase.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);

            using var deleted = await api.PostSignedWebhookAsync(ClerkSampleEvents.UserDeleted(userId, DateTimeOffset.UtcNow));
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
            release.SetResult();
            Assert.True(await inFlight); // It was active when that request looked.

            // The next request, on this same process, must see the deletion.
            Assert.False(await provisioning.EnsureActiveUserAsync(userId, Ct));
            using var me = await api.ClientFor(userId).GetAsync("/api/me", Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        }
        finally
        {
            provisioning.AfterDatabaseCheck = null;
        }
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = api.Database.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(Ct);
    }

    private async Task WaitUntilAsync(string countSql)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (await api.CountAsync(countSql) == 0)
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}
