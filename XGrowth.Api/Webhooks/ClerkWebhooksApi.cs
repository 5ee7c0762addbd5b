using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using XGrowth.Api.OpenApi;

namespace XGrowth.Api.Webhooks;

/// <summary><c>POST /api/webhooks/clerk</c>: Clerk's user events, Svix-signed, kept in step with <c>users</c>.</summary>
public static partial class ClerkWebhooksApi
{
    /// <summary>Clerk's user payloads are a few kilobytes; anything near this is not from Clerk.</summary>
    public const int MaxBodyBytes = 1024 * 1024;

    /// <summary>The width of <c>clerk_webhook_deliveries.svix_id</c>; Svix's ids are about 30 characters.</summary>
    private const int MaxSvixIdLength = 255;

    public static readonly ActivitySource ActivitySource = new("XGrowth.Api.Webhooks");
    private static readonly Meter Meter = new("XGrowth.Api.Webhooks");
    private static readonly Counter<long> Received = Meter.CreateCounter<long>(
        "xgrowth.webhooks.received", unit: "{webhook}", description: "Clerk webhooks received, by event type and outcome.");

    public static IServiceCollection AddClerkWebhooks(this IServiceCollection services, IHostEnvironment environment)
    {
        services.AddOptions<ClerkWebhookOptions>().BindConfiguration(ClerkWebhookOptions.Section)
            .ValidateDataAnnotations()
            .Validate(options => environment.IsDevelopment() || !options.UsesWellKnownSecret(),
                $"Clerk:WebhookSecret is a published example secret, which anyone can sign with; the environment is {environment.EnvironmentName}. "
                + "Use the signing secret of your Clerk webhook endpoint.")
            .ValidateOnStart();
        services.AddSingleton(provider =>
        {
            var secret = provider.GetRequiredService<IOptions<ClerkWebhookOptions>>().Value.WebhookSecret;
            return new SvixSignatureVerifier(SvixSignatureVerifier.ParseSecrets(secret), provider.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton<ClerkUserSync>();
        return services;
    }

    public static RouteGroupBuilder MapClerkWebhooksApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/webhooks/clerk").WithTags("Webhooks").AllowAnonymous();
        group.MapPost("/", ReceiveAsync)
            .WithName("receiveClerkWebhook").WithSummary("Receive a Clerk event")
            .WithDescription("Clerk calls this, not the frontend: user.created, user.updated and user.deleted, signed as Svix does " +
                "(`svix-id`, `svix-timestamp`, `svix-signature` with the endpoint's `whsec_` secret; five minutes of clock skew). " +
                "An unsigned call, like the example here, answers 400. Locally, the Clerk stand-in sends signed events: " +
                "`POST http://localhost:8003/clerk/webhooks` with `{\"type\": \"user.created\", \"userId\": \"user_local_dev\"}`.")
            .Accepts<object>("application/json")
            .WithSvixHeaders()
            .WithRequestExample(ExampleEvent)
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .DisableAntiforgery();
        group.MapGet("/", () => TypedResults.Ok(new WebhookEndpointInfo(
                "Clerk webhook endpoint. Send Svix-signed POST requests here.", ["user.created", "user.updated", "user.deleted"])))
            .WithName("describeClerkWebhook").WithSummary("Check the webhook endpoint")
            .WithDescription("Tells that the endpoint is there (to check a tunnel), and nothing about its configuration.");
        return group;
    }

    /// <summary>A user.created event as Clerk sends it (abridged), the body the reference shows.</summary>
    private static readonly JsonObject ExampleEvent = new()
    {
        ["type"] = "user.created",
        ["object"] = "event",
        ["timestamp"] = 1_764_230_400_000,
        ["instance_id"] = "ins_2abc",
        ["data"] = new JsonObject
        {
            ["id"] = "user_2abc",
            ["object"] = "user",
            ["username"] = "ada",
            ["first_name"] = "Ada",
            ["last_name"] = "Lovelace",
            ["image_url"] = "https://img.clerk.com/ada.png",
            ["primary_email_address_id"] = "idn_2abc",
            ["email_addresses"] = new JsonArray(new JsonObject { ["id"] = "idn_2abc", ["object"] = "email_address", ["email_address"] = "ada@example.com" }),
            ["created_at"] = 1_764_230_400_000,
            ["updated_at"] = 1_764_230_400_000,
        },
    };

    /// <summary>The three Svix headers in the document, so that the reference asks for them.</summary>
    private static RouteHandlerBuilder WithSvixHeaders(this RouteHandlerBuilder builder) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Parameters ??= [];
            foreach (var (name, description) in new[]
            {
                ("svix-id", "The message id (the same on Clerk's retries): duplicates are answered without being applied twice."),
                ("svix-timestamp", "Seconds since the epoch when the message was signed."),
                ("svix-signature", "Space-separated `v1,<base64 HMAC-SHA256>` signatures of `{svix-id}.{svix-timestamp}.{body}`."),
            })
            {
                operation.Parameters.Add(new Microsoft.OpenApi.OpenApiParameter
                {
                    Name = name, In = Microsoft.OpenApi.ParameterLocation.Header, Required = true, Description = description,
                    Schema = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String },
                });
            }

            return Task.CompletedTask;
        });

    public sealed record WebhookEndpointInfo(string Message, IReadOnlyList<string> Events);

    public sealed record WebhookReceipt(string Outcome);

    public sealed record WebhookServices(SvixSignatureVerifier Verifier, ClerkUserSync UserSync, TimeProvider Time, ILoggerFactory LoggerFactory);

    internal static async Task<Results<Ok<WebhookReceipt>, ProblemHttpResult>> ReceiveAsync(
        HttpContext context, [AsParameters] WebhookServices services, CancellationToken cancellationToken)
    {
        var logger = services.LoggerFactory.CreateLogger(typeof(ClerkWebhooksApi));
        var request = context.Request;
        var svixId = Header(request, "svix-id", "webhook-id");
        using var activity = ActivitySource.StartActivity("clerk webhook");
        activity?.SetTag("svix.id", svixId);

        var (result, eventType, userId, outcome) = await HandleAsync(request, svixId, services, logger, activity, cancellationToken);
        activity?.SetTag("clerk.event_type", eventType);
        activity?.SetTag("xgrowth.webhook.outcome", outcome);
        if (result.Result is ProblemHttpResult)
        {
            activity?.SetStatus(ActivityStatusCode.Error, outcome);
        }

        Received.Add(1, new("event_type", eventType ?? "unknown"), new("outcome", outcome));
        Log.WebhookHandled(logger, eventType ?? "unknown", svixId, userId, outcome);
        return result;
    }

    private static async Task<(Results<Ok<WebhookReceipt>, ProblemHttpResult>, string? EventType, string? UserId, string Outcome)> HandleAsync(
        HttpRequest request, string? svixId, WebhookServices services, ILogger logger, Activity? activity, CancellationToken cancellationToken)
    {
        if (!services.Verifier.HasKeys)
        {
            Log.SecretMissing(logger);
            // 503 makes Clerk retry later, so events sent before the secret is set are not lost.
            return (Problem(StatusCodes.Status503ServiceUnavailable, "Webhooks cannot be accepted yet",
                "This endpoint is not ready to receive webhooks. Try again later."), null, null, "not_configured");
        }

        // Svix's ids are printable ASCII ("msg_" and letters); anything else (a U+0000 PostgreSQL cannot store among
        // them) is not from Svix.
        if (svixId is not null && (svixId.Length > MaxSvixIdLength || svixId.AsSpan().ContainsAnyExceptInRange('!', '~')))
        {
            return (Problem(StatusCodes.Status400BadRequest, "Invalid webhook signature",
                    $"The svix-id header must be at most {MaxSvixIdLength} printable ASCII characters without spaces."),
                null, null, "invalid_signature");
        }

        var body = await ReadBodyAsync(request, cancellationToken);
        if (body is null)
        {
            return (Problem(StatusCodes.Status413PayloadTooLarge, "Payload too large",
                $"A webhook body may be at most {MaxBodyBytes} bytes."), null, null, "too_large");
        }

        SignatureCheck check;
        using (ActivitySource.StartActivity("verify svix signature"))
        {
            check = services.Verifier.Verify(svixId, Header(request, "svix-timestamp", "webhook-timestamp"),
                Header(request, "svix-signature", "webhook-signature"), body);
        }

        if (check != SignatureCheck.Valid)
        {
            return (Problem(StatusCodes.Status400BadRequest, "Invalid webhook signature", check switch
            {
                SignatureCheck.MissingHeaders => "The svix-id, svix-timestamp and svix-signature headers are required.",
                SignatureCheck.MalformedTimestamp => "The svix-timestamp header must be Unix seconds.",
                SignatureCheck.TimestampTooOld or SignatureCheck.TimestampTooNew =>
                    "The svix-timestamp is more than 5 minutes away from the server's clock.",
                _ => "No signature in svix-signature matches this message.",
            }), null, null, "invalid_signature");
        }

        var clerkEvent = ClerkEventReader.ReadEvent(body);
        if (clerkEvent is null)
        {
            return (NotAnEvent("The body is not a Clerk event: a JSON object with a 'type' string and a 'data' object."),
                null, null, "invalid_payload");
        }

        activity?.SetTag("clerk.event_type", clerkEvent.Type);
        if (clerkEvent.Type is not ("user.created" or "user.updated" or "user.deleted"))
        {
            return (TypedResults.Ok(new WebhookReceipt("ignored")), clerkEvent.Type, null, "ignored");
        }

        WebhookOutcome outcome;
        string userId;
        if (clerkEvent.Type == "user.deleted")
        {
            if (ClerkEventReader.ReadDeletedUserId(clerkEvent.Data) is not { } deletedId)
            {
                return (NotAnEvent($"The data of a 'user.deleted' event must be a Clerk user with an 'id' of 1 to {ClerkEventReader.MaxIdLength} characters."),
                    clerkEvent.Type, null, "invalid_payload");
            }

            userId = deletedId;
            activity?.SetTag("clerk.user_id", userId);
            outcome = await services.UserSync.DeleteAsync(svixId!, clerkEvent.Type, userId, cancellationToken);
        }
        else
        {
            var reading = ClerkEventReader.ReadProfile(clerkEvent.Data, services.Time.GetUtcNow());
            if (reading.Profile is not { } profile)
            {
                return (NotAnEvent($"The data of a '{clerkEvent.Type}' event is not a Clerk user XGrowth can store: {reading.Problem}"),
                    clerkEvent.Type, null, "invalid_payload");
            }

            userId = profile.Id;
            activity?.SetTag("clerk.user_id", userId);
            if (reading.ImageUrlLeftOut)
            {
                Log.ImageUrlLeftOut(logger, clerkEvent.Type, svixId, userId, ClerkEventReader.MaxImageUrlLength);
            }

            outcome = await services.UserSync.UpsertAsync(svixId!, clerkEvent.Type, profile, cancellationToken);
        }

        var outcomeName = System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(outcome.ToString());
        return (TypedResults.Ok(new WebhookReceipt(outcomeName)), clerkEvent.Type, userId, outcomeName);
    }

    /// <summary>The raw body (signatures are over these exact bytes), or null when it is over the limit.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            return null;
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
        {
            sizeLimit.MaxRequestBodySize = MaxBodyBytes + 1;
        }

        using var buffer = new MemoryStream(request.ContentLength is { } length ? (int)length : 4096);
        var chunk = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > MaxBodyBytes)
                {
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null;
        }

        return buffer.ToArray();
    }

    private static string? Header(HttpRequest request, string name, string fallbackName)
    {
        var value = request.Headers[name].ToString();
        if (string.IsNullOrEmpty(value))
        {
            value = request.Headers[fallbackName].ToString();
        }

        return string.IsNullOrEmpty(value) ? null : value;
    }

    private static ProblemHttpResult NotAnEvent(string detail) =>
        Problem(StatusCodes.Status400BadRequest, "Not a Clerk event", detail);

    private static ProblemHttpResult Problem(int status, string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: status);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Clerk webhook {EventType} {SvixId} for {UserId}: {Outcome}")]
        public static partial void WebhookHandled(ILogger logger, string eventType, string? svixId, string? userId, string outcome);

        [LoggerMessage(Level = LogLevel.Warning,
            Message = "Clerk webhook {EventType} {SvixId} for {UserId}: image_url left out (not an http(s) URL of at most {MaxLength} characters); the rest is stored")]
        public static partial void ImageUrlLeftOut(ILogger logger, string eventType, string? svixId, string userId, int maxLength);

        [LoggerMessage(Level = LogLevel.Warning,
            Message = "A Clerk webhook arrived but Clerk:WebhookSecret is not set; answered 503 so that Clerk retries. Set it (see README).")]
        public static partial void SecretMissing(ILogger logger);
    }
}
