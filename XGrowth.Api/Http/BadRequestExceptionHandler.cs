using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;

namespace XGrowth.Api.Http;

/// <summary>
/// Turns a request the framework could not read (malformed JSON, a wrong type, an unknown field, a body over the
/// limit, a query value that does not parse) into a 4xx ProblemDetails that says what was wrong, never a 500.
/// </summary>
internal sealed class BadRequestExceptionHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException badRequest)
        {
            return false;
        }

        httpContext.Response.StatusCode = badRequest.StatusCode;
        var detail = badRequest.StatusCode == StatusCodes.Status413PayloadTooLarge
            ? "The request body is too large."
            : badRequest.InnerException is JsonException json
                ? $"The request body is not valid: {json.Message}"
                : badRequest.Message;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails =
            {
                Status = badRequest.StatusCode,
                Title = badRequest.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Payload too large" : "Bad request",
                Detail = detail,
            },
            Exception = exception,
        });
    }
}

/// <summary>Limits on what a client may send to the JSON endpoints.</summary>
public static class RequestLimits
{
    /// <summary>A post is at most a few kilobytes of JSON; this leaves room and refuses anything larger early.</summary>
    public const long MaxJsonBodyBytes = 64 * 1024;

    /// <summary>Refuses bodies over <see cref="MaxJsonBodyBytes"/> with 413, whatever the server (Kestrel or a test host).</summary>
    public static TBuilder WithJsonBodyLimit<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequestSizeLimitMetadata(MaxJsonBodyBytes)).AddEndpointFilter(async (context, next) =>
        {
            if (context.HttpContext.Request.ContentLength > MaxJsonBodyBytes)
            {
                return TypedResults.Problem(title: "Payload too large", detail: "The request body is too large.",
                    statusCode: StatusCodes.Status413PayloadTooLarge);
            }

            return await next(context);
        });

    private sealed class RequestSizeLimitMetadata(long maxRequestBodySize) : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata
    {
        public long? MaxRequestBodySize => maxRequestBodySize;
    }
}
