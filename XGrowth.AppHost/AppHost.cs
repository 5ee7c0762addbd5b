using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using XGrowth.AppHost;
using XGrowth.AppHost.Database;

var builder = DistributedApplication.CreateBuilder(args);

var (database, databaseServer) = builder.AddXGrowthDatabase();

// Replicas: the API's take requests behind one address and migrate the schema under a lock; the worker's share the
// due posts safely (SKIP LOCKED claims).
var api = builder.AddProject<Projects.XGrowth_Api>("api")
    .WithReplicas(builder, "Api:Replicas")
    .WithReference(database).WaitFor(databaseServer)
    .WithSettings(builder, ServiceSettings.Api)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");

// The worker needs the schema, which the API's migrations create: waiting for the API gives it that.
var worker = builder.AddProject<Projects.XGrowth_Worker>("worker")
    .WithReplicas(builder, "Worker:Replicas")
    .WithReference(database).WaitFor(databaseServer)
    .WaitFor(api)
    .WithSettings(builder, ServiceSettings.Worker)
    .WithHttpHealthCheck("/health");

if (builder.ExecutionContext.IsRunMode)
{
    // The dashboard's links lead somewhere: the API reference (Development), the worker's health.
    if (builder.Environment.IsDevelopment())
    {
        api.WithUrlForEndpoint("http", url => { url.Url = "/scalar/v1"; url.DisplayText = "API reference"; });
    }

    worker.WithUrlForEndpoint("http", url => { url.Url = "/health"; url.DisplayText = "Health"; });
}

if (StandIns.AreNeeded(builder))
{
    // Development without Clerk or X configured: local stand-ins, and the walkthrough's steps as dashboard commands
    // (README, "Five minutes, no Clerk, no X").
    builder.AddStandIns(api, worker).WithDevelopmentCommands(api);
}

builder.Build().Run();
