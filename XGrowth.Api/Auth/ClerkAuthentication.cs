using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace XGrowth.Api.Auth;

/// <summary>
/// Verifies Clerk session tokens with the standard JWT bearer handler plus Clerk's own rules (REFERENCE.md), and makes
/// sure the token's user exists in <c>users</c> and is not deleted.
/// </summary>
public static partial class ClerkAuthentication
{
    public const string SessionCookie = "__session";
    public const string JwksHttpClient = "clerk-jwks";
    public const string UserIdClaim = "sub";

    /// <summary>Clerk's category of machine (API) tokens, which are not session tokens.</summary>
    private const string MachineTokenCategory = "cl_B7d4PD333AAA";

    private static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(5);

    public static WebApplicationBuilder AddClerkAuthentication(this WebApplicationBuilder builder)
    {
        var environment = builder.Environment;
        builder.Services.AddOptions<ClerkAuthOptions>().BindConfiguration(ClerkAuthOptions.Section)
            .ValidateDataAnnotations()
            .Validate(options => options.HasIssuer || !environment.IsProduction(),
                "Clerk:Issuer is required in Production: set it to the Clerk instance's Frontend API URL.")
            .ValidateOnStart();
        // Short timeouts and one retry instead of the service defaults' 30 s: a request waits on this only when Clerk
        // rotated its keys or is unreachable. (RemoveAllResilienceHandlers is marked experimental; it is the way the
        // resilience package offers to replace the defaults for one client.)
#pragma warning disable EXTEXP0001
        builder.Services.AddHttpClient(JwksHttpClient).RemoveAllResilienceHandlers().AddStandardResilienceHandler(resilience =>
#pragma warning restore EXTEXP0001
        {
            resilience.AttemptTimeout.Timeout = TimeSpan.FromSeconds(2);
            resilience.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(5);
            resilience.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(10);
            resilience.Retry.MaxRetryAttempts = 1;
        });
        builder.Services.AddSingleton<ClerkUserProvisioning>();
        builder.Services.AddSingleton<ClerkSigningKeys>();
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<ClerkAuthOptions>, ClerkSigningKeys, IHostEnvironment>((jwt, clerk, keys, host) => Configure(jwt, clerk.Value, keys, host));
        // Authentication is the default: an endpoint is anonymous only where it says so (AllowAnonymous), so a new
        // endpoint that forgets to decide is protected, not open.
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        builder.Services.AddHostedService<SignInModeLog>();
        return builder;
    }

    /// <summary>The Clerk user id of the signed-in user (the token's <c>sub</c>).</summary>
    public static string ClerkUserId(this ClaimsPrincipal principal) =>
        principal.FindFirstValue(UserIdClaim) ?? throw new InvalidOperationException("The request is not authenticated.");

    private static void Configure(JwtBearerOptions jwt, ClerkAuthOptions clerk, ClerkSigningKeys jwks, IHostEnvironment host)
    {
        var issuer = clerk.Issuer?.TrimEnd('/');
        var useJwks = clerk.HasIssuer && string.IsNullOrWhiteSpace(clerk.JwtKey);
        jwt.MapInboundClaims = false;
        // A 401 says only "Bearer": why a token failed is logged, not told to whoever sent it.
        jwt.IncludeErrorDetails = false;
        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = issuer,
            ValidateIssuer = true,
            ValidateAudience = false, // Clerk session tokens have no aud; azp is checked below.
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
            ClockSkew = ClockSkew,
            NameClaimType = UserIdClaim,
        };

        if (!string.IsNullOrWhiteSpace(clerk.JwtKey))
        {
            var rsa = RSA.Create(); // Lives as long as the options: not disposed.
            rsa.ImportFromPem(clerk.JwtKey.Replace("\\n", "\n", StringComparison.Ordinal));
            jwt.TokenValidationParameters.IssuerSigningKey = new RsaSecurityKey(rsa);
        }
        else if (clerk.HasIssuer)
        {
            jwt.TokenValidationParameters.IssuerSigningKeyResolver = (_, _, _, _) => jwks.Current;
        }

        jwt.Events = new JwtBearerEvents
        {
            OnMessageReceived = async context =>
            {
                if (issuer is null)
                {
                    // No Clerk instance configured (a fresh clone): nobody can sign in, every protected call is a 401.
                    context.NoResult();
                    return;
                }

                if (!context.Request.Headers.ContainsKey("Authorization")
                    && context.Request.Cookies.TryGetValue(SessionCookie, out var cookieToken) && !string.IsNullOrEmpty(cookieToken))
                {
                    // A browser sends the cookie with any site's form or fetch: a change made with it alone must come
                    // from the frontend's own pages (cross-site request forgery). A bearer header cannot be forged so.
                    if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method)
                        && !HttpMethods.IsOptions(context.Request.Method) && !FromAllowedOrigin(context.Request, clerk))
                    {
                        Log.TokenRejected(Logger(context.HttpContext), "session cookie on a write from another site");
                        context.NoResult();
                        return;
                    }

                    context.Token = cookieToken;
                }

                // Only a request that carries a token needs the keys: anonymous endpoints (webhooks, health) never wait on Clerk.
                if (useJwks && KeyIdOf(context) is { } kid)
                {
                    await jwks.EnsureAsync(kid, context.HttpContext.RequestAborted);
                }
            },
            OnTokenValidated = context => CheckClerkRulesAsync(context, clerk),
            OnChallenge = context => host.IsDevelopment() ? ExplainChallengeAsync(context, clerk) : Task.CompletedTask,
            OnAuthenticationFailed = context =>
            {
                Log.TokenRejected(Logger(context.HttpContext), context.Exception.GetType().Name);
                return Task.CompletedTask;
            },
        };
    }

    /// <summary>
    /// Whether the browser says the request comes from an allowed frontend origin (<c>Origin</c> among
    /// <c>Clerk:AuthorizedParties</c>), or, without an <c>Origin</c>, from this same origin (<c>Sec-Fetch-Site</c>).
    /// A request that says neither is not trusted with the cookie.
    /// </summary>
    private static bool FromAllowedOrigin(HttpRequest request, ClerkAuthOptions clerk)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0)
        {
            return clerk.AuthorizedPartyList().Contains(origin.TrimEnd('/'), StringComparer.OrdinalIgnoreCase);
        }

        return request.Headers["Sec-Fetch-Site"].ToString() == "same-origin";
    }

    /// <summary>
    /// Development only: a 401 that says how to get a token, instead of the bare <c>WWW-Authenticate: Bearer</c> that
    /// production answers (which tells a caller nothing about why).
    /// </summary>
    private static async Task ExplainChallengeAsync(JwtBearerChallengeContext context, ClerkAuthOptions clerk)
    {
        context.HandleResponse();
        var http = context.HttpContext;
        http.Response.StatusCode = StatusCodes.Status401Unauthorized;
        http.Response.Headers.WWWAuthenticate = "Bearer";
        var issuer = clerk.Issuer?.TrimEnd('/');
        var local = issuer is not null && Uri.TryCreate(issuer, UriKind.Absolute, out var uri) && uri.IsLoopback;
        var how = issuer is null
            ? "Clerk:Issuer is not set, so no token is accepted: run the application with 'dotnet run --project XGrowth.AppHost' (it starts a local Clerk), or set Clerk:Issuer."
            : local
                ? $"Send 'Authorization: Bearer <token>' with a token from the local Clerk: curl -X POST {issuer}/tokens -H 'content-type: application/json' -d '{{\"userId\":\"user_local_dev\"}}', or the dashboard's 'Issue session token' command on stand-ins."
                : "Send 'Authorization: Bearer <token>' with a session token of your Clerk instance (await getToken() in the frontend).";
        var reason = context.AuthenticateFailure is null
            ? (http.Request.Headers.ContainsKey("Authorization") || http.Request.Cookies.ContainsKey(SessionCookie) ? "The session token was not accepted (see the API's log for why)." : "No session token was sent.")
            : "The session token was not accepted (see the API's log for why).";
        Log.ChallengeExplained(Logger(http), http.Request.Path);
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = StatusCodes.Status401Unauthorized, Title = "Sign-in required", Detail = $"{reason} {how}" },
        });
    }

    /// <summary>The <c>kid</c> the request's token names, read without validating anything; null if there is no token or no kid.</summary>
    private static string? KeyIdOf(MessageReceivedContext context)
    {
        var token = context.Token;
        var header = context.Request.Headers.Authorization.ToString();
        if (token is null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = header["Bearer ".Length..].Trim();
        }

        var handler = new JsonWebTokenHandler();
        if (string.IsNullOrEmpty(token) || !handler.CanReadToken(token))
        {
            return null;
        }

        try
        {
            return handler.ReadJsonWebToken(token).Kid;
        }
        catch (ArgumentException)
        {
            return null; // Malformed: the handler rejects it.
        }
    }

    private static async Task CheckClerkRulesAsync(TokenValidatedContext context, ClerkAuthOptions clerk)
    {
        var token = context.SecurityToken as JsonWebToken;
        var principal = context.Principal!;
        string? Claim(string type) => principal.FindFirstValue(type);

        var problem = (Claim(UserIdClaim), Claim("sid"), Claim("azp"), token?.TryGetHeaderValue<string>("cat", out var category) == true ? category : Claim("cat")) switch
        {
            (null or "", _, _, _) => "no sub",
            ({ Length: > 255 }, _, _, _) => "sub too long",
            ({ } sub, _, _, _) when sub.Contains('\0', StringComparison.Ordinal) => "sub malformed",
            (_, null or "", _, _) => "no sid: not a session token",
            (_, _, { } azp, _) when !clerk.AuthorizedPartyList().Contains(azp.TrimEnd('/'), StringComparer.Ordinal) => "azp not authorized",
            (_, _, _, MachineTokenCategory) => "machine token",
            _ => null,
        };
        if (problem is null && token is not null && token.IssuedAt > DateTime.UtcNow + ClockSkew)
        {
            problem = "issued in the future";
        }

        if (problem is not null)
        {
            Log.TokenRejected(Logger(context.HttpContext), problem);
            context.Fail(problem);
            return;
        }

        var provisioning = context.HttpContext.RequestServices.GetRequiredService<ClerkUserProvisioning>();
        if (!await provisioning.EnsureActiveUserAsync(Claim(UserIdClaim)!, context.HttpContext.RequestAborted))
        {
            Log.TokenRejected(Logger(context.HttpContext), "user deleted");
            context.Fail("user deleted");
        }
    }

    private static ILogger Logger(HttpContext context) =>
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ClerkAuthentication));

    /// <summary>Says at start, once, when nobody can sign in because Clerk is not configured.</summary>
    private sealed class SignInModeLog(IOptions<ClerkAuthOptions> options, ILogger<SignInModeLog> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (!options.Value.HasIssuer)
            {
                Log.IssuerMissing(logger);
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message =
            "Clerk:Issuer is not set: every authenticated endpoint answers 401 until it is (see README, 'Signing in with Clerk').")]
        public static partial void IssuerMissing(ILogger logger);

        [LoggerMessage(Level = LogLevel.Information, Message = "401 for {Path}: no accepted session token (Development: the answer says how to get one)")]
        public static partial void ChallengeExplained(ILogger logger, string path);

        [LoggerMessage(Level = LogLevel.Information, Message = "Session token rejected: {Reason}")]
        public static partial void TokenRejected(ILogger logger, string reason);
    }
}
