using Microsoft.AspNetCore.Hosting.Server;

namespace XGrowth.DevStandIns;

/// <summary>
/// Local stand-ins for Clerk and X, which the AppHost starts in Development for whichever of the two is not
/// configured. The API and the worker reach them exactly as they reach the real ones: through their settings.
/// </summary>
public static class StandInsProgram
{
    public static async Task Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (!builder.Environment.IsDevelopment())
        {
            // They hand out tokens for any user: never anywhere but on a developer's machine.
            Console.Error.WriteLine($"The stand-ins run in Development only; the environment is {builder.Environment.EnvironmentName}.");
            Environment.Exit(1);
        }

        builder.AddServiceDefaults();
        builder.AddDevStandIns();
        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapDevStandIns();
        await app.StartAsync();
        if (!StandInsApp.ListensOnLoopbackOnly(app.Services.GetRequiredService<IServer>()))
        {
            app.Logger.LogCritical("The stand-ins must listen on loopback addresses only (ASPNETCORE_URLS): stopping.");
            await app.StopAsync();
            Environment.Exit(1);
        }

        await app.WaitForShutdownAsync();
    }
}
