using XGrowth.Data;
using XGrowth.Worker;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddXGrowthDatabase();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddHostedService<DuePostMonitor>();

var app = builder.Build();

// The worker serves only its health endpoints, so that the AppHost and orchestrators can watch it.
app.MapDefaultEndpoints();

await app.RunAsync();
