using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using XGrowth.DevStandIns.Clerk;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Webhooks;

/// <summary>
/// Signed events holding values no real Clerk event holds. Clerk retries a 500 for a day, so each is answered 400
/// (and writes nothing) or stored in a form the database holds, never 500.
/// </summary>
public class ClerkWebhookBadInputTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static readonly DateTimeOffset T1 = DateTimeOffset.UtcNow.AddMinutes(-30);
    private static readonly DateTimeOffset T2 = T1.AddMinutes(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The data of a realistic user event (about 2 KB, as Clerk sends), to spoil a field of.</summary>
    private static JsonObject UserData(string userId, string? email = "ada@example.com", DateTimeOffset? updatedAt = null) =>
        JsonNode.Parse(ClerkSampleEvents.UserEvent("user.created", userId, email, updatedAt ?? T1))!["data"]!.DeepClone().AsObject();

    private static byte[] Event(string type, JsonNode data) => ClerkSampleEvents.Envelope(type, data, T1);

    private async Task<(HttpStatusCode Status, JsonObject? Body)> Send(byte[] body, string svixId)
    {
        using var response = await api.PostSignedWebhookAsync(body, svixId);
        var text = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, text.StartsWith('{') ? JsonNode.Parse(text)?.AsObject() : null);
    }

    private async Task<string> SendExpectingOk(byte[] body)
    {
        var (status, answer) = await Send(body, ApiFactory.NewSvixId());
        Assert.True(status == HttpStatusCode.OK, $"{status}: {answer?.ToJsonString()}");
        return (string)answer!["outcome"]!;
    }

    private async Task SendExpecting400AndNothingWritten(byte[] body, string userId)
    {
        var svixId = ApiFactory.NewSvixId();
        var (status, problem) = await Send(body, svixId);
        Assert.True(status == HttpStatusCode.BadRequest, $"{status}: {problem?.ToJsonString()}");
        Assert.Equal("Not a Clerk event", (string?)problem!["title"]);
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM users WHERE id = $1", userId));
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM clerk_webhook_deliveries WHERE svix_id = $1", svixId));
    }

    private async Task<Dictionary<string, object?>> ReadUser(string userId)
    {
        await using var command = api.Database.CreateCommand(
            "SELECT email, first_name, last_name, username, image_url, clerk_updated_at FROM users WHERE id = $1");
        command.Parameters.Add(new() { Value = userId });
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct), $"no row for {userId}");
        return Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, i => reader.IsDBNull(i) ? null : reader.GetValue(i));
    }

    /// <summary>Random letters and digits: text PostgreSQL cannot compress into an index row.</summary>
    private static string Incompressible(int length) =>
        string.Create(length, 0, (chars, _) =>
        {
            const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
            }
        });

    public static TheoryData<string> UpdatedAtOutOfRange => new()
    {
        "1000000000000000", // 1e15 ms: the year 33658, beyond what a DateTimeOffset holds
        "-100000000000000000", // -1e17 ms
        "9223372036854775807",
        "-9223372036854775808",
        "-1", // before 1970
        "AHEAD", // two days ahead of the server's clock: it would make every real update stale
    };

    [Theory]
    [MemberData(nameof(UpdatedAtOutOfRange))]
    public async Task Updated_at_out_of_range_is_400_and_writes_nothing(string updatedAt)
    {
        var userId = ApiFactory.NewUserId();
        var data = UserData(userId);
        data["updated_at"] = JsonNode.Parse(updatedAt == "AHEAD" ? $"{DateTimeOffset.UtcNow.AddDays(2).ToUnixTimeMilliseconds()}" : updatedAt);

        await SendExpecting400AndNothingWritten(Event("user.created", data), userId);
    }

    [Theory]
    [InlineData(321)]
    [InlineData(4096)] // over PostgreSQL's ~2.7 KB limit of a btree index row (users.email is indexed)
    public async Task Primary_email_longer_than_320_characters_is_400_and_writes_nothing(int length)
    {
        var userId = ApiFactory.NewUserId();
        var email = Incompressible(length - "@example.com".Length) + "@example.com";

        await SendExpecting400AndNothingWritten(ClerkSampleEvents.UserEvent("user.created", userId, email, T1), userId);
    }

    [Fact]
    public async Task Primary_email_of_320_characters_is_stored()
    {
        var userId = ApiFactory.NewUserId();
        var email = Incompressible(320 - "@example.com".Length) + "@example.com";

        Assert.Equal("applied", await SendExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, email, T1)));
        Assert.Equal(email, (await ReadUser(userId))["email"]);
    }

    [Theory]
    [InlineData("first_name")]
    [InlineData("last_name")]
    [InlineData("username")]
    public async Task Name_longer_than_256_characters_is_400_and_writes_nothing(string field)
    {
        var userId = ApiFactory.NewUserId();
        var data = UserData(userId);
        data[field] = new string('n', 257);

        await SendExpecting400AndNothingWritten(Event("user.updated", data), userId);
    }

    [Theory]
    [InlineData("javascript:alert(1)")]
    [InlineData("/img/relative.png")]
    [InlineData("https://img.clerk.com/")] // made 2049 characters long below
    public async Task Image_url_that_is_not_an_http_url_of_at_most_2048_characters_is_dropped_and_the_rest_stored(string imageUrl)
    {
        var userId = ApiFactory.NewUserId();
        var data = UserData(userId);
        data["image_url"] = imageUrl.StartsWith("https", StringComparison.Ordinal) ? imageUrl + new string('x', 2049 - imageUrl.Length) : imageUrl;

        Assert.Equal("applied", await SendExpectingOk(Event("user.created", data)));

        var user = await ReadUser(userId);
        Assert.Null(user["image_url"]);
        Assert.Equal("ada@example.com", user["email"]);
        Assert.Contains(api.Logs.Lines, line => line.Contains(userId, StringComparison.Ordinal) && line.Contains("image_url", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Update_without_updated_at_after_a_dated_profile_is_stale_and_changes_nothing(bool explicitNull)
    {
        var userId = ApiFactory.NewUserId();
        Assert.Equal("applied", await SendExpectingOk(ClerkSampleEvents.UserEvent("user.created", userId, "new@example.com", T2)));
        var undated = UserData(userId, "old@example.com");
        undated["first_name"] = "Old";
        if (explicitNull)
        {
            undated["updated_at"] = null;
        }
        else
        {
            undated.Remove("updated_at");
        }

        Assert.Equal("stale", await SendExpectingOk(Event("user.updated", undated)));

        var user = await ReadUser(userId);
        Assert.Equal("new@example.com", user["email"]);
        Assert.Equal("Ada", user["first_name"]);
        Assert.Equal(T2.ToUnixTimeMilliseconds(), new DateTimeOffset((DateTime)user["clerk_updated_at"]!).ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task Undated_event_is_applied_while_no_dated_profile_is_stored_and_the_first_dated_one_replaces_it()
    {
        var userId = ApiFactory.NewUserId();
        var undated = UserData(userId, "undated@example.com");
        undated.Remove("updated_at");

        Assert.Equal("applied", await SendExpectingOk(Event("user.created", undated)));
        var user = await ReadUser(userId);
        Assert.Equal("undated@example.com", user["email"]);
        Assert.Null(user["clerk_updated_at"]);

        Assert.Equal("applied", await SendExpectingOk(ClerkSampleEvents.UserEvent("user.updated", userId, "dated@example.com", T1)));
        Assert.Equal("stale", await SendExpectingOk(Event("user.updated", undated.DeepClone())));
        Assert.Equal("dated@example.com", (await ReadUser(userId))["email"]);
    }

    [Fact]
    public async Task Null_entries_among_email_addresses_are_skipped()
    {
        var userId = ApiFactory.NewUserId();
        var data = UserData(userId);
        data["primary_email_address_id"] = "idn_primary";
        data["email_addresses"] = new JsonArray(null, new JsonObject { ["id"] = null, ["email_address"] = null },
            new JsonObject { ["id"] = "idn_primary", ["email_address"] = "primary@example.com" });

        Assert.Equal("applied", await SendExpectingOk(Event("user.created", data)));
        Assert.Equal("primary@example.com", (await ReadUser(userId))["email"]);
    }

    [Fact]
    public async Task User_deleted_needs_only_the_id()
    {
        var userId = ApiFactory.NewUserId();
        var data = new JsonObject
        {
            ["object"] = "user", ["id"] = userId, ["deleted"] = true,
            ["updated_at"] = 1_000_000_000_000_000, ["first_name"] = new string('n', 5000),
        };

        Assert.Equal("applied", await SendExpectingOk(Event("user.deleted", data)));
        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM users WHERE id = $1 AND deleted_at IS NOT NULL", userId));
    }

    [Theory]
    [InlineData("msg_\u0000nul")]
    [InlineData("msg_\u0001control")]
    [InlineData("msg_ spaced")]
    public async Task Svix_id_with_characters_svix_never_sends_is_400(string svixId)
    {
        var userId = ApiFactory.NewUserId();
        var (status, _) = await Send(ClerkSampleEvents.UserEvent("user.created", userId, "a@example.com", T1), svixId);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM users WHERE id = $1", userId));
    }

    /// <summary>JSON values no field of a Clerk user should hold (raw JSON text, so that it can be invalid UTF-16).</summary>
    private static readonly string[] HostileValues =
    [
        "null", "0", "-1", "1000000000000000", "-100000000000000000", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "1.5", "1e15", "-0", "1e400", "true", "\"\"", "\" \"", "\"\\u0000\"", "\"a\\u0000b\"",
        "\"\\ud800\"", "\"\\udc00x\"", "\"\\ud83d\\ude00\"", "\"\\u202e\\u0007\\u001b[31m\"", "\"" + Incompressible(4096) + "\"",
        "\"" + string.Concat(Enumerable.Repeat("\\ud83d\\ude00", 300)) + "\"", "\"" + new string('w', 100_000) + "\"",
        "[]", "{}", "[null]", "[1]", new string('[', 70) + new string(']', 70), "[" + string.Join(',', Enumerable.Repeat("null", 20_000)) + "]",
        "[{\"id\":null,\"email_address\":null}]", "\"javascript:alert(1)\"", "\"https://" + Incompressible(5000) + "\"",
        "\"" + Incompressible(4000) + "@example.com\"", "\"2026-01-01T00:00:00Z\"", "\"1764140000000\"", "\"user_other\"",
    ];

    private static readonly string[] Fields =
    [
        "id", "object", "username", "first_name", "last_name", "image_url", "has_image", "primary_email_address_id",
        "email_addresses", "email_addresses/0", "email_addresses/0/id", "email_addresses/0/email_address",
        "email_addresses/0/verification", "phone_numbers", "external_accounts", "external_id", "public_metadata",
        "unsafe_metadata", "created_at", "updated_at", "last_active_at", "deleted", "banned",
    ];

    [Fact]
    public async Task Hostile_values_in_any_field_never_answer_5xx_a_refusal_writes_nothing_and_what_is_stored_fits()
    {
        var cases = new List<(string Description, string UserId, byte[] Body)>();
        string[] types = ["user.created", "user.updated", "user.deleted"];
        for (var f = 0; f < Fields.Length; f++)
        {
            for (var v = 0; v < HostileValues.Length; v++)
            {
                // Each case is one event type in turn; a bad id is tried with every type, deletions included.
                foreach (var type in Fields[f] == "id" ? types : [types[(f + v) % types.Length]])
                {
                    cases.Add(HostileCase(type, Fields[f], HostileValues[v]));
                }
            }
        }

        // Bodies that are not even well-formed the way Clerk's are.
        var sample = Encoding.UTF8.GetString(ClerkSampleEvents.UserEvent("user.created", "USERID", "ada@example.com", T1));
        foreach (var (description, make) in new (string, Func<string, byte[]>)[]
        {
            ("invalid UTF-8 in a name", json => [.. Encoding.UTF8.GetBytes(json.Replace("\"Ada\"", "\"A\u0001a\"", StringComparison.Ordinal))
                .Select(b => b == 1 ? (byte)0xFF : b)]),
            ("byte order mark", json => [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(json)]),
            ("trailing garbage", json => Encoding.UTF8.GetBytes(json + "}}")),
            ("two ids", json => Encoding.UTF8.GetBytes(json.Replace("\"id\":\"user_", "\"id\":\"user_second\",\"id\":\"user_", StringComparison.Ordinal))),
            ("metadata nested 1000 deep", json => Encoding.UTF8.GetBytes(json.Replace("\"public_metadata\":{}",
                "\"public_metadata\":" + new string('[', 1000) + new string(']', 1000), StringComparison.Ordinal))),
            ("type as a number", json => Encoding.UTF8.GetBytes(json.Replace("\"type\":\"user.created\"", "\"type\":1", StringComparison.Ordinal))),
        })
        {
            var userId = ApiFactory.NewUserId();
            cases.Add((description, userId, make(sample.Replace("USERID", userId, StringComparison.Ordinal))));
        }

        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var outcomes = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Ct }, async (@case, _) =>
        {
            var svixId = ApiFactory.NewSvixId();
            var (status, answer) = await Send(@case.Body, svixId);
            outcomes.AddOrUpdate($"{(int)status} {answer?["outcome"] ?? answer?["title"]}", 1, (_, n) => n + 1);
            if ((int)status >= 500)
            {
                failures.Add($"{@case.Description}: {(int)status} {answer?.ToJsonString()}");
            }
            else if ((int)status >= 400)
            {
                if (await api.CountAsync("SELECT count(*) FROM clerk_webhook_deliveries WHERE svix_id = $1", svixId) != 0
                    || await api.CountAsync("SELECT count(*) FROM users WHERE id = $1", @case.UserId) != 0)
                {
                    failures.Add($"{@case.Description}: {(int)status} but written");
                }
            }
            else if ((string?)answer?["outcome"] == "applied" && await api.CountAsync("""
                SELECT count(*) FROM users WHERE id = $1 AND deleted_at IS NULL AND NOT (
                    coalesce(length(email), 0) <= 320 AND coalesce(length(first_name), 0) <= 256 AND coalesce(length(last_name), 0) <= 256
                    AND coalesce(length(username), 0) <= 256 AND coalesce(length(image_url), 0) <= 2048
                    AND coalesce(image_url ~ '^https?://', true)
                    AND coalesce(clerk_updated_at BETWEEN '1970-01-01' AND now() + interval '1 day', true))
                """, @case.UserId) != 0)
            {
                failures.Add($"{@case.Description}: stored a value beyond the limits");
            }
        });

        Assert.True(failures.IsEmpty, string.Join('\n', failures.Order()));
        // Both answers happen: the fuzzing reaches the write, not only the parser.
        Assert.Contains(outcomes.Keys, key => key.StartsWith("200 applied", StringComparison.Ordinal));
        Assert.Contains(outcomes.Keys, key => key.StartsWith("400", StringComparison.Ordinal));
    }

    /// <summary>A realistic user event whose <paramref name="field"/> (a path such as <c>email_addresses/0/id</c>) holds <paramref name="value"/>.</summary>
    private static (string Description, string UserId, byte[] Body) HostileCase(string type, string field, string value)
    {
        const string Placeholder = "\u0001HOSTILE\u0001";
        var userId = ApiFactory.NewUserId();
        var data = UserData(userId);
        var path = field.Split('/');
        JsonNode parent = data;
        foreach (var step in path[..^1])
        {
            parent = int.TryParse(step, out var index) ? parent[index]! : parent[step]!;
        }

        if (parent is JsonArray array)
        {
            array[int.Parse(path[^1], System.Globalization.CultureInfo.InvariantCulture)] = Placeholder;
        }
        else
        {
            parent[path[^1]] = Placeholder;
        }

        var json = Encoding.UTF8.GetString(Event(type, data)).Replace("\"\\u0001HOSTILE\\u0001\"", value, StringComparison.Ordinal);
        Assert.Contains(value, json, StringComparison.Ordinal);
        return ($"{type} {field} = {(value.Length > 60 ? value[..60] + "..." : value)}", userId, Encoding.UTF8.GetBytes(json));
    }
}
