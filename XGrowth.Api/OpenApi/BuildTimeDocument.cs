using System.Reflection;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace XGrowth.Api.OpenApi;

/// <summary>
/// The build writes the OpenAPI document (XGrowth.Api.json) by running Program under Microsoft.Extensions.ApiDescription.Server's
/// GetDocument.Insider, which builds and starts the host without a server: no request is served and no database is
/// there. So it gets placeholders for what the API insists on (a connection string; in Production a Clerk issuer and a
/// key ring certificate), and
/// the Data Protection key ring, which loads at start, is kept in memory instead of trying the absent database (with
/// retries, two minutes of every build).
/// </summary>
public static class BuildTimeDocument
{
    public static bool IsGenerating => Assembly.GetEntryAssembly()?.GetName().Name == "GetDocument.Insider";

    public static WebApplicationBuilder AddBuildTimeDocumentDefaults(this WebApplicationBuilder builder)
    {
        if (IsGenerating)
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:xgrowth"] = "Host=build-time-openapi-document.invalid",
                ["Clerk:Issuer"] = "https://build-time-openapi-document.invalid",
                // In Production the key ring must be encrypted (XGrowth.X/KeyRingProtection.cs); these keys live in memory.
                ["DataProtection:Certificate"] = ThrowawayCertificate(),
            });
            // PostConfigure runs after every Configure, so this wins over the database key store registered later.
            builder.Services.PostConfigure<KeyManagementOptions>(options => options.XmlRepository = new InMemoryKeys());
        }

        return builder;
    }

    private static string ThrowawayCertificate()
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=build-time-openapi-document", rsa,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        return Convert.ToBase64String(certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12));
    }

    private sealed class InMemoryKeys : IXmlRepository
    {
        private readonly List<XElement> keys = [];

        public IReadOnlyCollection<XElement> GetAllElements()
        {
            lock (keys)
            {
                return [.. keys];
            }
        }

        public void StoreElement(XElement element, string friendlyName)
        {
            lock (keys)
            {
                keys.Add(element);
            }
        }
    }
}
