extern alias worker;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using worker::XGrowth.Worker.Analytics;
using worker::XGrowth.Worker.Publishing;

namespace XGrowth.Tests.EndToEnd;

/// <summary>
/// The deployment manifest, published as CI can (the AppHost run with <c>--publisher manifest</c>: no container
/// engine, no database, nothing started), read as a deployment tool (azd, aspirate) reads it.
/// </summary>
public class PublishedManifestTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A value set on the AppHost while publishing; the manifest must never hold it.</summary>
    private static readonly string WebhookSecretOnThisMachine = "whsec_" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));

    private static async Task<(int ExitCode, string Output, JsonObject? Resources, string Text)> PublishAsync(params (string Key, string Value)[] environment)
    {
        var directory = Directory.CreateTempSubdirectory("xgrowth-manifest-");
        try
        {
            var manifestPath = Path.Combine(directory.FullName, "aspire-manifest.json");
            var startInfo = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "XGrowth.AppHost.dll"), "--publisher", "manifest", "--output-path", manifestPath])
            {
                WorkingDirectory = AppContext.BaseDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            // Published from a developer's machine (dotnet run uses the Development profile), with their local settings.
            startInfo.Environment["DOTNET_ENVIRONMENT"] = "Development";
            startInfo.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
            startInfo.Environment["StandIns__DataDirectory"] = Path.Combine(directory.FullName, "stand-ins");
            foreach (var (key, value) in environment)
            {
                startInfo.Environment[key] = value;
            }

            using var process = Process.Start(startInfo)!;
            var output = process.StandardOutput.ReadToEndAsync(Ct);
            var errors = process.StandardError.ReadToEndAsync(Ct);
            await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(120), Ct);
            var printed = await output + await errors;
            if (!File.Exists(manifestPath))
            {
                return (process.ExitCode, printed, null, "");
            }

            var text = await File.ReadAllTextAsync(manifestPath, Ct);
            return (process.ExitCode, printed, JsonNode.Parse(text)!["resources"]!.AsObject(), text);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static Dictionary<string, string> EnvironmentOf(JsonObject resources, string name) =>
        resources[name]!["env"]!.AsObject().ToDictionary(entry => entry.Key, entry => (string)entry.Value!);

    /// <summary>Asserts that the service gets <paramref name="key"/> from a parameter of the manifest, and returns that parameter's input.</summary>
    private static JsonObject DeclaredParameter(JsonObject resources, Dictionary<string, string> environment, string key)
    {
        var variable = key.Replace(":", "__", StringComparison.Ordinal);
        Assert.True(environment.TryGetValue(variable, out var reference), $"{variable} is not passed to the service");
        var match = System.Text.RegularExpressions.Regex.Match(reference!, @"^\{([a-z0-9-]+)\.value\}$");
        Assert.True(match.Success, $"{variable} is '{reference}', not a parameter");
        var parameter = resources[match.Groups[1].Value]!.AsObject();
        Assert.Equal("parameter.v0", (string?)parameter["type"]);
        return parameter["inputs"]!["value"]!.AsObject();
    }

    private static bool IsSecret(JsonObject input) => input["secret"] is { } secret && (bool)secret;

    private static string? DefaultOf(JsonObject input) => (string?)input["default"]?["value"];

    [Fact]
    public async Task The_manifest_describes_a_deployment_every_setting_a_parameter_secrets_secret_nothing_of_this_machine()
    {
        var (exitCode, output, resources, text) = await PublishAsync(
            ("Database__Mode", ""), ("Clerk__WebhookSecret", WebhookSecretOnThisMachine), ("Api__Replicas", "3"), ("Worker__Replicas", "2"));

        Assert.True(exitCode == 0 && resources is not null, output);
        // PostgreSQL is a deployable container with its data on a volume, never this machine's binaries.
        Assert.DoesNotContain(resources, resource => (string?)resource.Value!["type"] == "executable.v0");
        Assert.Equal("container.v0", (string?)resources["postgres"]!["type"]);
        Assert.Contains(resources["postgres"]!["volumes"]!.AsArray(), volume => (string?)volume!["target"] == "/var/lib/postgresql");
        Assert.DoesNotContain("/usr/", text, StringComparison.Ordinal);
        Assert.DoesNotContain("runuser", text, StringComparison.Ordinal);

        var api = EnvironmentOf(resources, "api");
        foreach (var (key, secret) in new[]
        {
            ("Clerk:Issuer", false), ("Clerk:AuthorizedParties", false), ("Clerk:WebhookSecret", true),
            ("X:ClientId", false), ("X:ClientSecret", true), ("X:RedirectUri", false), ("DataProtection:Certificate", true),
        })
        {
            var input = DeclaredParameter(resources, api, key);
            Assert.Equal(secret, IsSecret(input));
            Assert.Null(DefaultOf(input)); // The deployment must be told: no value from this machine.
        }

        Assert.Equal("120", DefaultOf(DeclaredParameter(resources, api, "RateLimits:WritesPerMinute")));
        Assert.Equal("", DefaultOf(DeclaredParameter(resources, api, "ForwardedHeaders:KnownNetworks")));
        Assert.Equal("00:00:25", DefaultOf(DeclaredParameter(resources, api, "HostOptions:ShutdownTimeout")));
        Assert.Equal("40", DefaultOf(DeclaredParameter(resources, api, "ConnectionPool:MaxSize")));
        Assert.Equal("{xgrowth.connectionString}", api["ConnectionStrings__xgrowth"]);
        // The frontend and Clerk reach the API from outside.
        Assert.True((bool?)resources["api"]!["bindings"]!["http"]!["external"]);

        var worker = EnvironmentOf(resources, "worker");
        Assert.True(IsSecret(DeclaredParameter(resources, worker, "X:ClientSecret")));
        Assert.True(IsSecret(DeclaredParameter(resources, worker, "DataProtection:Certificate")));
        Assert.Equal(api["X__ClientId"], worker["X__ClientId"]);
        Assert.Equal(api["ConnectionPool__MaxSize"], worker["ConnectionPool__MaxSize"]);
        var defaults = new PublishingOptions();
        foreach (var (key, value) in new (string, object)[]
        {
            ("PollInterval", defaults.PollInterval), ("Lookahead", defaults.Lookahead), ("Lease", defaults.Lease), ("BatchSize", defaults.BatchSize),
            ("MaxConcurrency", defaults.MaxConcurrency), ("MaxAttempts", defaults.MaxAttempts), ("MissedAfter", defaults.MissedAfter),
            ("ShutdownGrace", defaults.ShutdownGrace),
        })
        {
            // The worker's own defaults, so that a deployment that takes them changes nothing.
            Assert.Equal(Convert.ToString(value, CultureInfo.InvariantCulture), DefaultOf(DeclaredParameter(resources, worker, $"{PublishingOptions.Section}:{key}")));
        }

        var analytics = new AnalyticsOptions();
        Assert.Equal(Convert.ToString(analytics.SnapshotInterval, CultureInfo.InvariantCulture),
            DefaultOf(DeclaredParameter(resources, worker, $"{AnalyticsOptions.Section}:{nameof(AnalyticsOptions.SnapshotInterval)}")));
        Assert.Equal(Convert.ToString(analytics.MaxReadsPerDay, CultureInfo.InvariantCulture),
            DefaultOf(DeclaredParameter(resources, worker, $"{AnalyticsOptions.Section}:{nameof(AnalyticsOptions.MaxReadsPerDay)}")));

        // Replicas, as configured when publishing.
        Assert.Equal("3", DefaultOf(resources["api-replicas"]!["inputs"]!["value"]!.AsObject()));
        Assert.Equal("2", DefaultOf(resources["worker-replicas"]!["inputs"]!["value"]!.AsObject()));

        // Nothing of Development: no stand-ins, no local addresses, no dashboard commands, nothing of Aspire's own
        // publishing settings in a service's configuration.
        Assert.DoesNotContain(resources, resource => resource.Key.Contains("stand-ins", StringComparison.Ordinal));
        foreach (var environment in new[] { api, worker })
        {
            Assert.DoesNotContain(environment, variable => variable.Key.StartsWith("StandIns__", StringComparison.Ordinal)
                || variable.Key.StartsWith("Publishing__", StringComparison.Ordinal)
                || variable.Key is "X__ApiBaseUrl" or "X__AuthorizeUrl" or "X__WebUrl" or "ASPNETCORE_ENVIRONMENT" or "DOTNET_ENVIRONMENT");
            Assert.DoesNotContain(environment.Values, value => value.Contains("stand-ins", StringComparison.Ordinal)
                || value.Contains("localhost", StringComparison.Ordinal) || value.Contains("127.0.0.1", StringComparison.Ordinal));
        }

        Assert.DoesNotContain("commands", text, StringComparison.Ordinal);
        Assert.DoesNotContain(WebhookSecretOnThisMachine, text, StringComparison.Ordinal);
        Assert.DoesNotContain(WebhookSecretOnThisMachine, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_an_external_database_the_deployment_is_asked_for_its_connection_string_as_a_secret()
    {
        var (exitCode, output, resources, _) = await PublishAsync(("Database__Mode", "external"), ("ConnectionStrings__xgrowth", "Host=db.internal;Database=xgrowth"));

        Assert.True(exitCode == 0 && resources is not null, output);
        Assert.DoesNotContain(resources, resource => resource.Key == "postgres");
        var database = resources["xgrowth"]!.AsObject();
        Assert.Equal("parameter.v0", (string?)database["type"]);
        Assert.True(IsSecret(database["inputs"]!["value"]!.AsObject()));
        Assert.Null(DefaultOf(database["inputs"]!["value"]!.AsObject()));
        Assert.Equal("{xgrowth.connectionString}", EnvironmentOf(resources, "worker")["ConnectionStrings__xgrowth"]);
        Assert.Equal("1", DefaultOf(resources["api-replicas"]!["inputs"]!["value"]!.AsObject()));
    }

    [Fact]
    public async Task Local_mode_cannot_be_published_and_says_what_can()
    {
        var (exitCode, output, resources, _) = await PublishAsync(("Database__Mode", "local"));

        Assert.NotEqual(0, exitCode);
        Assert.Null(resources);
        Assert.Contains("Database:Mode 'local'", output, StringComparison.Ordinal);
        Assert.Contains("Database:Mode=external", output, StringComparison.Ordinal);
    }
}
