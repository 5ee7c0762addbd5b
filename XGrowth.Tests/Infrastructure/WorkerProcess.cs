using System.Diagnostics;

namespace XGrowth.Tests.Infrastructure;

/// <summary>A real worker process (as deployed: Production, its own key ring certificate) on the API factory's database and X stand-in.</summary>
internal static class WorkerProcess
{
    /// <param name="applicationName">Names its database sessions (<c>pg_stat_activity.application_name</c>), for tests that watch them.</param>
    public static Process Start(ApiFactory api, string? applicationName = null)
    {
        var startInfo = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "XGrowth.Worker.dll")])
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        startInfo.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        startInfo.Environment["DataProtection__Certificate"] = KeyRingCertificate.Shared;
        startInfo.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        startInfo.Environment["ConnectionStrings__xgrowth"] = applicationName is null
            ? api.ConnectionString
            : api.ConnectionString.TrimEnd(';') + ";Application Name=" + applicationName;
        startInfo.Environment["X__ApiBaseUrl"] = api.X.BaseUrl;
        startInfo.Environment["X__ClientId"] = ApiFactory.XClientId;
        startInfo.Environment["X__ClientSecret"] = ApiFactory.XClientSecret;
        startInfo.Environment["PostPublishing__PollInterval"] = "00:00:00.200";
        startInfo.Environment["PostPublishing__Lease"] = "00:00:05";
        startInfo.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(startInfo)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
