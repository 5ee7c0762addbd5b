using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace XGrowth.AppHost;

/// <summary>
/// The API's commands in the dashboard (Development): the steps of the local walkthrough, one click each. Every
/// command calls the API's Development-only <c>/dev</c> endpoints or its public API, so that what the dashboard does
/// is what the README's curl commands do, and shows up in the traces the same way.
/// </summary>
public static class DevelopmentCommands
{
    public const string SendTestUserCreated = "send-test-user-created";
    public const string IssueLocalToken = "issue-local-token";
    public const string AddSandboxXAccount = "add-sandbox-x-account";
    public const string ScheduleTestPost = "schedule-test-post";

    public const string DefaultUserId = "user_local_dev";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static IResourceBuilder<ProjectResource> WithDevelopmentCommands(this IResourceBuilder<ProjectResource> api)
    {
        var endpoint = api.GetEndpoint("http");

        api.WithCommand(SendTestUserCreated, "Send test user.created", async context =>
        {
            var userId = UserIdOf(context);
            using var http = await ApiClientAsync(endpoint, context.CancellationToken);
            using var response = await http.PostAsJsonAsync("/dev/clerk/user-created", new JsonObject
            {
                ["userId"] = userId,
                ["email"] = context.Arguments.GetString("email") is { Length: > 0 } email ? email : null,
            }, context.CancellationToken);
            var body = await ReadAsync(response, context.CancellationToken);
            return response.IsSuccessStatusCode && (int?)body?["webhookStatus"] == 200
                ? CommandResults.Success($"user.created for {userId} was verified and applied: {body?["outcome"]}.", Json(body))
                : CommandResults.Failure($"The test webhook failed ({(int)response.StatusCode}).", Json(body));
        }, Options("Signs a Clerk user.created event with the webhook secret and sends it to /api/webhooks/clerk.", "PersonAdd",
            UserIdArgument(), new InteractionInput { Name = "email", Label = "Email", InputType = InputType.Text, Value = "dev@example.com" }));

        api.WithCommand(IssueLocalToken, "Issue local token", async context =>
        {
            var userId = UserIdOf(context);
            using var http = await ApiClientAsync(endpoint, context.CancellationToken);
            var (token, problem) = await TokenAsync(http, userId, context.CancellationToken);
            return token is null
                ? CommandResults.Failure(problem!)
                : CommandResults.Success($"A session token for {userId}, valid for an hour.", token, CommandResultFormat.Text, displayImmediately: true);
        }, Options("Issues a session token for a user from the local issuer (Development without Clerk:Issuer).", "Key", UserIdArgument()));

        api.WithCommand(AddSandboxXAccount, "Add sandbox X account", async context =>
        {
            var userId = UserIdOf(context);
            using var http = await ApiClientAsync(endpoint, context.CancellationToken);
            var (token, problem) = await TokenAsync(http, userId, context.CancellationToken);
            if (token is null)
            {
                return CommandResults.Failure(problem!);
            }

            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var (account, accountProblem) = await SandboxAccountAsync(http, context.Arguments.GetString("username"), context.CancellationToken);
            return account is null
                ? CommandResults.Failure(accountProblem!)
                : CommandResults.Success($"Sandbox X account @{account["username"]} of {userId}: its posts go to the local X sandbox.", Json(account));
        }, Options("Adds an X account whose posts the worker publishes to the local X sandbox instead of X.", "LinkAdd",
            UserIdArgument(), new InteractionInput { Name = "username", Label = "Sandbox username", InputType = InputType.Text, Value = "sandbox_dev" }));

        api.WithCommand(ScheduleTestPost, "Schedule test post", async context =>
        {
            var userId = UserIdOf(context);
            var secondsAhead = int.TryParse(context.Arguments.GetString("secondsAhead"), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                && seconds is >= 1 and <= 3600 ? seconds : 60;
            using var http = await ApiClientAsync(endpoint, context.CancellationToken);
            var (token, problem) = await TokenAsync(http, userId, context.CancellationToken);
            if (token is null)
            {
                return CommandResults.Failure(problem!);
            }

            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var (account, accountProblem) = await SandboxAccountAsync(http, "sandbox_dev", context.CancellationToken);
            if (account is null)
            {
                return CommandResults.Failure(accountProblem!);
            }

            var scheduledAt = DateTimeOffset.UtcNow.AddSeconds(secondsAhead);
            using var response = await http.PostAsJsonAsync("/api/posts", new JsonObject
            {
                ["xAccountId"] = (string?)account["id"],
                ["text"] = context.Arguments.GetString("text") is { Length: > 0 } text ? text : $"Hello from the XGrowth sandbox, scheduled for {scheduledAt:HH:mm:ss} UTC.",
                ["scheduledAt"] = scheduledAt.ToString("O", CultureInfo.InvariantCulture),
            }, context.CancellationToken);
            var post = await ReadAsync(response, context.CancellationToken);
            return response.IsSuccessStatusCode
                ? CommandResults.Success($"Post {post?["id"]} scheduled for {scheduledAt:HH:mm:ss} UTC on @{account["username"]}: watch the worker publish it.", Json(post))
                : CommandResults.Failure($"Scheduling failed ({(int)response.StatusCode}).", Json(post));
        }, Options("Schedules a post on the user's sandbox X account a minute ahead; the worker publishes it to the X sandbox.", "CalendarAdd",
            UserIdArgument(),
            new InteractionInput { Name = "text", Label = "Text (optional)", InputType = InputType.Text },
            new InteractionInput { Name = "secondsAhead", Label = "Seconds ahead", InputType = InputType.Number, Value = "60" }));

        return api;
    }

    /// <summary>
    /// A client for the API. It sends no trace context: each call is then a trace of its own in the dashboard, named
    /// after its request (otherwise a command's calls would all hang under the first one's trace).
    /// </summary>
    private static async Task<HttpClient> ApiClientAsync(EndpointReference endpoint, CancellationToken cancellationToken) =>
        new(new SocketsHttpHandler { ActivityHeadersPropagator = null })
        {
            BaseAddress = new Uri(await endpoint.GetValueAsync(cancellationToken) ?? throw new InvalidOperationException("The API has no address yet.")),
        };

    private static CommandOptions Options(string description, string icon, params InteractionInput[] arguments) => new()
    {
        Description = description,
        IconName = icon,
        Arguments = arguments,
        // The commands call the API: only once it answers.
        UpdateState = context => context.ResourceSnapshot.HealthStatus is HealthStatus.Healthy
            ? ResourceCommandState.Enabled : ResourceCommandState.Disabled,
    };

    private static InteractionInput UserIdArgument() =>
        new() { Name = "userId", Label = "User id", InputType = InputType.Text, Value = DefaultUserId, Required = true };

    private static string UserIdOf(ExecuteCommandContext context) =>
        context.Arguments.GetString("userId") is { Length: > 0 } userId ? userId : DefaultUserId;

    private static async Task<(string? Token, string? Problem)> TokenAsync(HttpClient http, string userId, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync("/dev/tokens", new JsonObject { ["userId"] = userId }, cancellationToken);
        var body = await ReadAsync(response, cancellationToken);
        return response.IsSuccessStatusCode
            ? ((string?)body?["token"], null)
            : (null, $"No local token ({(int)response.StatusCode}): {body?["detail"] ?? body?["errors"]?.ToJsonString()}");
    }

    private static async Task<(JsonNode? Account, string? Problem)> SandboxAccountAsync(HttpClient http, string? username, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync("/dev/sandbox/x-accounts",
            new JsonObject { ["username"] = string.IsNullOrEmpty(username) ? null : username }, cancellationToken);
        var body = await ReadAsync(response, cancellationToken);
        return response.IsSuccessStatusCode
            ? (body, null)
            : (null, $"No sandbox account ({(int)response.StatusCode}): {body?["detail"] ?? body?["errors"]?.ToJsonString()}");
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
