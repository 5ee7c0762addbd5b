using XGrowth.Data;
using XGrowth.X;
using XGrowth.Worker;
using XGrowth.Worker.Analytics;
using XGrowth.Worker.Publishing;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddXGrowthDatabase();
// The worker acts for X accounts with the same token service (and key ring) as the API.
builder.AddXAccountTokens();
builder.Services.AddSingleton(TimeProvider.System);
builder.AddPublishing();
builder.AddAnalytics();
builder.Services.AddSingleton<Housekeeping>();
builder.Services.AddHostedService(services => services.GetRequiredService<Housekeeping>());

var app = builder.Build();

// The worker serves only its health endpoints, so that the AppHost and orchestrators can watch it.
app.MapDefaultEndpoints();

await app.RunAsync();
