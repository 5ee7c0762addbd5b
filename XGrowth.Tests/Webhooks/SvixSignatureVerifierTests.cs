using System.Text;
using Microsoft.Extensions.Time.Testing;
using XGrowth.Api.Webhooks;

namespace XGrowth.Tests.Webhooks;

public class SvixSignatureVerifierTests
{
    // Svix's published test vector (REFERENCE.md).
    private const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string MessageId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long Timestamp = 1614265330;
    private const string Signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("{\"test\": 2432232314}");

    // Well-formed v1 signatures that are not the message's.
    private const string Wrong1 = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    private const string Wrong2 = "v1,4kfA2y0hj9ssU0J4l0p8Sxj+2Uc8x0TY6yq7VklYAXM=";

    private static SvixSignatureVerifier VerifierAt(long unixSeconds, string secrets = Secret) =>
        new(SvixSignatureVerifier.ParseSecrets(secrets), new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(unixSeconds)));

    private static SignatureCheck Verify(string signatures, long now = Timestamp, string secrets = Secret, byte[]? body = null) =>
        VerifierAt(now, secrets).Verify(MessageId, Timestamp.ToString(), signatures, body ?? Body);

    [Fact]
    public void Published_test_vector_is_valid() => Assert.Equal(SignatureCheck.Valid, Verify(Signature));

    [Fact]
    public void Sign_reproduces_the_published_signature() =>
        Assert.Equal(Signature, SvixSignatureVerifier.Sign(SvixSignatureVerifier.ParseSecrets(Secret)[0], MessageId, Timestamp, Body));

    [Theory]
    [InlineData($"{Signature} {Wrong1} {Wrong2}")]
    [InlineData($"{Wrong1} {Signature} {Wrong2}")]
    [InlineData($"{Wrong1} {Wrong2} {Signature}")]
    [InlineData($"v1a,aGVsbG8= {Signature}")]
    public void Valid_signature_anywhere_among_others_is_accepted(string header) => Assert.Equal(SignatureCheck.Valid, Verify(header));

    [Theory]
    [InlineData($"{Wrong1} {Wrong2}")]
    [InlineData("v1,")]
    [InlineData("v1,not*base64!")]
    [InlineData("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")]
    [InlineData("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")]
    [InlineData("v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")]
    [InlineData("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O==")]
    [InlineData("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=AAAA")]
    public void Malformed_or_wrong_signatures_are_rejected(string header) =>
        Assert.Equal(SignatureCheck.NoMatchingSignature, Verify(header));

    [Fact]
    public void Tampered_body_is_rejected() =>
        Assert.Equal(SignatureCheck.NoMatchingSignature, Verify(Signature, body: Encoding.UTF8.GetBytes("{\"test\": 2432232315}")));

    [Fact]
    public void Reserialized_body_is_rejected() =>
        Assert.Equal(SignatureCheck.NoMatchingSignature, Verify(Signature, body: Encoding.UTF8.GetBytes("{\"test\":2432232314}")));

    [Fact]
    public void Any_of_several_rotation_secrets_verifies()
    {
        const string other = "whsec_c2VjcmV0LW51bWJlci10d28tZm9yLXJvdGF0aW9u";
        Assert.Equal(SignatureCheck.Valid, Verify(Signature, secrets: $"{other} {Secret}"));
        Assert.Equal(SignatureCheck.Valid, Verify(Signature, secrets: $"{Secret},{other}"));
        Assert.Equal(SignatureCheck.Valid, Verify(Signature, secrets: $"{other}, {Secret}"));
        Assert.Equal(SignatureCheck.NoMatchingSignature, Verify(Signature, secrets: other));
    }

    [Fact]
    public void Secret_without_prefix_is_read_as_base64() =>
        Assert.Equal(SignatureCheck.Valid, Verify(Signature, secrets: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));

    [Theory]
    [InlineData(-300, SignatureCheck.Valid)]
    [InlineData(300, SignatureCheck.Valid)]
    [InlineData(301, SignatureCheck.TimestampTooOld)]
    [InlineData(-301, SignatureCheck.TimestampTooNew)]
    public void Tolerance_is_five_minutes_both_ways(long nowMinusTimestamp, SignatureCheck expected) =>
        Assert.Equal(expected, Verify(Signature, now: Timestamp + nowMinusTimestamp));

    [Theory]
    [InlineData(null, "1614265330", Signature, SignatureCheck.MissingHeaders)]
    [InlineData(MessageId, null, Signature, SignatureCheck.MissingHeaders)]
    [InlineData(MessageId, "1614265330", null, SignatureCheck.MissingHeaders)]
    [InlineData(MessageId, "1614265330", "", SignatureCheck.MissingHeaders)]
    [InlineData(MessageId, "16142653.30", Signature, SignatureCheck.MalformedTimestamp)]
    [InlineData(MessageId, "-1614265330", Signature, SignatureCheck.MalformedTimestamp)]
    [InlineData(MessageId, "soon", Signature, SignatureCheck.MalformedTimestamp)]
    [InlineData(MessageId, "99999999999999999999999", Signature, SignatureCheck.MalformedTimestamp)]
    public void Missing_or_malformed_headers_are_rejected(string? id, string? timestamp, string? signature, SignatureCheck expected) =>
        Assert.Equal(expected, VerifierAt(Timestamp).Verify(id, timestamp, signature, Body));

    [Fact]
    public void Signature_of_another_message_id_is_rejected() =>
        Assert.Equal(SignatureCheck.NoMatchingSignature, VerifierAt(Timestamp).Verify("msg_other", Timestamp.ToString(), Signature, Body));

    [Theory]
    [InlineData("whsec_***")]
    [InlineData("whsec_")]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_%%%")]
    public void Malformed_secret_setting_is_refused_without_echoing_it(string setting)
    {
        var error = Assert.Throws<FormatException>(() => SvixSignatureVerifier.ParseSecrets(setting));
        Assert.DoesNotContain("MfKQ9r8", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("%%%", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_secret_means_no_keys()
    {
        Assert.Empty(SvixSignatureVerifier.ParseSecrets(null));
        Assert.Empty(SvixSignatureVerifier.ParseSecrets("  , "));
    }
}
