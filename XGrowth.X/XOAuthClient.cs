using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace XGrowth.X;

/// <summary>The tokens X's token endpoint answers.</summary>
public sealed record XTokens(
    [property: JsonPropertyName("access_token")] string? AccessToken,
    [property: JsonPropertyName("refresh_token")] string? RefreshToken,
    [property: JsonPropertyName("expires_in")] int? ExpiresIn,
    [property: JsonPropertyName("scope")] string? Scope);

/// <summary>X's answer to <c>GET /2/users/me</c>.</summary>
public sealed record XUser(string Id, string Username, string? Name);

/// <summary>X refused a grant (<c>invalid_grant</c>): the account must be connected again.</summary>
public sealed class XGrantRefusedException(string message) : Exception(message);

/// <summary>X's OAuth 2.0 endpoints (REFERENCE.md): code exchange, refresh, revoke, and who the token belongs to.</summary>
public sealed class XOAuthClient(HttpClient http, IOptions<XOptions> options)
{
    private XOptions Options => options.Value;

    /// <summary>Whether the X app's client is configured (without it no call can be authenticated).</summary>
    public bool IsConfigured => Options.IsConfigured;

    public Task<XTokens> ExchangeCodeAsync(string code, string codeVerifier, CancellationToken cancellationToken) =>
        TokenRequestAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = Options.RedirectUri!,
            ["code_verifier"] = codeVerifier,
        }, cancellationToken);

    public Task<XTokens> RefreshAsync(string refreshToken, CancellationToken cancellationToken) =>
        TokenRequestAsync(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken }, cancellationToken);

    public async Task RevokeAsync(string token, string tokenTypeHint, CancellationToken cancellationToken)
    {
        using var request = ClientRequest("/2/oauth2/revoke", new Dictionary<string, string> { ["token"] = token, ["token_type_hint"] = tokenTypeHint });
        using var response = await http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    public async Task<XUser> GetMeAsync(string accessToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url("/2/users/me"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<UsersMeResponse>(cancellationToken);
        return body?.Data is { Id.Length: > 0, Username.Length: > 0 } user
            ? user
            : throw new HttpRequestException("X answered /2/users/me without a user id and username.");
    }

    private sealed record UsersMeResponse(XUser? Data);

    private async Task<XTokens> TokenRequestAsync(Dictionary<string, string> form, CancellationToken cancellationToken)
    {
        using var request = ClientRequest("/2/oauth2/token", form);
        using var response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized)
        {
            var error = await response.Content.ReadAsStringAsync(cancellationToken);
            if (error.Contains("invalid_grant", StringComparison.Ordinal) || error.Contains("invalid_request", StringComparison.Ordinal))
            {
                throw new XGrantRefusedException($"X refused the grant ({(int)response.StatusCode}).");
            }
        }

        response.EnsureSuccessStatusCode();
        var tokens = await response.Content.ReadFromJsonAsync<XTokens>(cancellationToken);
        return tokens is { AccessToken.Length: > 0 }
            ? tokens
            : throw new HttpRequestException("X's token endpoint answered without an access token.");
    }

    /// <summary>A form POST with the client's authentication: HTTP Basic for a confidential client, else <c>client_id</c>.</summary>
    private HttpRequestMessage ClientRequest(string path, Dictionary<string, string> form)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Url(path));
        if (string.IsNullOrEmpty(Options.ClientSecret))
        {
            form["client_id"] = Options.ClientId!;
        }
        else
        {
            var credentials = $"{Uri.EscapeDataString(Options.ClientId!)}:{Uri.EscapeDataString(Options.ClientSecret)}";
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        }

        request.Content = new FormUrlEncodedContent(form);
        return request;
    }

    private Uri Url(string path) => new(Options.ApiBaseUrl.TrimEnd('/') + path);
}
