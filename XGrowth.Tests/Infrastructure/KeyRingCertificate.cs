using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace XGrowth.Tests.Infrastructure;

/// <summary>Certificates for <c>DataProtection:Certificate</c>, made for this test run (a service in Production needs one).</summary>
public static class KeyRingCertificate
{
    /// <summary>One certificate for the whole run, as every replica of a deployment shares one.</summary>
    public static readonly string Shared = NewBase64Pkcs12();

    /// <summary>A new self-signed RSA certificate with its private key, PKCS#12 without a password, in base64.</summary>
    public static string NewBase64Pkcs12(string subject = "CN=xgrowth-key-ring-test")
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return Convert.ToBase64String(certificate.Export(X509ContentType.Pkcs12));
    }
}
