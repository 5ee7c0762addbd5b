using System.ComponentModel.DataAnnotations;

namespace XGrowth.Api.Webhooks;

/// <summary>The <c>Clerk</c> settings the webhook receiver uses.</summary>
public sealed class ClerkWebhookOptions : IValidatableObject
{
    public const string Section = "Clerk";

    /// <summary>
    /// The endpoint's signing secret from the Clerk dashboard (<c>whsec_...</c>); several separated by spaces or
    /// commas while rotating. Empty: webhooks are answered 503 so that Clerk retries once it is set.
    /// </summary>
    public string? WebhookSecret { get; set; }

    /// <summary>
    /// Secrets published in documentation and test suites (Svix's test vector, which this README and many examples
    /// show): anyone can sign with them, so they are refused outside Development.
    /// </summary>
    public static readonly IReadOnlyList<string> WellKnownSecrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"];

    /// <summary>Whether any of the configured secrets is one of <see cref="WellKnownSecrets"/> (compared as keys, not text).</summary>
    public bool UsesWellKnownSecret()
    {
        try
        {
            var known = WellKnownSecrets.SelectMany(secret => SvixSignatureVerifier.ParseSecrets(secret)).ToList();
            return SvixSignatureVerifier.ParseSecrets(WebhookSecret).Any(key => known.Any(k => k.AsSpan().SequenceEqual(key)));
        }
        catch (FormatException)
        {
            return false; // Malformed: Validate says so.
        }
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        string? problem = null;
        try
        {
            SvixSignatureVerifier.ParseSecrets(WebhookSecret);
        }
        catch (FormatException e)
        {
            problem = e.Message;
        }

        if (problem is not null)
        {
            yield return new ValidationResult($"{Section}:{nameof(WebhookSecret)} is malformed: {problem}", [nameof(WebhookSecret)]);
        }
    }
}
