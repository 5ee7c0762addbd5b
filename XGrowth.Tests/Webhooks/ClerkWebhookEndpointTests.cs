using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using XGrowth.Api.Webhooks;
using XGrowth.DevStandIns.Clerk;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Webhooks;

public class ClerkWebhookEndpointTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static readonly DateTimeOffset T1 = DateTimeOffset.UtcNow.AddMinutes(-30);
    private static readonly DateTimeOffset T2 = T1.AddMinutes(10);

    private sealed record Receipt(string Outcome);

    private sealed record UserRow(string? Email, string? FirstName, string? LastName, string? Username, DateTimeOffset? ClerkUpdatedAt, DateTimeOffset? DeletedAt);

    private async Task<string> PostExpectingOk(byte[] body, string? svixId = null)
    {
        using var response = await api.PostSignedWebhookAsync(body, svixId);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var receipt = await response.Content.ReadFromJsonAsync<Receipt>(TestContext.Current.CancellationToken);
        return receipt!.Outcome;
    }

    private async Task<UserRow?> ReadUser(string userId)
    {
        await using var command = api.Database.CreateCommand(
            "SELECT email, first_name, last_name, username, clerk_updated_at, deleted_at FROM users WHERE id = $1");
        command.Parameters.Add(new() { Value = userId });
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        if (!await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            return null;
        }

        string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
        DateTimeOffset? Time(int i) => reader.IsDBNull(i) ? null : reader.GetFieldValue<DateTimeOffset>(i);
        return new UserRow(Text(0), Text(1), Text(2), Text(3), Time(4), Time(5));
    }

    private async Task AssertNothingWritten(string userId, string svixId)
    {
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM users WHERE id = $1", userId));
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM clerk_webhook_deliveries WHERE svix_id = $1", svixId));
    }

    private static void AssertTimeEqual(DateTimeOffset expected, DateTimeOffset? actual) =>
        Assert.Equal(expected.ToUnixTimeMilliseconds(), actual?.ToUnixTimeMilliseconds());

    [Fact]
    public async Task User_created_stores_the_user_with_its_primary_email()
    {
        var userId = ApiFactory.NewUserId();
        Assert.Equal("applied", await PostExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, "ada@example.com", T1, username: "ada")));

        var user = await ReadUser(userId);
        Assert.NotNull(user);
        Assert.Equal("ada@example.com", user.Email);
        Assert.Equal("Ada", user.FirstName);
        Assert.Equal("Lovelace", user.LastName);
        Assert.Equal("ada", user.Username);
        AssertTimeEqual(T1, user.ClerkUpdatedAt);
        Assert.Null(user.DeletedAt);
    }

    [Fact]
    public async Task Primary_email_is_the_one_named_by_primary_email_address_id()
    {
        var userId = ApiFactory.NewUserId();
        var data = new JsonObject
        {
            ["id"] = userId,
            ["primary_email_address_id"] = "idn_2",
            ["email_addresses"] = new JsonArray(
                new JsonObject { ["id"] = "idn_1", ["email_address"] = "old@example.com" },
                new JsonObject { ["id"] = "idn_2", ["email_address"] = "primary@example.com" }),
            ["updated_at"] = T1.ToUnixTimeMilliseconds(),
        };
        await PostExpectingOk(ClerkSampleEvents.Envelope("user.created", data, T1));
        Assert.Equal("primary@example.com", (await ReadUser(userId))!.Email);
    }

    [Fact]
    public async Task Phone_only_user_has_no_email()
    {
        var userId = ApiFactory.NewUserId();
        Assert.Equal("applied", await PostExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, null, T1)));
        var user = await ReadUser(userId);
        Assert.NotNull(user);
        Assert.Null(user.Email);
    }

    [Fact]
    public async Task User_updated_changes_the_profile()
    {
        var userId = ApiFactory.NewUserId();
        await PostExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, "ada@example.com", T1));
        Assert.Equal("applied", await PostExpectingOk(ClerkSampleEvents.UserEvent("user.updated", userId, "countess@example.com", T2, firstName: "Augusta")));

        var user = await ReadUser(userId);
        Assert.Equal("countess@example.com", user!.Email);
        Assert.Equal("Augusta", user.FirstName);
        AssertTimeEqual(T2, user.ClerkUpdatedAt);
    }

    [Fact]
    public async Task Stale_update_changes_nothing()
    {
        var userId = ApiFactory.NewUserId();
        await PostExpectingOk(ClerkSampleEvents.UserEvent("user.updated", userId, "new@example.com", T2));
        Assert.Equal("stale", await PostExpectingOk(ClerkSampleEvents.UserEvent("user.updated", userId, "old@example.com", T1)));

        var user = await ReadUser(userId);
        Assert.Equal("new@example.com", user!.Email);
        AssertTimeEqual(T2, user.ClerkUpdatedAt);
    }

    [Fact]
    public async Task Update_before_create_keeps_the_newer_profile()
    {
        var userId = ApiFactory.NewUserId();
        Assert.Equal("applied", await PostExpectingOk(ClerkSampleEvents.UserEvent("user.updated", userId, "updated@example.com", T2)));
        Assert.Equal("stale", await PostExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, "created@example.com", T1)));

        var user = await ReadUser(userId);
        Assert.Equal("updated@example.com", user!.Email);
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM users WHERE id = $1", userId));
    }

    [Fact]
    public async Task User_deleted_erases_the_profile_and_removes_accounts_and_posts()
    {
        var userId = ApiFactory.NewUserId();
        await PostExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, "ada@example.com", T1));
        var accountId = Guid.NewGuid();
        await using (var insert = api.Database.CreateCommand("""
            WITH account AS (
                INSERT INTO x_accounts (id, user_id, x_user_id, username, status, connected_at, updated_at)
                VALUES ($1, $2, '12345', 'ada_x', 'connected', now(), now()) RETURNING id),
            post AS (
                INSERT INTO scheduled_posts (id, x_account_id, scheduled_at, status, created_at, updated_at)
                SELECT gen_random_uuid(), id, now() + interval '1 day', 'scheduled', now(), now() FROM account RETURNING id)
            INSERT INTO post_parts (post_id, position, text) SELECT id, 0, 'hello' FROM post
            """))
        {
            insert.Parameters.Add(new() { Value = accountId });
            insert.Parameters.Add(new() { Value = userId });
            await insert.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        Assert.Equal("applied", await PostExpectingOk(ClerkSampleEvents.UserDeleted(userId, T2)));

        var user = await ReadUser(userId);
        Assert.NotNull(user);
        Assert.NotNull(user.DeletedAt);
        Assert.Null(user.Email);
        Assert.Null(user.FirstName);
        Assert.Null(user.LastName);
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM x_accounts WHERE user_id = $1", userId));
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM scheduled_posts WHERE x_account_id = $1", accountId));
    }

    [Fact]
    public async Task Late_created_or_updated_after_delete_does_not_bring_the_user_back()
    {
        var userId = ApiFactory.NewUserId();
        await PostExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, "ada@example.com", T1));
        await PostExpectingOk(ClerkSampleEvents.UserDeleted(userId, T1.AddMinutes(1)));

        Assert.Equal("user_deleted", await PostExpectingOk(ClerkSampleEvents.UserEvent("user.updated", userId, "late@example.com", T2.AddHours(1))));
        Assert.Equal("user_deleted", await PostExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, "late@example.com", T2.AddHours(1))));

        var user = await ReadUser(userId);
        Assert.NotNull(user!.DeletedAt);
        Assert.Null(user.Email);
    }

    [Fact]
    public async Task Delete_before_create_leaves_a_tombstone_that_refuses_the_create()
    {
        var userId = ApiFactory.NewUserId();
        Assert.Equal("applied", await PostExpectingOk(ClerkSampleEvents.UserDeleted(userId, T2)));
        Assert.Equal("user_deleted", await PostExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, "ada@example.com", T1)));
        Assert.NotNull((await ReadUser(userId))!.DeletedAt);
    }

    [Fact]
    public async Task Replay_of_a_svix_id_has_one_effect()
    {
        var userId = ApiFactory.NewUserId();
        var svixId = ApiFactory.NewSvixId();
        Assert.Equal("applied", await PostExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, "first@example.com", T1), svixId));
        // A redelivery is re-signed with a new timestamp; even a different body under the same id changes nothing.
        Assert.Equal("duplicate", await PostExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, "first@example.com", T1), svixId));
        Assert.Equal("duplicate", await PostExpectingOk(ClerkSampleEvents.UserEvent("user.updated", userId, "second@example.com", T2), svixId));

        Assert.Equal("first@example.com", (await ReadUser(userId))!.Email);
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM clerk_webhook_deliveries WHERE svix_id = $1", svixId));
    }

    [Fact]
    public async Task Twenty_concurrent_deliveries_of_one_svix_id_have_one_effect()
    {
        var userId = ApiFactory.NewUserId();
        var svixId = ApiFactory.NewSvixId();
        var body = ClerkSampleEvents.UserEvent("user.created", userId, "ada@example.com", T1);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => PostExpectingOk(body, svixId)));

        Assert.Equal(1, outcomes.Count(o => o == "applied"));
        Assert.Equal(19, outcomes.Count(o => o == "duplicate"));
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM clerk_webhook_deliveries WHERE svix_id = $1", svixId));
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM users WHERE id = $1", userId));
    }

    [Fact]
    public async Task Standard_webhooks_header_names_are_accepted()
    {
        var userId = ApiFactory.NewUserId();
        var body = ClerkSampleEvents.UserEvent("user.created", userId, "ada@example.com", T1);
        var headers = ClerkSampleEvents.SignedHeaders(ApiFactory.WebhookSecret, ApiFactory.NewSvixId(), body, DateTimeOffset.UtcNow)
            .ToDictionary(h => h.Key.Replace("svix-", "webhook-", StringComparison.Ordinal), h => h.Value);

        using var response = await api.PostWebhookAsync(body, headers);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(await ReadUser(userId));
    }

    [Fact]
    public async Task Other_event_types_are_acknowledged_and_ignored()
    {
        var svixId = ApiFactory.NewSvixId();
        var body = ClerkSampleEvents.Envelope("session.created", new JsonObject { ["id"] = "sess_123", ["user_id"] = "user_x" }, T1);
        Assert.Equal("ignored", await PostExpectingOk(body, svixId));
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM clerk_webhook_deliveries WHERE svix_id = $1", svixId));
    }

    public static TheoryData<string, string> BadSignatures => new()
    {
        { "no headers", "" },
        { "no signature", "svix-signature" },
        { "no id", "svix-id" },
        { "no timestamp", "svix-timestamp" },
        { "wrong signature", "wrong" },
        { "old timestamp", "old" },
        { "future timestamp", "future" },
        { "signed with another secret", "other-secret" },
        { "body changed after signing", "tampered" },
    };

    [Theory]
    [MemberData(nameof(BadSignatures))]
    public async Task Bad_signatures_are_400_and_write_nothing(string description, string fault)
    {
        var userId = ApiFactory.NewUserId();
        var svixId = ApiFactory.NewSvixId();
        var body = ClerkSampleEvents.UserEvent("user.created", userId, "ada@example.com", T1);
        var signedAt = fault switch { "old" => DateTimeOffset.UtcNow.AddMinutes(-6), "future" => DateTimeOffset.UtcNow.AddMinutes(6), _ => DateTimeOffset.UtcNow };
        var secret = fault == "other-secret" ? "whsec_c2VjcmV0LW51bWJlci10d28tZm9yLXJvdGF0aW9u" : ApiFactory.WebhookSecret;
        var headers = ClerkSampleEvents.SignedHeaders(secret, svixId, body, signedAt);
        switch (fault)
        {
            case "": headers.Clear(); break;
            case "wrong": headers["svix-signature"] = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="; break;
            case "tampered": body = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body).Replace("ada@example.com", "eve@example.com", StringComparison.Ordinal)); break;
            case "svix-signature" or "svix-id" or "svix-timestamp": headers.Remove(fault); break;
        }

        using var response = await api.PostWebhookAsync(body, headers);

        Assert.True(HttpStatusCode.BadRequest == response.StatusCode, description);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await AssertNothingWritten(userId, svixId);
    }

    public static TheoryData<string> NotClerkEvents => new()
    {
        "not json at all",
        "[1, 2, 3]",
        "{\"type\": \"user.created\"}",
        "{\"data\": {\"id\": \"user_1\"}}",
        "{\"type\": 42, \"data\": {}}",
        "{\"type\": \"user.created\", \"data\": \"user_1\"}",
        "{\"type\": \"user.created\", \"data\": {}}",
        "{\"type\": \"user.created\", \"data\": {\"id\": 17}}",
        "{\"type\": \"user.updated\", \"data\": {\"id\": \"\"}}",
        "{\"type\": \"user.updated\", \"data\": {\"id\": \"USERID\", \"first_name\": 5}}",
        "{\"type\": \"user.updated\", \"data\": {\"id\": \"USERID\", \"updated_at\": \"yesterday\"}}",
        "{\"type\": \"user.updated\", \"data\": {\"id\": \"USERID\", \"email_addresses\": {}}}",
        "{\"type\": \"user.updated\", \"data\": {\"id\": \"USERID\", \"first_name\": \"A\\u0000B\"}}",
        "{\"type\": \"user.deleted\", \"data\": {\"deleted\": true}}",
        "{\"type\": \"user.created\", \"data\": {\"id\": \"USERID\"",
    };

    [Theory]
    [MemberData(nameof(NotClerkEvents))]
    public async Task Validly_signed_body_that_is_not_a_clerk_event_is_400_and_writes_nothing(string json)
    {
        var userId = ApiFactory.NewUserId();
        var svixId = ApiFactory.NewSvixId();
        var body = Encoding.UTF8.GetBytes(json.Replace("USERID", userId, StringComparison.Ordinal));

        using var response = await api.PostSignedWebhookAsync(body, svixId);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        Assert.Equal("Not a Clerk event", (string?)problem!["title"]);
        await AssertNothingWritten(userId, svixId);
    }

    [Fact]
    public async Task Body_over_one_mebibyte_is_413_and_writes_nothing()
    {
        var userId = ApiFactory.NewUserId();
        var svixId = ApiFactory.NewSvixId();
        var data = new JsonObject { ["id"] = userId, ["first_name"] = new string('a', ClerkWebhooksApi.MaxBodyBytes) };
        var body = ClerkSampleEvents.Envelope("user.created", data, T1);

        using var response = await api.PostSignedWebhookAsync(body, svixId);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await AssertNothingWritten(userId, svixId);
    }

    [Fact]
    public async Task Oversized_body_without_content_length_is_413()
    {
        var svixId = ApiFactory.NewSvixId();
        using var client = api.CreateClient();
        using var content = new StreamContent(new MemoryStream(new byte[ClerkWebhooksApi.MaxBodyBytes + 10]));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/webhooks/clerk") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        foreach (var (name, value) in ClerkSampleEvents.SignedHeaders(ApiFactory.WebhookSecret, svixId, [], DateTimeOffset.UtcNow))
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM clerk_webhook_deliveries WHERE svix_id = $1", svixId));
    }

    [Fact]
    public async Task Overlong_svix_id_is_400()
    {
        var svixId = "msg_" + new string('x', 300);
        var userId = ApiFactory.NewUserId();
        using var response = await api.PostSignedWebhookAsync(ClerkSampleEvents.UserEvent("user.created", userId, "a@example.com", T1), svixId);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM users WHERE id = $1", userId));
    }

    [Fact]
    public async Task Get_tells_the_endpoint_is_there_and_nothing_about_configuration()
    {
        using var client = api.CreateClient();
        using var response = await client.GetAsync("/api/webhooks/clerk", TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Clerk webhook endpoint", text, StringComparison.Ordinal);
        Assert.DoesNotContain("whsec", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secret", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("configured", text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Logs_hold_neither_the_secret_nor_emails()
    {
        var userId = ApiFactory.NewUserId();
        await PostExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, "private-address@example.com", T1));
        using (await api.PostWebhookAsync(Encoding.UTF8.GetBytes("{}"), new Dictionary<string, string>()))
        {
        }

        var logs = string.Join('\n', api.Logs.Lines);
        Assert.Contains(userId, logs, StringComparison.Ordinal);
        Assert.DoesNotContain("private-address@example.com", logs, StringComparison.Ordinal);
        Assert.DoesNotContain("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_webhook_gets_a_span_and_a_count_with_type_and_outcome()
    {
        var svixId = ApiFactory.NewSvixId();
        var spans = new List<Activity>();
        // Read before the listener exists: a listener that touched ClerkWebhooksApi from ShouldListenTo while any
        // ActivitySource is being created (a worker's, in a test running alongside) could run its type initializer
        // inside that callback and break it for the whole run.
        var sourceName = ClerkWebhooksApi.ActivitySource.Name;
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == sourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => { lock (spans) { spans.Add(activity); } },
        };
        ActivitySource.AddActivityListener(listener);
        var counts = new List<(long Value, Dictionary<string, object?> Tags)>();
        using var meterListener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name == "xgrowth.webhooks.received")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meterListener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            lock (counts) { counts.Add((value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))); }
        });
        meterListener.Start();

        await PostExpectingOk(ClerkSampleEvents.UserEvent("user.created", ApiFactory.NewUserId(), "a@example.com", T1), svixId);

        Activity span;
        lock (spans)
        {
            span = Assert.Single(spans, s => s.OperationName == "clerk webhook" && (string?)s.GetTagItem("svix.id") == svixId);
            Assert.Contains(spans, s => s.OperationName == "verify svix signature" && s.ParentSpanId == span.SpanId);
        }

        Assert.Equal("user.created", span.GetTagItem("clerk.event_type"));
        Assert.Equal("applied", span.GetTagItem("xgrowth.webhook.outcome"));
        lock (counts)
        {
            Assert.Contains(counts, c => c.Value == 1 && (string?)c.Tags["event_type"] == "user.created" && (string?)c.Tags["outcome"] == "applied");
        }
    }
}

/// <summary>An API with no webhook secret configured.</summary>
public sealed class ApiWithoutWebhookSecret(TestPostgres postgres) : ApiFactory(postgres)
{
    protected override string? ConfiguredWebhookSecret => null;
}

public class ClerkWebhookWithoutSecretTests(ApiWithoutWebhookSecret api) : IClassFixture<ApiWithoutWebhookSecret>
{
    [Fact]
    public async Task Without_a_secret_webhooks_are_503_so_clerk_retries_and_nothing_is_written()
    {
        var userId = ApiFactory.NewUserId();
        var svixId = ApiFactory.NewSvixId();

        using var response = await api.PostSignedWebhookAsync(ClerkSampleEvents.UserEvent("user.created", userId, "a@example.com", DateTimeOffset.UtcNow), svixId);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.DoesNotContain("WebhookSecret", text, StringComparison.Ordinal);
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM users WHERE id = $1", userId));
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM clerk_webhook_deliveries WHERE svix_id = $1", svixId));
        Assert.Contains(api.Logs.Lines, line => line.Contains("Clerk:WebhookSecret is not set", StringComparison.Ordinal));
    }
}
