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
