using System.Globalization;
using System.Net.Sockets;
using Polly;

namespace XGrowth.X;

/// <summary>
/// The one place that decides what a failed call to X means, for the API and the worker alike: whether it is worth
/// trying again later, and whether the request provably never left (so that sending it again cannot act twice).
/// </summary>
public static class XFailures
{
    /// <summary>
    /// X could not be reached, did not answer in time, or the resilience pipeline refused the call (its timeout, its
    /// circuit breaker): nothing is known to be wrong with the request itself, so it can be tried again later. A
    /// cancellation the caller asked for is not a failure of X.
    /// </summary>
    public static bool IsTransient(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        HttpRequestException or ExecutionRejectedException => true,
        // X answered something that is not the JSON it documents (a proxy's error page, a cut-off body).
        System.Text.Json.JsonException => true,
        _ => false,
    };

    /// <summary>
    /// When X's rate limit for the request's endpoint resets (<c>x-rate-limit-reset</c>, Unix seconds); null when the
    /// header is missing or is not a time.
    /// </summary>
    public static DateTimeOffset? RateLimitReset(HttpResponseMessage response) =>
        response.Headers.TryGetValues("x-rate-limit-reset", out var values)
        && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var unixSeconds)
        && unixSeconds < 253_402_300_800 // year 9999: anything later is not a time
            ? DateTimeOffset.FromUnixTimeSeconds(unixSeconds)
            : null;

    /// <summary>
    /// The request provably never reached X: the connection was refused or the name did not resolve, or the circuit
    /// breaker stopped it before it left. Anything else (a timeout, a connection lost midway) may have been acted on.
    /// </summary>
    public static bool WasNotSent(Exception exception) => exception switch
    {
        Polly.CircuitBreaker.BrokenCircuitException => true,
        HttpRequestException { InnerException: SocketException socket } => socket.SocketErrorCode is SocketError.ConnectionRefused
            or SocketError.HostNotFound or SocketError.TryAgain or SocketError.NetworkUnreachable or SocketError.HostUnreachable,
        _ => false,
    };
}
