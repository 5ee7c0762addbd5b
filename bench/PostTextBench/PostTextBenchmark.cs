using System.Diagnostics;
using System.Globalization;
using XGrowth.Api.Posts;
using XGrowth.Tests.Posts.Length;

namespace XGrowth.Bench;

/// <summary>
/// Time to count a post as X does (<see cref="PostText.Parse"/>, which the API runs on every create and edit) for
/// texts of the body limit's size built to make a backtracking URL pattern rescan the text (twitter-text's own
/// JavaScript takes seconds on some), and for ordinary posts. One thread, in process: the figure is the CPU a
/// request spends on it.
/// Run: <c>dotnet run -c Release --project bench/PostTextBench [-- iterations]</c>.
/// </summary>
internal static class PostTextBenchmark
{
    private const int Size = 64 * 1024;

    private static void Main(string[] args)
    {
        var iterations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
        Console.WriteLine($"PostText.Parse, {iterations} runs per input after a warm-up, {Environment.ProcessorCount} cores (shared)");
        Console.WriteLine($"{"input",-44} {"chars",7} {"length",7}   {"min",9} {"p50",9} {"p99",9} {"max",9}");

        var worst = 0.0;
        foreach (var (name, text) in AdversarialTexts.All(Size))
        {
            worst = Math.Max(worst, Measure(name, text, iterations).P50);
        }

        foreach (var (text, i) in AdversarialTexts.Normal().Select((t, i) => (t, i)))
        {
            Measure($"normal post {i + 1}", text, iterations * 50);
        }

        Console.WriteLine($"worst p50 of the 64 KiB inputs: {worst:F3} ms; load average while measuring: {LoadAverage()}");
    }

    // The machine is shared: a p99 far above the p50 is other processes taking the core, which this says.
    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static (double P50, double P99) Measure(string name, string text, int iterations)
    {
        for (var i = 0; i < Math.Max(20, iterations / 10); i++)
        {
            PostText.Parse(text);
        }

        var latencies = new double[iterations];
        var length = 0;
        for (var i = 0; i < iterations; i++)
        {
            var started = Stopwatch.GetTimestamp();
            length = PostText.Parse(text).WeightedLength;
            latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        Array.Sort(latencies);
        double Percentile(double p) => latencies[Math.Min(latencies.Length - 1, (int)(p * latencies.Length))];
        Console.WriteLine($"{name,-44} {text.Length,7} {length,7}   {latencies[0],6:F3} ms {Percentile(0.50),6:F3} ms {Percentile(0.99),6:F3} ms {latencies[^1],6:F3} ms");
        return (Percentile(0.50), Percentile(0.99));
    }
}
