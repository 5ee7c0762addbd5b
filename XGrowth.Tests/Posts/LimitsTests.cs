using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using XGrowth.Api.Posts;
using XGrowth.Api.XAccounts;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Posts;

/// <summary>An API with a small per-user write limit.</summary>
public sealed class ApiWithSmallWriteLimit(TestPostgres postgres) : ApiFactory(postgres)
{
    public const int Limit = 6;

    protected override int WritesPerMinute => Limit;
}

/// <summary>What one user can make the service hold or do: bounded, and answered with a clear 4xx when passed.</summary>
public class LimitsTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static object Post(Guid accountId, string? text = null) =>
        new { xAccountId = accountId, text = text ?? "limit " + Guid.NewGuid(), scheduledAt = DateTimeOffset.UtcNow.AddDays(1) };

    /// <summary>Pending posts put straight into the database (the API would take long to make thousands).</summary>
    private async Task AddPendingAsync(Guid accountId, int count)
    {
        await using var command = api.Database.CreateCommand("""
            WITH posts AS (
                INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, created_at, updated_at, attempts)
                SELECT gen_random_uuid(), $1, now() + interval '1 day' + n * interval '1 minute', 'scheduled', now(), now(), 0
                FROM generate_series(1, $2) AS n RETURNING id)
            INSERT INTO post_parts (post_id, position, text) SELECT id, 0, 'seeded ' || id FROM posts
            """);
        command.Parameters.Add(new() { Value = accountId });
        command.Parameters.Add(new() { Value = count });
        await command.ExecuteNonQueryAsync(Ct);
    }

    private Task<long> PendingOf(Guid accountId) =>
        api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE x_account_id = $1 AND status IN ('scheduled', 'publishing')", accountId);

    [Fact]
    public async Task An_account_holds_at_most_its_pending_posts_even_when_many_calls_race_for_the_last_place()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        await AddPendingAsync(accountId, PostLimits.MaxPendingPerAccount - 1);
        using var client = api.ClientFor(userId);

        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => client.PostAsJsonAsync("/api/posts", Post(accountId), Ct)));

        Assert.Single(answers, a => a.StatusCode == HttpStatusCode.Created);
        var refused = answers.Where(a => a.StatusCode != HttpStatusCode.Created).ToArray();
        Assert.All(refused, a => Assert.Equal(HttpStatusCode.BadRequest, a.StatusCode));
        Assert.Equal("limit_reached", (string?)(await refused[0].Content.ReadFromJsonAsync<JsonObject>(Ct))!["code"]);
        Assert.Equal(PostLimits.MaxPendingPerAccount, await PendingOf(accountId));
    }

    [Fact]
    public async Task A_user_holds_at_most_their_pending_posts_across_accounts()
    {
        var userId = ApiFactory.NewUserId();
        var perAccount = PostLimits.MaxPendingPerAccount - 1;
        var accounts = new List<Guid>();
        for (var seeded = 0; seeded < PostLimits.MaxPendingPerUser; seeded += perAccount)
        {
            var account = await api.AddXAccountAsync(userId);
            accounts.Add(account);
            await AddPendingAsync(account, Math.Min(perAccount, PostLimits.MaxPendingPerUser - seeded));
        }

        var fresh = await api.AddXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        using var refused = await client.PostAsJsonAsync("/api/posts", Post(fresh), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("the most a user may have", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(0, await PendingOf(fresh));
        // Another user is not affected.
        var other = ApiFactory.NewUserId();
        using var otherClient = api.ClientFor(other);
        using var allowed = await otherClient.PostAsJsonAsync("/api/posts", Post(await api.AddXAccountAsync(other)), Ct);
        Assert.Equal(HttpStatusCode.Created, allowed.StatusCode);
    }

    [Fact]
    public async Task A_retry_that_would_pass_the_accounts_limit_is_refused_and_the_post_stays_as_it_was()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        using var created = await client.PostAsJsonAsync("/api/posts", Post(accountId), Ct);
        var id = Guid.Parse((string)(await created.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!);
        await api.ExecuteAsync("UPDATE scheduled_posts SET status = 'failed', error = 'X said no' WHERE id = $1", id);
        await AddPendingAsync(accountId, PostLimits.MaxPendingPerAccount);

        using var refused = await client.PostAsync($"/api/posts/{id}/retry", null, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("limit_reached", (string?)(await refused.Content.ReadFromJsonAsync<JsonObject>(Ct))!["code"]);
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE id = $1 AND status = 'failed' AND error = 'X said no'", id));
        Assert.Equal(PostLimits.MaxPendingPerAccount, await PendingOf(accountId));
        // Below the limit again, the same retry goes through.
        await api.ExecuteAsync("UPDATE scheduled_posts SET status = 'cancelled' WHERE id = (SELECT id FROM scheduled_posts WHERE x_account_id = $1 AND status = 'scheduled' LIMIT 1)", accountId);
        using var retried = await client.PostAsync($"/api/posts/{id}/retry", null, Ct);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal(PostLimits.MaxPendingPerAccount, await PendingOf(accountId));
    }

    [Fact]
    public async Task The_pending_counts_the_limits_read_follow_every_change_of_status_whoever_makes_it()
    {
        var userId = ApiFactory.NewUserId();
        var a = await api.AddXAccountAsync(userId);
        var b = await api.AddXAccountAsync(userId);
        using var client = api.ClientFor(userId);
        async Task<Guid> CreateAsync(object body)
        {
            using var created = await client.PostAsJsonAsync("/api/posts", body, Ct);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            return Guid.Parse((string)(await created.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id"]!);
        }

        async Task ExpectAsync(long onA, long onB)
        {
            Assert.Equal((onA, onB), (await CountedAsync(a), await CountedAsync(b)));
            Assert.Equal((onA, onB), (await PendingOf(a), await PendingOf(b)));
        }

        // Through the API: a post at a time, one in the queue, a draft; the draft scheduled, then back; a post cancelled.
        var timed = await CreateAsync(Post(a));
        var queued = await CreateAsync(new { xAccountId = a, text = "queued " + Guid.NewGuid(), queue = true });
        var draft = await CreateAsync(new { xAccountId = b, text = "draft " + Guid.NewGuid() });
        await ExpectAsync(2, 0);
        (await client.PostAsJsonAsync($"/api/posts/{draft}/schedule", new { queue = true }, Ct)).EnsureSuccessStatusCode();
        await ExpectAsync(2, 1);
        (await client.PostAsync($"/api/posts/{draft}/unschedule", null, Ct)).EnsureSuccessStatusCode();
        await ExpectAsync(2, 0);
        (await client.DeleteAsync($"/api/posts/{timed}", Ct)).EnsureSuccessStatusCode();
        await ExpectAsync(1, 0);

        // As the worker changes them: claimed (still waiting), published (no longer); many accounts' posts marked missed in
        // one statement; a post given back to the schedule.
        await api.ExecuteAsync($"UPDATE scheduled_posts SET status = 'publishing' WHERE id = '{queued}'");
        await ExpectAsync(1, 0);
        await api.ExecuteAsync($"UPDATE scheduled_posts SET status = 'published' WHERE id = '{queued}'");
        await ExpectAsync(0, 0);
        await AddPendingAsync(a, 5);
        await AddPendingAsync(b, 3);
        await ExpectAsync(5, 3);
        await api.ExecuteAsync($"""
            UPDATE scheduled_posts SET status = 'missed' WHERE (x_account_id = '{b}' AND status = 'scheduled')
               OR id IN (SELECT id FROM scheduled_posts WHERE x_account_id = '{a}' AND status = 'scheduled' ORDER BY scheduled_at LIMIT 2)
            """);
        await ExpectAsync(3, 0);
        await api.ExecuteAsync($"UPDATE scheduled_posts SET status = 'scheduled' WHERE x_account_id = '{b}' AND status = 'missed'");
        await ExpectAsync(3, 3);
        await api.ExecuteAsync($"DELETE FROM scheduled_posts WHERE id = (SELECT id FROM scheduled_posts WHERE x_account_id = '{a}' AND status = 'scheduled' LIMIT 1)");
        await ExpectAsync(2, 3);

        // An account deleted with its posts, then the user with the rest: the counts go with them.
        await api.ExecuteAsync($"DELETE FROM x_accounts WHERE id = '{b}'");
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM pending_post_counts WHERE x_account_id = $1", b));
        Assert.Equal(2, await CountedAsync(a));
        await api.ExecuteAsync($"DELETE FROM users WHERE id = '{userId}'");
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM pending_post_counts WHERE x_account_id = $1", a));
    }

    private Task<long> CountedAsync(Guid accountId) =>
        api.CountAsync("SELECT pending::bigint FROM pending_post_counts WHERE x_account_id = $1", accountId);

    [Fact]
    public async Task A_text_longer_than_any_post_can_be_is_refused_before_counting_and_nothing_is_written()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        using var client = api.ClientFor(userId);

        using var refused = await client.PostAsJsonAsync("/api/posts", Post(accountId, new string('a', PostsApi.MaxTextChars + 1)), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("the most a post's text may have", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(0, await PendingOf(accountId));
    }

    [Fact]
    public async Task A_user_has_at_most_ten_connections_under_way_even_when_asked_in_parallel()
    {
        var userId = ApiFactory.NewUserId();
        using var client = api.ClientFor(userId);

        var answers = await Task.WhenAll(Enumerable.Range(0, 25).Select(_ => client.PostAsync("/api/x-accounts/connect", null, Ct)));

        Assert.Equal(XConnectApi.MaxOpenConnects, answers.Count(a => a.StatusCode == HttpStatusCode.OK));
        var refused = answers.First(a => a.StatusCode != HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.InRange(int.Parse(refused.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture), 1, 600);
        Assert.Equal("too_many_connects", (string?)(await refused.Content.ReadFromJsonAsync<JsonObject>(Ct))!["code"]);
        Assert.Equal(XConnectApi.MaxOpenConnects, await api.CountAsync("SELECT count(*) FROM x_oauth_states WHERE user_id = $1", userId));
    }
}

public class WriteRateLimitTests(ApiWithSmallWriteLimit api) : IClassFixture<ApiWithSmallWriteLimit>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_user_over_the_write_limit_gets_429_with_retry_after_and_nothing_is_written_while_others_go_on()
    {
        var userId = ApiFactory.NewUserId();
        var accountId = await api.AddXAccountAsync(userId);
        using var client = api.ClientFor(userId);

        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < ApiWithSmallWriteLimit.Limit + 2; i++)
        {
            answers.Add(await client.PostAsJsonAsync("/api/posts",
                new { xAccountId = accountId, text = "rate " + Guid.NewGuid(), scheduledAt = DateTimeOffset.UtcNow.AddDays(1) }, Ct));
        }

        var limited = answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests).ToArray();
        Assert.Equal(ApiWithSmallWriteLimit.Limit, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        Assert.Equal(2, limited.Length);
        Assert.NotNull(limited[0].Headers.RetryAfter);
        Assert.Equal("application/problem+json", limited[0].Content.Headers.ContentType?.MediaType);
        Assert.Equal(ApiWithSmallWriteLimit.Limit, await api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE x_account_id = $1", accountId));

        // Reads are not limited, and another user has a budget of their own.
        using var read = await client.GetAsync("/api/posts", Ct);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        var other = ApiFactory.NewUserId();
        using var otherClient = api.ClientFor(other);
        using var allowed = await otherClient.PostAsJsonAsync("/api/posts",
            new { xAccountId = await api.AddXAccountAsync(other), text = "other " + Guid.NewGuid(), scheduledAt = DateTimeOffset.UtcNow.AddDays(1) }, Ct);
        Assert.Equal(HttpStatusCode.Created, allowed.StatusCode);
    }
}
