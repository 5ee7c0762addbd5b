using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Contract;

/// <summary>
/// The OpenAPI document is the frontend's contract: the committed XGrowth.Api/XGrowth.Api.json is what the API serves,
/// and a TypeScript client generated from it accepts every call the README documents (calls.ts) and refuses misuses.
/// </summary>
public class ApiContractTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private const string DocumentPath = "XGrowth.Api/XGrowth.Api.json";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_committed_document_is_the_one_the_API_serves()
    {
        var root = Repository.Root();
        var served = await ServedDocumentAsync();

        // The build writes the file (Microsoft.Extensions.ApiDescription.Server): equal unless the build-time host differs.
        var built = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(root, DocumentPath), Ct));
        Assert.True(JsonNode.DeepEquals(served, built),
            $"{DocumentPath} differs from what the API serves at {FirstDifference(served, built)}: build the API (`dotnet build XGrowth.Api`) to write it again.");

        // And what the build wrote is committed, so that a change to the contract shows in review.
        var committed = Git(root, "show", $"HEAD:{DocumentPath}");
        if (committed is null)
        {
            TestContext.Current.SendDiagnosticMessage("Not a git checkout: only the file on disk was compared.");
            return;
        }

        var committedDocument = JsonNode.Parse(committed);
        Assert.True(JsonNode.DeepEquals(served, committedDocument),
            $"The API's contract changed and {DocumentPath} is not committed (first difference at {FirstDifference(served, committedDocument)}): " +
            $"review `git diff {DocumentPath}` and commit it.");
    }

    [Fact]
    public async Task A_generated_TypeScript_client_accepts_every_documented_call_and_refuses_misuses()
    {
        var root = Repository.Root();
        var nodeModules = Path.Combine(root, ".ci", "node", "node_modules");
        var missing = new[] { "openapi-typescript", "openapi-fetch", "typescript" }
            .Where(package => !File.Exists(Path.Combine(nodeModules, package, "package.json"))).ToList();
        if (missing.Count > 0)
        {
            var why = $"{string.Join(", ", missing)} not installed in {nodeModules}: run " +
                "`npm install --prefix .ci/node openapi-typescript@7.13.0 openapi-fetch@0.17.0 typescript@5.9.3` (.ci/run does)";
            // CI must prove the contract, not skip it; a developer without Node still gets the rest of the suite.
            Assert.False(string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase), why);
            Assert.Skip(why);
        }

        // Inside .ci/node, so that Node and tsc find openapi-fetch in its node_modules.
        var work = Directory.CreateDirectory(Path.Combine(root, ".ci", "node", $"contract-{Guid.NewGuid():N}"));
        try
        {
            var document = await ServedDocumentAsync();
            await File.WriteAllTextAsync(Path.Combine(work.FullName, "openapi.json"), document.ToJsonString(), Ct);
            File.Copy(Path.Combine(root, "XGrowth.Tests", "Contract", "calls.ts"), Path.Combine(work.FullName, "calls.ts"));
            await File.WriteAllTextAsync(Path.Combine(work.FullName, "tsconfig.json"), """
                {
                  "compilerOptions": {
                    "strict": true, "noEmit": true, "target": "es2022", "lib": ["es2022", "dom"],
                    "module": "preserve", "moduleResolution": "bundler", "noUnusedLocals": true, "exactOptionalPropertyTypes": false
                  },
                  "files": ["calls.ts"]
                }
                """, Ct);

            var generate = await NodeAsync(work.FullName, Path.Combine(nodeModules, "openapi-typescript", "bin", "cli.js"), "openapi.json", "-o", "schema.d.ts");
            Assert.True(generate.ExitCode == 0, $"openapi-typescript failed:\n{generate.Output}");

            var check = await NodeAsync(work.FullName, Path.Combine(nodeModules, "typescript", "bin", "tsc"), "-p", "tsconfig.json");
            Assert.True(check.ExitCode == 0, $"tsc --strict refused the documented calls (or accepted a misuse):\n{check.Output}");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private async Task<JsonNode> ServedDocumentAsync()
    {
        using var client = api.CreateClient();
        var document = (await client.GetFromJsonAsync<JsonObject>("/openapi/v1.json", Ct))!;
        // The servers list names the host the request came to; the committed document has none.
        document.Remove("servers");
        return document;
    }

    /// <summary>The JSON path of the first difference, so that a failure says where to look.</summary>
    private static string FirstDifference(JsonNode? a, JsonNode? b, string path = "$")
    {
        if (a is JsonObject oa && b is JsonObject ob)
        {
            foreach (var key in oa.Select(p => p.Key).Union(ob.Select(p => p.Key)))
            {
                if (!JsonNode.DeepEquals(oa[key], ob[key]))
                {
                    return oa.ContainsKey(key) && ob.ContainsKey(key) ? FirstDifference(oa[key], ob[key], $"{path}.{key}") : $"{path}.{key}";
                }
            }
        }
        else if (a is JsonArray aa && b is JsonArray ab && aa.Count == ab.Count)
        {
            for (var i = 0; i < aa.Count; i++)
            {
                if (!JsonNode.DeepEquals(aa[i], ab[i]))
                {
                    return FirstDifference(aa[i], ab[i], $"{path}[{i}]");
                }
            }
        }

        return path;
    }

    private static async Task<(int ExitCode, string Output)> NodeAsync(string directory, string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("node", [script, .. arguments])
        {
            WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(Ct);
        var error = process.StandardError.ReadToEndAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    private static string? Git(string root, params string[] arguments)
    {
        try
        {
            var start = new ProcessStartInfo("git", ["-C", root, .. arguments]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // git is not installed
        }
    }
}
