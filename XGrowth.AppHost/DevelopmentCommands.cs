using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace XGrowth.AppHost;

/// <summary>
/// The walkthrough's steps as commands of the <c>stand-ins</c> resource in the dashboard (Development), one click
/// each. They call the stand-ins and the API's public endpoints exactly as the README's curl commands do, so they show
/// up in the traces the same way.
/// </summary>
public static class DevelopmentCommands
{
    public const string SendTestUserCreated = "send-test-user-created";
    public const string IssueSessionToken = "issue-session-token";
    public const string ConnectXAccount = "connect-x-account";
    public const string ScheduleTestPost = "schedule-test-post";

    public static readonly string[] All = [SendTestUserCreated, IssueSessionToken, ConnectXAccount, ScheduleTestPost];

    public const string DefaultUserId = "user_local_dev";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static IResourceBuilder<ProjectResource> WithDevelopmentCommands(this IResourceBuilder<ProjectResource> standIns, IResourceBuilder<ProjectResource> api)
    {
        var standInsEndpoint = standIns.GetEndpoint("http");
        var apiEndpoint = api.GetEndpoint("http");

        standIns.WithCommand(SendTestUserCreated, "Send test user.created", async context =>
        {
            var userId = UserIdOf(context);
            using var clerk = await ClientAsync(standInsEndpoint, context.CancellationToken);
            using var response = await clerk.PostAsJsonAsync("/clerk/webhooks", new JsonObject
            {
                ["type"] = "user.created",
                ["userId"] = userId,
                ["email"] = context.Arguments.GetString("email") is { Length: > 0 } email ? email : null,
            }, context.CancellationToken);
            var body = await ReadAsync(response, context.CancellationToken);
            return response.IsSuccessStatusCode && (int?)body?["webhookStatus"] == 200
                ? CommandResults.Success($"user.created for {userId} was verified and applied by the API: {body?["response"]?["outcome"]}.", Json(body))
                : CommandResults.Failure($"The test webhook failed ({(int)response.StatusCode}).", Json(body));
        }, Options("Has the Clerk stand-in sign a user.created event and deliver it to the API's /api/webhooks/clerk.", "PersonAdd",
            UserIdArgument(), new InteractionInput { Name = "email", Label = "Email", InputType = InputType.Text, Value = "dev@example.com" }));

        standIns.WithCommand(IssueSessionToken, "Issue session token", async context =>
        {
            var userId = UserIdOf(context);
            using var clerk = await ClientAsync(standInsEndpoint, context.CancellationToken);
            var (token, problem) = await TokenAsync(clerk, userId, context.CancellationToken);
            return token is null
                ? CommandResults.Failure(problem!)
                : CommandResults.Success($"A session token for {userId}, valid for an hour.", token, CommandResultFormat.Text, displayImmediately: true);
        }, Options("Has the Clerk stand-in issue a session token for a user, valid for an hour.", "Key", UserIdArgument()));

        standIns.WithCommand(ConnectXAccount, "Connect X account", async context =>
        {
            var userId = UserIdOf(context);
            using var http = await SignedInApiClientAsync(standInsEndpoint, apiEndpoint, userId, context.CancellationToken);
            if (http.Problem is not null)
            {
                return CommandResults.Failure(http.Problem);
            }

            using var response = await http.Client!.PostAsync("/api/x-accounts/connect", null, context.CancellationToken);
            var body = await ReadAsync(response, context.CancellationToken);
            return response.IsSuccessStatusCode && (string?)body?["authorizeUrl"] is { } url
                ? CommandResults.Success($"Open this address in a browser, click \"Authorize app\" on the X stand-in's page, then \"Finish connecting\" as {userId} (valid 10 minutes): {url}",
                    url, CommandResultFormat.Text, displayImmediately: true)
                : CommandResults.Failure($"Starting the connection failed ({(int)response.StatusCode}).", Json(body));
        }, Options("Starts connecting an X account through the real OAuth flow: answers the stand-in X's authorize page to open in a browser.",
            "LinkAdd", UserIdArgument()));

        standIns.WithCommand(ScheduleTestPost, "Schedule test post", async context =>
        {
            var userId = UserIdOf(context);
            var secondsAhead = int.TryParse(context.Arguments.GetString("secondsAhead"), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                && seconds is >= 1 and <= 3600 ? seconds : 60;
            using var http = await SignedInApiClientAsync(standInsEndpoint, apiEndpoint, userId, context.CancellationToken);
            if (http.Problem is not null)
            {
                return CommandResults.Failure(http.Problem);
            }

            using var accounts = await http.Client!.GetAsync("/api/x-accounts", context.CancellationToken);
            var account = (await ReadAsync(accounts, context.CancellationToken))?["items"]?.AsArray()
                .FirstOrDefault(a => (string?)a?["status"] == "connected");
            if (account is null)
            {
                return CommandResults.Failure($"{userId} has no connected X account: run \"Connect X account\" first ({(int)accounts.StatusCode}).");
            }

            var scheduledAt = DateTimeOffset.UtcNow.AddSeconds(secondsAhead);
            using var response = await http.Client.PostAsJsonAsync("/api/posts", new JsonObject
            {
                ["xAccountId"] = (string?)account["id"],
                ["text"] = context.Arguments.GetString("text") is { Length: > 0 } text ? text : $"Hello from XGrowth, scheduled for {scheduledAt:HH:mm:ss} UTC.",
                ["scheduledAt"] = scheduledAt.ToString("O", CultureInfo.InvariantCulture),
            }, context.CancellationToken);
            var post = await ReadAsync(response, context.CancellationToken);
            return response.IsSuccessStatusCode
                ? CommandResults.Success($"Post {post?["id"]} scheduled for {scheduledAt:HH:mm:ss} UTC on @{account["username"]}: watch the worker publish it.", Json(post))
                : CommandResults.Failure($"Scheduling failed ({(int)response.StatusCode}).", Json(post));
        }, Options("Schedules a post on the user's connected X account a minute ahead; the worker publishes it to the X stand-in.", "CalendarAdd",
            UserIdArgument(),
            new InteractionInput { Name = "text", Label = "Text (optional)", InputType = InputType.Text },
            new InteractionInput { Name = "secondsAhead", Label = "Seconds ahead", InputType = InputType.Number, Value = "60" }));

        return standIns;
    }

    private sealed record SignedInClient(HttpClient? Client, string? Problem) : IDisposable
    {
        public void Dispose() => Client?.Dispose();
    }

    /// <summary>A client for the API that sends a fresh stand-in session token of <paramref name="userId"/>.</summary>
    private static async Task<SignedInClient> SignedInApiClientAsync(
        EndpointReference standIns, EndpointReference api, string userId, CancellationToken cancellationToken)
    {
        using var clerk = await ClientAsync(standIns, cancellationToken);
        var (token, problem) = await TokenAsync(clerk, userId, cancellationToken);
        if (token is null)
        {
            return new SignedInClient(null, problem);
        }

        var client = await ClientAsync(api, cancellationToken);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new SignedInClient(client, null);
    }

    /// <summary>
    /// A client for a resource. It sends no trace context: each call is then a trace of its own in the dashboard,
    /// named after its request (otherwise a command's calls would all hang under the first one's trace).
    /// </summary>
    private static async Task<HttpClient> ClientAsync(EndpointReference endpoint, CancellationToken cancellationToken) =>
        new(new SocketsHttpHandler { ActivityHeadersPropagator = null })
        {
            BaseAddress = new Uri(await endpoint.GetValueAsync(cancellationToken) ?? throw new InvalidOperationException($"{endpoint.Resource.Name} has no address yet.")),
        };

    private static CommandOptions Options(string description, string icon, params InteractionInput[] arguments) => new()
    {
        Description = description,
        IconName = icon,
        Arguments = arguments,
        // The commands call the stand-ins and the API: only once the stand-ins answer (the API may still be starting;
        // a command then says what failed).
        UpdateState = context => context.ResourceSnapshot.HealthStatus is HealthStatus.Healthy
            ? ResourceCommandState.Enabled : ResourceCommandState.Disabled,
    };

    private static InteractionInput UserIdArgument() =>
        new() { Name = "userId", Label = "User id", InputType = InputType.Text, Value = DefaultUserId, Required = true };

    private static string UserIdOf(ExecuteCommandContext context) =>
        context.Arguments.GetString("userId") is { Length: > 0 } userId ? userId : DefaultUserId;

    private static async Task<(string? Token, string? Problem)> TokenAsync(HttpClient http, string userId, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync("/clerk/tokens", new JsonObject { ["userId"] = userId }, cancellationToken);
        var body = await ReadAsync(response, cancellationToken);
        return response.IsSuccessStatusCode
            ? ((string?)body?["token"], null)
            : (null, $"No session token from the Clerk stand-in ({(int)response.StatusCode}): {body?["detail"] ?? body?["errors"]?.ToJsonString()}");
    }

    private static async Task<JsonNode?> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static CommandResultData Json(JsonNode? value) => new()
    {
        Value = value?.ToJsonString(Indented) ?? "",
        Format = CommandResultFormat.Json,
    };
}
