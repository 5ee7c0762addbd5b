using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace XGrowth.X;

/// <summary>
/// Encrypts the Data Protection key ring at rest with a certificate (<c>DataProtection:Certificate</c>). The ring lives
/// in PostgreSQL next to the X tokens its keys encrypt; unencrypted, one database dump would hold both. In Production
/// the services refuse to start without a certificate, rather than warn in a log nobody reads.
/// </summary>
public static class KeyRingProtection
{
    public const string CertificateKey = "DataProtection:Certificate";
    public const string PreviousCertificatesKey = "DataProtection:PreviousCertificates";

    public static IDataProtectionBuilder ProtectKeysWithConfiguredCertificate(this IDataProtectionBuilder dataProtection, IConfiguration configuration, IHostEnvironment environment)
    {
        var certificate = Load(configuration[CertificateKey], CertificateKey);
        if (certificate is null)
        {
            // Checked when the service starts (not when it is only built, as the OpenAPI document's generation does).
            dataProtection.Services.AddOptions<UnprotectedKeyRing>()
                .Validate(_ => !environment.IsProduction(),
                    $"{CertificateKey} is required in Production: the Data Protection key ring that encrypts X tokens is stored in " +
                    "PostgreSQL beside them, and without a certificate its keys are stored unencrypted. Set it to a certificate with its " +
                    "private key, PKCS#12 in base64 (docs/deploy.md says how to make one).")
                .ValidateOnStart();
            return dataProtection;
        }

        // Keys made from now on are encrypted with this certificate; keys encrypted with a certificate that was replaced
        // stay readable while it is listed in DataProtection:PreviousCertificates.
        var decryptors = new List<X509Certificate2> { certificate };
        foreach (var previous in (configuration[PreviousCertificatesKey] ?? "").Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries))
        {
            decryptors.Add(Load(previous, PreviousCertificatesKey)!);
        }

        dataProtection.Services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(services => new ConfigureOptions<KeyManagementOptions>(options =>
            options.XmlEncryptor = new CertificateXmlEncryptor(certificate, services.GetRequiredService<ILoggerFactory>())));
        dataProtection.UnprotectKeysWithAnyCertificate([.. decryptors]);
        return dataProtection;
    }

    /// <summary>Options of no content: their validation, run once when the service starts, is the Production check.</summary>
    private sealed class UnprotectedKeyRing;

    /// <summary>A certificate with its private key from base64 PKCS#12 (no password); null for none. Never echoes the value.</summary>
    private static X509Certificate2? Load(string? base64, string key)
    {
        if (string.IsNullOrWhiteSpace(base64))
        {
            return null;
        }

        try
        {
            var certificate = X509CertificateLoader.LoadPkcs12(Convert.FromBase64String(base64.Trim()), password: null);
            using var rsa = certificate.GetRSAPrivateKey();
            return rsa is not null
                ? certificate
                : throw new InvalidOperationException($"{key} must be an RSA certificate with its private key (PKCS#12, base64).");
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            throw new InvalidOperationException($"{key} is not a PKCS#12 certificate in base64 without a password ({e.GetType().Name}).");
        }
    }
}
