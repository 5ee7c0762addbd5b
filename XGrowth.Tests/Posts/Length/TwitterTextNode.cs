using System.Diagnostics;
using System.Text;
using System.Text.Json;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Posts.Length;

/// <summary>
/// The reference: the npm package twitter-text 3.1.0 run by Node, as <c>.ci/run</c> installs it
/// (<c>npm install --prefix .ci/node twitter-text@3.1.0</c>).
/// </summary>
internal static class TwitterTextNode
{
    public const string Version = "3.1.0";

    public sealed record Verdict(int? WeightedLength, bool? Valid, string? Error);

    /// <summary>The node_modules folder holding twitter-text, or why the reference cannot run.</summary>
    public static (string? NodeModules, string? Missing) Find()
    {
        var root = Repository.TryRoot();
        if (root is null)
        {
            return (null, "the repository root (XGrowth.sln) was not found above " + AppContext.BaseDirectory);
        }

        var nodeModules = Path.Combine(root, ".ci", "node", "node_modules");
        if (!File.Exists(Path.Combine(nodeModules, "twitter-text", "package.json")))
        {
            return (null, $"twitter-text is not installed in {nodeModules}: run `npm install --prefix .ci/node twitter-text@{Version}`");
        }

        try
        {
            using var node = Process.Start(new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            node.WaitForExit(10_000);
            return node.ExitCode == 0 ? (nodeModules, null) : (null, "`node --version` failed");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (null, "node is not on the PATH");
        }
    }

    public static async Task<IReadOnlyList<Verdict>> ParseAsync(string nodeModules, IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        using var document = await RunAsync(nodeModules, "parse", texts, cancellationToken);
        return document.RootElement.GetProperty("results").EnumerateArray().Select(r => new Verdict(
            r.TryGetProperty("weightedLength", out var length) ? length.GetInt32() : null,
            r.TryGetProperty("valid", out var valid) ? valid.GetBoolean() : null,
            r.TryGetProperty("error", out var e) ? e.GetString() : null)).ToList();
    }

    /// <summary>Node's <c>text.normalize()</c> of each text (what twitter-text counts).</summary>
    public static async Task<IReadOnlyList<string>> NormalizeAsync(string nodeModules, IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        using var document = await RunAsync(nodeModules, "normalize", texts, cancellationToken);
        return document.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetString()!).ToList();
    }

    private static async Task<JsonDocument> RunAsync(string nodeModules, string command, IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "Posts", "Length", "parse-tweet.js");
        var startInfo = new ProcessStartInfo("node", [script, command])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        startInfo.Environment["NODE_PATH"] = nodeModules;
        using var node = Process.Start(startInfo)!;
        var input = ToJson(texts);
        var output = node.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = node.StandardError.ReadToEndAsync(cancellationToken);
        await node.StandardInput.WriteAsync(input.AsMemory(), cancellationToken);
        node.StandardInput.Close();
        await node.WaitForExitAsync(cancellationToken);
        if (node.ExitCode != 0)
        {
            throw new InvalidOperationException($"node exited with {node.ExitCode}: {await error}");
        }

        var document = JsonDocument.Parse(await output);
        var version = document.RootElement.GetProperty("version").GetString();
        if (version != Version)
        {
            document.Dispose();
            throw new InvalidOperationException($"twitter-text {version} is installed; the reference is {Version}");
        }

        return document;
    }

    /// <summary>A JSON array with every non-ASCII code unit escaped, so that lone surrogates reach Node as they are.</summary>
    private static string ToJson(IReadOnlyList<string> texts)
    {
        var json = new StringBuilder("[");
        foreach (var text in texts)
        {
            json.Append(json.Length > 1 ? ",\"" : "\"");
            foreach (var c in text)
            {
                if (c is >= ' ' and < '\u007F' and not '"' and not '\\')
                {
                    json.Append(c);
                }
                else
                {
                    json.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                }
            }

            json.Append('"');
        }

        return json.Append(']').ToString();
    }
}
