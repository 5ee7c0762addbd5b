using System.Diagnostics.Metrics;

namespace XGrowth.Worker.Analytics;

/// <summary>
/// The collector's figures on the Aspire dashboard (meter <c>XGrowth.Worker.Analytics</c>, which the service defaults'
/// <c>XGrowth.*</c> meters include): reads used, the day's budget left, accounts waiting on a rate limit.
/// </summary>
public static class AnalyticsMetrics
{
    public const string MeterName = "XGrowth.Worker.Analytics";

    private static readonly Meter Meter = new(MeterName);

    private static long _budgetLeft = -1;
    private static long _pausedAccounts;

    /// <summary>Reads reserved and sent to X, by what they read (<c>snapshot</c> or <c>post</c>).</summary>
    public static readonly Counter<long> Reads = Meter.CreateCounter<long>("xgrowth.analytics.reads", "{read}",
        "Reads of X reserved in the daily budget and sent, by kind (snapshot, post).");

    /// <summary>Requests to X by endpoint and outcome.</summary>
    public static readonly Counter<long> Requests = Meter.CreateCounter<long>("xgrowth.analytics.requests", "{request}",
        "Metrics requests sent to X, by endpoint (users, tweets) and outcome.");

    static AnalyticsMetrics()
    {
        Meter.CreateObservableGauge("xgrowth.analytics.budget_left", () => Volatile.Read(ref _budgetLeft) is >= 0 and var left
            ? [new Measurement<long>(left)] : Array.Empty<Measurement<long>>(), "{read}",
            "Reads of X left in today's (UTC) budget, shared by every worker replica.");
        Meter.CreateObservableGauge("xgrowth.analytics.accounts_rate_limited", () => Volatile.Read(ref _pausedAccounts), "{account}",
            "Accounts whose collection waits for X's rate-limit reset (or a back-off after X failed).");
    }

    public static void SetBudgetLeft(long left) => Volatile.Write(ref _budgetLeft, left);

    public static void SetPausedAccounts(long count) => Volatile.Write(ref _pausedAccounts, count);
}
