using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using XGrowth.AppHost;
using XGrowth.AppHost.Database;

var builder = DistributedApplication.CreateBuilder(args);

var (database, databaseServer) = builder.AddXGrowthDatabase();

var api = builder.AddProject<Projects.XGrowth_Api>("api")
    .WithReference(database).WaitFor(databaseServer)
    .WithOutsideSettings(builder, "Clerk", "X")
    .WithHttpHealthCheck("/health");
if (builder.Environment.IsDevelopment())
{
    // Try the flow without Clerk or X: see README, "Five minutes, no Clerk, no X".
    api.WithDevelopmentCommands();
}

// The worker needs the schema, which the API's migrations create: waiting for the API gives it that. Replicas share
// the due posts safely (SKIP LOCKED claims).
var worker = builder.AddProject<Projects.XGrowth_Worker>("worker")
    .WithReplicas(builder.Configuration.GetValue("Worker:Replicas", 1))
    .WithReference(database).WaitFor(databaseServer)
    .WaitFor(api)
    .WithOutsideSettings(builder, "X", "Publishing")
    .WithHttpHealthCheck("/health");
if (builder.Environment.IsDevelopment())
{
    // Sandbox X accounts publish to the API's local X sandbox instead of X.
    worker.WithEnvironment("X__SandboxApiBaseUrl", ReferenceExpression.Create($"{api.GetEndpoint("http")}/dev/x-sandbox"));
}

builder.Build().Run();
