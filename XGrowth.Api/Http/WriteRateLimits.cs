using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using XGrowth.Api.Auth;

namespace XGrowth.Api.Http;

/// <summary>The <c>RateLimits</c> settings.</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>Changes (POST, PATCH, DELETE) one user may make per minute on one API process; a burst of as many is allowed.</summary>
    [Range(1, 1_000_000)]
    public int WritesPerMinute { get; set; } = 120;
}

/// <summary>
/// Per-user limits on the calls that change something: one user (or a script with their token) cannot flood the
/// database or the worker. Answered with 429, a <c>Retry-After</c> and a ProblemDetails. The limit is per API process.
/// </summary>
public static class WriteRateLimits
{
    public const string Policy = "writes-per-user";

    public static WebApplicationBuilder AddWriteRateLimits(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(Policy, context =>
            {
                var perMinute = context.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value.WritesPerMinute;
                // Every limited endpoint requires authentication, so the user is known; the address is a fallback only.
                var key = context.User.FindFirstValue(ClerkAuthentication.UserIdClaim) ?? context.Connection.RemoteIpAddress?.ToString() ?? "";
                return RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = perMinute,
                    TokensPerPeriod = Math.Max(1, perMinute / 6),
                    ReplenishmentPeriod = TimeSpan.FromSeconds(10),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var http = rejected.HttpContext;
                var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
                    ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)) : 10;
                http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                var perMinute = http.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value.WritesPerMinute;
                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails =
                    {
                        Status = StatusCodes.Status429TooManyRequests,
                        Title = "Too many changes",
                        Detail = $"At most {perMinute} changes a minute per user: try again in {seconds} s.",
                    },
                });
            };
        });
        return builder;
    }

    /// <summary>Limits this endpoint's calls per user (<see cref="RateLimitOptions.WritesPerMinute"/>), with a 429 in the OpenAPI document.</summary>
    public static TBuilder WithWriteRateLimit<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireRateLimiting(Policy).ProducesProblem(StatusCodes.Status429TooManyRequests);
}
