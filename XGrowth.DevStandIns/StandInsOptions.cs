namespace XGrowth.DevStandIns;

/// <summary>The <c>StandIns</c> settings. The AppHost sets them all in Development; tests set them in process.</summary>
public sealed class StandInsOptions
{
    public const string Section = "StandIns";

    /// <summary>This process's own address as the API and the browser reach it, e.g. <c>http://localhost:8003</c>.</summary>
    public string? BaseUrl { get; set; }

    /// <summary>The API's address, for the page that plays the frontend's part in connecting an X account.</summary>
    public string? ApiUrl { get; set; }

    /// <summary>Where X's state (tokens, posts) is kept across restarts; none: in memory only (tests).</summary>
    public string? DataDirectory { get; set; }

    public ClerkSettings Clerk { get; set; } = new();

    public XSettings X { get; set; } = new();

    public sealed class ClerkSettings
    {
        /// <summary>Where webhooks are delivered: the API's <c>/api/webhooks/clerk</c>.</summary>
        public string? WebhookUrl { get; set; }

        /// <summary>The <c>whsec_...</c> secret webhooks are signed with (the API gets the same one).</summary>
        public string? WebhookSecret { get; set; }

        /// <summary>The RSA key tokens are signed with (PEM); none: a new key each start (tests).</summary>
        public string? SigningKeyPem { get; set; }

        /// <summary>The <c>azp</c> of issued tokens: the frontend's origin.</summary>
        public string AuthorizedParty { get; set; } = "http://localhost:3000";
    }

    public sealed class XSettings
    {
        public string ClientId { get; set; } = "xgrowth-local";

        /// <summary>The confidential client's secret (HTTP Basic at the token endpoint); none: a public client.</summary>
        public string? ClientSecret { get; set; }

        /// <summary>The one callback URL registered for the app; authorize requests must name it exactly, as on X.</summary>
        public string? RedirectUri { get; set; }
    }
}
