extern alias apphost;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using XGrowth.X;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.XAccounts;

public class XConnectTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<string> StartConnect(string userId)
    {
        using var client = api.ClientFor(userId);
        using var response = await client.PostAsync("/api/x-accounts/connect", null, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["authorizeUrl"]!;
    }

    /// <summary>
    /// The frontend's callback page: X sent the browser to <paramref name="callbackUrl"/>, and the page posts its code,
    /// state or error to the API with <paramref name="signedInAs"/>'s session. Answers the outcome as
    /// <c>xConnected</c> (the account id) or <c>xConnectError</c> (the problem's code), with the HTTP status.
    /// </summary>
    private async Task<Dictionary<string, string>> FollowCallback(string callbackUrl, string signedInAs)
    {
        var query = QueryHelpers.ParseQuery(new Uri(callbackUrl).Query);
        string? Get(string name) => query.TryGetValue(name, out var value) ? value.ToString() : null;
        using var client = api.ClientFor(signedInAs);
        using var response = await client.PostAsJsonAsync("/api/x-accounts/callback",
            new { code = Get("code"), state = Get("state") ?? "", error = Get("error") }, Ct);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        if (response.IsSuccessStatusCode)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return new() { ["xConnected"] = (string)body["id"]!, ["status"] = "200" };
        }

        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return new() { ["xConnectError"] = (string?)body["code"] ?? "validation", ["status"] = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture) };
    }

    private async Task<(string UserId, Guid AccountId, string XUserId)> Connect(string? userId = null, string? xUserId = null)
    {
        userId ??= ApiFactory.NewUserId();
        xUserId ??= Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var outcome = await FollowCallback(api.X.Approve(await StartConnect(userId), username: "x_" + xUserId[..6], xUserId: xUserId), userId);
        Assert.True(outcome.ContainsKey("xConnected"), string.Join(",", outcome));
        return (userId, Guid.Parse(outcome["xConnected"]), xUserId);
    }

    private Task<long> AccountsOf(string userId) => api.CountAsync("SELECT count(*) FROM x_accounts WHERE user_id = $1", userId);

    [Fact]
    public async Task Connect_answers_an_authorize_url_with_pkce_and_the_scopes()
    {
        var url = new Uri(await StartConnect(ApiFactory.NewUserId()));
        var query = QueryHelpers.ParseQuery(url.Query);

        Assert.Equal(api.X.BaseUrl + "/i/oauth2/authorize", url.GetLeftPart(UriPartial.Path));
        Assert.Equal("code", query["response_type"]);
        Assert.Equal(ApiFactory.XClientId, query["client_id"]);
        Assert.Equal(ApiFactory.XRedirectUri, query["redirect_uri"]);
        Assert.Equal("tweet.read tweet.write users.read offline.access media.write", query["scope"]);
        Assert.Equal("S256", query["code_challenge_method"]);
        Assert.Equal(43, query["code_challenge"].ToString().Length);
        Assert.True(query["state"].ToString().Length >= 43);
    }

    [Fact]
    public async Task Whole_flow_stores_the_account_with_encrypted_tokens_and_lists_it()
    {
        var (userId, accountId, xUserId) = await Connect();

        using var client = api.ClientFor(userId);
        var accounts = (await client.GetFromJsonAsync<JsonObject>("/api/x-accounts", Ct))!["items"]!.AsArray();
        var account = Assert.Single(accounts)!;
        Assert.Equal(accountId.ToString(), (string?)account["id"]);
        Assert.Equal(xUserId, (string?)account["xUserId"]);
        Assert.Equal("connected", (string?)account["status"]);

        // The API can act for the account with X's token, and a fresh token needs no refresh.
        var refreshesBefore = api.X.RefreshCalls;
        using var scope = api.Services.CreateScope();
        var token = await scope.ServiceProvider.GetRequiredService<XAccessTokens>().GetAsync(accountId, Ct);
        Assert.Contains(token, api.X.IssuedTokens);
        Assert.Equal(refreshesBefore, api.X.RefreshCalls);
    }

    [Fact]
    public async Task The_database_holds_no_plaintext_token_not_even_in_a_dump()
    {
        await Connect();
        Assert.NotEmpty(api.X.IssuedTokens);

        var binDirectory = apphost::XGrowth.AppHost.Database.LocalPostgres.FindBinDirectory()!;
        var connection = new NpgsqlConnectionStringBuilder(api.ConnectionString);
        var pgDump = File.Exists(Path.Combine(binDirectory, "pg_dump")) ? Path.Combine(binDirectory, "pg_dump") : "pg_dump";
        var dump = new ProcessStartInfo(pgDump,
            ["--host", connection.Host!, "--port", connection.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "--username", connection.Username!, "--data-only", connection.Database!])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        dump.Environment["PGPASSWORD"] = connection.Password;
        using var process = Process.Start(dump)!;
        var text = await process.StandardOutput.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);

        Assert.Equal(0, process.ExitCode);
        Assert.Contains("x_accounts", text, StringComparison.Ordinal);
        foreach (var token in api.X.IssuedTokens)
        {
            Assert.DoesNotContain(token, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Finishing_needs_a_session_and_a_well_formed_body()
    {
        var userId = ApiFactory.NewUserId();
        var callback = new Uri(api.X.Approve(await StartConnect(userId), username: "anon", xUserId: "3131"));
        var query = QueryHelpers.ParseQuery(callback.Query);
        using var anonymous = api.CreateClient();
        using var signedIn = api.ClientFor(userId);

        using var noSession = await anonymous.PostAsJsonAsync("/api/x-accounts/callback", new { code = query["code"].ToString(), state = query["state"].ToString() }, Ct);
        using var get = await anonymous.GetAsync("/api/x-accounts/callback" + callback.Query, Ct);
        using var malformed = await signedIn.PostAsync("/api/x-accounts/callback", new StringContent("{\"state\":", System.Text.Encoding.UTF8, "application/json"), Ct);
        using var unknownField = await signedIn.PostAsJsonAsync("/api/x-accounts/callback", new { state = "s", code = "c", userId = "user_other" }, Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, noSession.StatusCode);
        // The old anonymous GET callback is gone: a browser arriving from X on the API finishes nothing.
        Assert.Contains(get.StatusCode, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.MethodNotAllowed });
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, unknownField.StatusCode);
        Assert.Equal(0, await AccountsOf(userId));
        // None of these spent the state: the user can still finish.
        Assert.True((await FollowCallback(callback.ToString(), userId)).ContainsKey("xConnected"));
    }

    [Fact]
    public async Task A_state_is_valid_once()
    {
        var userId = ApiFactory.NewUserId();
        var callback = api.X.Approve(await StartConnect(userId), username: "once", xUserId: "4242");
        Assert.True((await FollowCallback(callback, userId)).ContainsKey("xConnected"));

        var replay = await FollowCallback(callback, userId);

        Assert.Equal("invalid_state", replay["xConnectError"]);
        Assert.Equal(1, await AccountsOf(userId));
    }

    [Fact]
    public async Task Expired_or_unknown_states_store_nothing()
    {
        var userId = ApiFactory.NewUserId();
        var callback = api.X.Approve(await StartConnect(userId), username: "late", xUserId: "5151");
        await using (var expire = api.Database.CreateCommand("UPDATE x_oauth_states SET expires_at = now() - interval '1 second' WHERE user_id = $1"))
        {
            expire.Parameters.Add(new() { Value = userId });
            await expire.ExecuteNonQueryAsync(Ct);
        }

        Assert.Equal("invalid_state", (await FollowCallback(callback, userId))["xConnectError"]);
        Assert.Equal("invalid_state", (await FollowCallback($"{ApiFactory.XRedirectUri}?state=made-up&code=abc", userId))["xConnectError"]);
        var noState = await FollowCallback($"{ApiFactory.XRedirectUri}?code=abc", userId);
        Assert.Equal(("validation", "400"), (noState["xConnectError"], noState["status"]));
        Assert.Equal(0, await AccountsOf(userId));
    }

    [Fact]
    public async Task A_phished_authorize_url_links_nothing_when_the_victim_finishes_it()
    {
        // The attacker (owner of the state) sends their authorize URL; the victim approves on X with the victim's X
        // account, and the victim's frontend finishes with the victim's session.
        var owner = ApiFactory.NewUserId();
        var intruder = ApiFactory.NewUserId();
        var callback = api.X.Approve(await StartConnect(owner), username: "stolen", xUserId: "6161");

        var outcome = await FollowCallback(callback, signedInAs: intruder);
        // The state is spent: the owner cannot finish with it afterwards either.
        var late = await FollowCallback(callback, signedInAs: owner);

        Assert.Equal("invalid_state", outcome["xConnectError"]);
        Assert.Equal("invalid_state", late["xConnectError"]);
        Assert.Equal(0, await AccountsOf(owner));
        Assert.Equal(0, await AccountsOf(intruder));
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM x_oauth_states WHERE user_id = $1 AND used_at IS NOT NULL", owner));
    }

    [Fact]
    public async Task Access_denied_at_x_stores_nothing_and_says_so()
    {
        var userId = ApiFactory.NewUserId();
        var state = QueryHelpers.ParseQuery(new Uri(await StartConnect(userId)).Query)["state"].ToString();

        var outcome = await FollowCallback($"{ApiFactory.XRedirectUri}?error=access_denied&state={Uri.EscapeDataString(state)}", userId);

        Assert.Equal("access_denied", outcome["xConnectError"]);
        Assert.Equal(0, await AccountsOf(userId));
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    public async Task A_failing_token_endpoint_stores_nothing(int status)
    {
        var userId = ApiFactory.NewUserId();
        var callback = api.X.Approve(await StartConnect(userId), username: "failing", xUserId: "7171");
        api.X.TokenEndpointFailure = status;
        try
        {
            Assert.Equal("token_exchange_failed", (await FollowCallback(callback, userId))["xConnectError"]);
        }
        finally
        {
            api.X.TokenEndpointFailure = null;
        }

        Assert.Equal(0, await AccountsOf(userId));
    }

    [Fact]
    public async Task Reconnecting_keeps_the_account_and_its_posts()
    {
        var (userId, accountId, xUserId) = await Connect();
        using var client = api.ClientFor(userId);
        using (var post = await client.PostAsJsonAsync("/api/posts",
            new { xAccountId = accountId, text = "kept", scheduledAt = DateTimeOffset.UtcNow.AddHours(2).ToString("O") }, Ct))
        {
            Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        }

        await using (var expire = api.Database.CreateCommand("UPDATE x_accounts SET status = 'needs_reconnect' WHERE id = $1"))
        {
            expire.Parameters.Add(new() { Value = accountId });
            await expire.ExecuteNonQueryAsync(Ct);
        }

        var (_, again, _) = await Connect(userId, xUserId);

        Assert.Equal(accountId, again);
        Assert.Equal(1, await AccountsOf(userId));
        Assert.Equal("connected", await api.ScalarAsync<string>("SELECT status FROM x_accounts WHERE id = $1", accountId));
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM scheduled_posts AS p JOIN post_parts AS pp ON pp.post_id = p.id WHERE p.x_account_id = $1 AND pp.text = 'kept'", accountId));
    }

    [Fact]
    public async Task Ten_concurrent_requests_for_an_expiring_token_cause_one_refresh_and_all_get_the_new_token()
    {
        var (_, accountId, _) = await Connect();
        await ExpireSoon(accountId);
        var refreshesBefore = api.X.RefreshCalls;

        var tokens = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            using var scope = api.Services.CreateScope();
            return await scope.ServiceProvider.GetRequiredService<XAccessTokens>().GetAsync(accountId, Ct);
        }));

        Assert.Equal(1, api.X.RefreshCalls - refreshesBefore);
        Assert.Single(tokens.Distinct());
        Assert.NotNull(tokens[0]);
        Assert.Equal("connected", await api.ScalarAsync<string>("SELECT status FROM x_accounts WHERE id = $1", accountId));
    }

    [Fact]
    public async Task Two_hosts_on_one_database_refresh_once_between_them()
    {
        var (_, accountId, _) = await Connect();
        await ExpireSoon(accountId);
        var refreshesBefore = api.X.RefreshCalls;
        // A second API host: its own services and connection pool, the same database, as another replica would be.
        await using var replica = api.WithWebHostBuilder(_ => { });

        var tokens = await Task.WhenAll(Enumerable.Range(0, 10).Select(async i =>
        {
            using var scope = (i % 2 == 0 ? api.Services : replica.Services).CreateScope();
            return await scope.ServiceProvider.GetRequiredService<XAccessTokens>().GetAsync(accountId, Ct);
        }));

        Assert.Equal(1, api.X.RefreshCalls - refreshesBefore);
        Assert.Single(tokens.Distinct());
    }

    [Fact]
    public async Task A_refresh_without_a_new_refresh_token_keeps_the_stored_one()
    {
        var (_, accountId, _) = await Connect();
        var before = await api.ScalarAsync<string>("SELECT refresh_token_protected FROM x_accounts WHERE id = $1", accountId);
        await ExpireSoon(accountId);
        api.X.RotateRefreshTokens = false;
        try
        {
            using var scope = api.Services.CreateScope();
            Assert.NotNull(await scope.ServiceProvider.GetRequiredService<XAccessTokens>().GetAsync(accountId, Ct));
        }
        finally
        {
            api.X.RotateRefreshTokens = true;
        }

        Assert.Equal(before, await api.ScalarAsync<string>("SELECT refresh_token_protected FROM x_accounts WHERE id = $1", accountId));
    }

    [Fact]
    public async Task Invalid_grant_marks_the_account_needs_reconnect()
    {
        var (userId, accountId, _) = await Connect();
        await ExpireSoon(accountId);
        // Another party used the refresh token: X now refuses it.
        await using (var scope = api.Services.CreateAsyncScope())
        {
            var protector = scope.ServiceProvider.GetRequiredService<XTokenProtector>();
            var stored = await api.ScalarAsync<string>("SELECT refresh_token_protected FROM x_accounts WHERE id = $1", accountId);
            var refresh = protector.Unprotect(stored!);
            await scope.ServiceProvider.GetRequiredService<XOAuthClient>().RefreshAsync(refresh, Ct);
            Assert.Null(await scope.ServiceProvider.GetRequiredService<XAccessTokens>().GetAsync(accountId, Ct));
        }

        using var client = api.ClientFor(userId);
        var account = Assert.Single((await client.GetFromJsonAsync<JsonObject>("/api/x-accounts", Ct))!["items"]!.AsArray())!;
        Assert.Equal("needs_reconnect", (string?)account["status"]);
    }

    [Fact]
    public async Task Disconnect_revokes_at_x_and_forgets_the_tokens()
    {
        var (userId, accountId, _) = await Connect();
        using var client = api.ClientFor(userId);
        var revokedBefore = api.X.Revoked.Count;

        using var response = await client.DeleteAsync($"/api/x-accounts/{accountId}", Ct);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(revokedBefore + 1, api.X.Revoked.Count);
        Assert.Null(await api.ScalarAsync<string>("SELECT refresh_token_protected FROM x_accounts WHERE id = $1", accountId));
        Assert.Null(await api.ScalarAsync<string>("SELECT access_token_protected FROM x_accounts WHERE id = $1", accountId));
    }

    [Fact]
    public async Task A_failing_revoke_does_not_block_the_disconnect()
    {
        var (userId, accountId, _) = await Connect();
        using var client = api.ClientFor(userId);
        api.X.RevokeFailure = 503;
        try
        {
            using var response = await client.DeleteAsync($"/api/x-accounts/{accountId}", Ct);
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }
        finally
        {
            api.X.RevokeFailure = null;
        }

        Assert.Equal("disconnected", await api.ScalarAsync<string>("SELECT status FROM x_accounts WHERE id = $1", accountId));
    }

    [Fact]
    public async Task The_x_stand_in_checks_pkce_and_client_authentication_as_x_does()
    {
        var callback = api.X.Approve(await StartConnect(ApiFactory.NewUserId()), username: "pkce", xUserId: "8181");
        var code = QueryHelpers.ParseQuery(new Uri(callback).Query)["code"].ToString();
        using var http = new HttpClient();
        using var wrongVerifier = new HttpRequestMessage(HttpMethod.Post, api.X.BaseUrl + "/2/oauth2/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = ApiFactory.XRedirectUri, ["code_verifier"] = new string('a', 43),
            }),
        };
        wrongVerifier.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{ApiFactory.XClientId}:{ApiFactory.XClientSecret}")));
        using var noClientAuth = new HttpRequestMessage(HttpMethod.Post, api.X.BaseUrl + "/2/oauth2/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = code }),
        };

        Assert.Equal(HttpStatusCode.BadRequest, (await http.SendAsync(wrongVerifier, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(noClientAuth, Ct)).StatusCode);
    }

    private async Task ExpireSoon(Guid accountId)
    {
        await using var command = api.Database.CreateCommand("UPDATE x_accounts SET access_token_expires_at = now() + interval '1 minute' WHERE id = $1");
        command.Parameters.Add(new() { Value = accountId });
        await command.ExecuteNonQueryAsync(Ct);
    }
}

/// <summary>An API without the X app's settings (a fresh clone).</summary>
public sealed class ApiWithoutX(TestPostgres postgres) : ApiFactory(postgres)
{
    protected override bool ConfigureX => false;
}

public class XNotConfiguredTests(ApiWithoutX api) : IClassFixture<ApiWithoutX>
{
    [Fact]
    public async Task Connect_without_x_settings_is_503_and_says_what_to_set()
    {
        using var client = api.ClientFor(ApiFactory.NewUserId());
        using var response = await client.PostAsync("/api/x-accounts/connect", null, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("X:ClientId", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }
}
