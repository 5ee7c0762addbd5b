extern alias apphost;
using System.Net;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using apphost::XGrowth.AppHost;
using Npgsql;
using XGrowth.Api.Webhooks;
using XGrowth.DevStandIns.Clerk;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.EndToEnd;

/// <summary>The whole application as <c>dotnet run --project XGrowth.AppHost</c> starts it, in local PostgreSQL mode.</summary>
public sealed class AppHostFixture : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "xgrowth-e2e-" + Guid.NewGuid().ToString("N")[..12]);

    public DistributedApplication App { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Projects.XGrowth_AppHost>(
        [
            "Database:Mode=local",
            "Database:Port=0",
            $"Database:DataDirectory={_dataDirectory}",
            $"Clerk:WebhookSecret={ApiFactory.WebhookSecret}",
            $"StandIns:DataDirectory={Path.Combine(_dataDirectory, "stand-ins")}",
        ], (options, _) => options.DisableDashboard = true, timeout.Token);
        App = await builder.BuildAsync(timeout.Token);
        await App.StartAsync(timeout.Token);
        await App.ResourceNotifications.WaitForResourceHealthyAsync("api", timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }

        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Left in /tmp; harmless.
        }
    }
}

public class AppHostTests(AppHostFixture fixture) : IClassFixture<AppHostFixture>
{
    private static CancellationToken Bounded(TimeSpan timeout)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        source.CancelAfter(timeout);
        return source.Token;
    }

    [Fact]
    public async Task Signed_user_created_sent_to_the_running_application_shows_up_in_its_database()
    {
        var cancellationToken = Bounded(TimeSpan.FromSeconds(60));
        var userId = ApiFactory.NewUserId();
        var body = ClerkSampleEvents.UserEvent("user.created", userId, "e2e@example.com", DateTimeOffset.UtcNow);
        using var client = fixture.App.CreateHttpClient("api");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/webhooks/clerk") { Content = new ByteArrayContent(body) };
        foreach (var (name, value) in ClerkSampleEvents.SignedHeaders(ApiFactory.WebhookSecret, ApiFactory.NewSvixId(), body, DateTimeOffset.UtcNow))
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await client.SendAsync(request, cancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var connectionString = await fixture.App.GetConnectionStringAsync("xgrowth", cancellationToken);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT email FROM users WHERE id = $1", connection) { Parameters = { new() { Value = userId } } };
        Assert.Equal("e2e@example.com", await command.ExecuteScalarAsync(cancellationToken));
    }

    private async Task<ExecuteCommandResult> RunCommandAsync(string command, CancellationToken cancellationToken, params (string Name, string Value)[] arguments)
    {
        var standIns = fixture.App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == StandIns.ResourceName);
        var inputs = new InteractionInputCollection(
            [.. arguments.Select(a => new InteractionInput { Name = a.Name, Label = a.Name, InputType = InputType.Text, Value = a.Value })]);
        return await fixture.App.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync(standIns, command, inputs, cancellationToken);
    }

    [Fact]
    public async Task The_dashboard_commands_and_the_x_stand_in_page_take_a_user_from_sign_up_to_a_published_post()
    {
        var cancellationToken = Bounded(TimeSpan.FromSeconds(120));
        await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync("worker", cancellationToken);
        var userId = "user_e2e_" + Guid.NewGuid().ToString("N")[..10];
        var connectionString = await fixture.App.GetConnectionStringAsync("xgrowth", cancellationToken);
        await using var database = NpgsqlDataSource.Create(connectionString!);

        var signUp = await RunCommandAsync(DevelopmentCommands.SendTestUserCreated, cancellationToken, ("userId", userId), ("email", "walkthrough@example.com"));
        Assert.True(signUp.Success, signUp.Message);
        await using (var email = database.CreateCommand("SELECT email FROM users WHERE id = $1"))
        {
            email.Parameters.Add(new NpgsqlParameter { Value = userId });
            Assert.Equal("walkthrough@example.com", await email.ExecuteScalarAsync(cancellationToken));
        }

        var token = await RunCommandAsync(DevelopmentCommands.IssueSessionToken, cancellationToken, ("userId", userId));
        Assert.True(token.Success, token.Message);
        using var client = fixture.App.CreateHttpClient("api");
        client.DefaultRequestHeaders.Authorization = new("Bearer", token.Data!.Value);
        using var me = await client.GetAsync("/api/me", cancellationToken);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);

        // Connecting goes through the X stand-in's consent page, as a browser would: the page, its form, the redirects.
        var connect = await RunCommandAsync(DevelopmentCommands.ConnectXAccount, cancellationToken, ("userId", userId));
        Assert.True(connect.Success, connect.Message);
        var authorizeUrl = new Uri(connect.Data!.Value);
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = true });
        var page = await browser.GetStringAsync(authorizeUrl, cancellationToken);
        Assert.Contains("Authorize app", page, StringComparison.Ordinal);
        var form = System.Web.HttpUtility.ParseQueryString(authorizeUrl.Query);
        var fields = form.AllKeys.Select(key => new KeyValuePair<string, string>(key!, form[key]!))
            .Append(new("username", "e2e_author")).Append(new("decision", "approve"));
        using var approved = await browser.PostAsync(authorizeUrl.GetLeftPart(UriPartial.Path), new FormUrlEncodedContent(fields), cancellationToken);
        // X sent the browser to the frontend's callback page (the stand-ins play it), which finishes as the signed-in user.
        var callbackPage = approved.RequestMessage!.RequestUri!;
        Assert.Equal("/app/x-callback", callbackPage.AbsolutePath);
        Assert.Contains("Finish connecting", await approved.Content.ReadAsStringAsync(cancellationToken), StringComparison.Ordinal);
        var callbackQuery = System.Web.HttpUtility.ParseQueryString(callbackPage.Query);
        using var finished = await browser.PostAsync(callbackPage.GetLeftPart(UriPartial.Path), new FormUrlEncodedContent(
            [new("code", callbackQuery["code"]!), new("state", callbackQuery["state"]!), new("userId", userId)]), cancellationToken);
        var landing = await finished.Content.ReadAsStringAsync(cancellationToken);
        Assert.Contains("X account connected", landing, StringComparison.Ordinal);

        var scheduled = await RunCommandAsync(DevelopmentCommands.ScheduleTestPost, cancellationToken, ("userId", userId), ("secondsAhead", "2"));
        Assert.True(scheduled.Success, scheduled.Message);
        var postId = Guid.Parse((string)System.Text.Json.Nodes.JsonNode.Parse(scheduled.Data!.Value)!["id"]!);

        // The real worker, started by the AppHost, publishes it to the X stand-in with its production client.
        System.Text.Json.Nodes.JsonNode? post = null;
        while ((string?)post?["status"] is null or "scheduled" or "publishing")
        {
            await Task.Delay(250, cancellationToken);
            post = System.Text.Json.Nodes.JsonNode.Parse(await client.GetStringAsync($"/api/posts/{postId}", cancellationToken));
        }

        Assert.Equal("published", (string?)post!["status"]);
        var postPage = await browser.GetStringAsync((string)post["xPostUrl"]!, cancellationToken);
        Assert.Contains("@e2e_author", postPage, StringComparison.Ordinal);
        Assert.Contains(System.Net.WebUtility.HtmlEncode((string)post["text"]!), postPage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_dashboard_links_lead_to_the_api_reference_and_the_worker_health()
    {
        var cancellationToken = Bounded(TimeSpan.FromSeconds(90));
        var api = await fixture.App.ResourceNotifications.WaitForResourceAsync("api",
            e => e.Snapshot.Urls.Any(u => u.Url.EndsWith("/scalar/v1", StringComparison.Ordinal)), cancellationToken);
        var worker = await fixture.App.ResourceNotifications.WaitForResourceAsync("worker",
            e => e.Snapshot.Urls.Any(u => u.Url.EndsWith("/health", StringComparison.Ordinal)), cancellationToken);

        using var http = new HttpClient();
        foreach (var url in new[] { api, worker }.Select(e => e.Snapshot.Urls.First(u => u.Url.EndsWith("/scalar/v1", StringComparison.Ordinal) || u.Url.EndsWith("/health", StringComparison.Ordinal))))
        {
            using var response = await http.GetAsync(url.Url, cancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Worker_becomes_healthy()
    {
        await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync("worker", Bounded(TimeSpan.FromSeconds(90)));
        using var client = fixture.App.CreateHttpClient("worker");
        using var response = await client.GetAsync("/health", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Api_answers_health_and_alive()
    {
        using var client = fixture.App.CreateHttpClient("api");
        foreach (var path in new[] { "/health", "/alive" })
        {
            using var response = await client.GetAsync(path, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("Healthy", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        }
    }
}
