using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace XGrowth.Api.Auth;

/// <summary>
/// The Clerk instance's signing keys from its JWKS, cached. Refetched every hour, and at once when a token names a
/// key the cache does not hold (Clerk rotated its keys), so that the first token signed with a new key is accepted.
/// </summary>
/// <remarks>
/// Written here rather than using IdentityModel's ConfigurationManager because that refreshes in the background: the
/// request that carries the first new-key token would fail.
/// </remarks>
public sealed partial class ClerkSigningKeys(
    IOptions<ClerkAuthOptions> options, IHttpClientFactory httpClients, TimeProvider time, ILogger<ClerkSigningKeys> logger)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromHours(1);

    /// <summary>Unknown kids refetch at most this often (the first one at once), so random kids cannot hammer Clerk.</summary>
    public static readonly TimeSpan UnknownKidRefetchInterval = TimeSpan.FromSeconds(10);

    /// <summary>After a failed fetch, requests do not wait on another for this long: they are answered with the keys at hand.</summary>
    public static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _fetch = new(1, 1);
    private DateTimeOffset? _lastFailure;
    private volatile IReadOnlyList<SecurityKey> _keys = [];
    private DateTimeOffset _fetchedAt = DateTimeOffset.MinValue;
    private DateTimeOffset? _lastUnknownKidRefetch;

    /// <summary>The keys to verify with now.</summary>
    public IReadOnlyList<SecurityKey> Current => _keys;

    /// <summary>Makes sure the cache is fresh and, if possible, holds <paramref name="kid"/>.</summary>
    public async Task EnsureAsync(string? kid, CancellationToken cancellationToken)
    {
        if (!NeedsFetch(kid, out _))
        {
            return;
        }

        await _fetch.WaitAsync(cancellationToken);
        try
        {
            // Another request may have fetched while this one waited.
            if (!NeedsFetch(kid, out var becauseOfUnknownKid))
            {
                return;
            }

            if (becauseOfUnknownKid)
            {
                _lastUnknownKidRefetch = time.GetUtcNow();
            }

            await FetchAsync(cancellationToken);
        }
        finally
        {
            _fetch.Release();
        }
    }

    private bool NeedsFetch(string? kid, out bool becauseOfUnknownKid)
    {
        becauseOfUnknownKid = false;
        var now = time.GetUtcNow();
        if (_lastFailure is { } failedAt && now - failedAt < RetryAfterFailure)
        {
            return false;
        }

        if (_keys.Count == 0 || now - _fetchedAt > MaxAge)
        {
            return true;
        }

        if (string.IsNullOrEmpty(kid) || _keys.Any(key => key.KeyId == kid))
        {
            return false;
        }

        becauseOfUnknownKid = _lastUnknownKidRefetch is null || now - _lastUnknownKidRefetch >= UnknownKidRefetchInterval;
        return becauseOfUnknownKid;
    }

    private async Task FetchAsync(CancellationToken cancellationToken)
    {
        var url = options.Value.EffectiveJwksUrl();
        try
        {
            using var client = httpClients.CreateClient(ClerkAuthentication.JwksHttpClient);
            var json = await client.GetStringAsync(url, cancellationToken);
            var keys = new JsonWebKeySet(json).GetSigningKeys();
            if (keys.Count > 0)
            {
                _keys = [.. keys];
                _fetchedAt = time.GetUtcNow();
                _lastFailure = null;
            }
            else
            {
                _lastFailure = time.GetUtcNow();
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or ArgumentException or System.Text.Json.JsonException
            or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException)
        {
            // Keep the keys we have: a Clerk outage must not sign everybody out.
            _lastFailure = time.GetUtcNow();
            LogFetchFailed(logger, url, e.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not fetch Clerk's signing keys from {Url}: {Error}; keeping the cached keys.")]
    private static partial void LogFetchFailed(ILogger logger, string url, string error);
}
