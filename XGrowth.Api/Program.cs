using XGrowth.Api.OpenApi;
using XGrowth.Api.Analytics;
using XGrowth.Api;
using XGrowth.Api.Calendar;
using XGrowth.Api.Events;
using XGrowth.Api.Media;
using XGrowth.Api.Posts;
using XGrowth.Api.Queue;
using XGrowth.Api.Users;
using XGrowth.Api.Webhooks;
using XGrowth.Api.XAccounts;

var builder = WebApplication.CreateBuilder(args);

builder.AddBuildTimeDocumentDefaults();
builder.AddServiceDefaults();
builder.AddApiServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseCors(ApiServices.FrontendCorsPolicy);
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();

app.MapDefaultEndpoints();
app.MapOpenApi().AllowAnonymous();
if (app.Environment.IsDevelopment())
{
    app.MapApiReference().AllowAnonymous();
    // The dashboard's link for the API, and anyone opening http://localhost:8002, land on the reference.
    app.MapGet("/", () => Results.Redirect("/scalar/v1")).AllowAnonymous().ExcludeFromDescription();
}

app.MapClerkWebhooksApi();
app.MapMeApi();
app.MapXAccountsApi();
app.MapXConnectApi();
app.MapPostsApi();
app.MapMediaApi();
app.MapQueueApi();
app.MapCalendarApi();
app.MapAnalyticsApi();
app.MapEventsApi();

if (!BuildTimeDocument.IsGenerating)
{
    await app.MigrateDatabaseAsync();
}

await app.RunAsync();

/// <summary>The API's entry point; public so that tests can host it with WebApplicationFactory.</summary>
public partial class Program;
