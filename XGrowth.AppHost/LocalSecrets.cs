using System.Security.Cryptography;

namespace XGrowth.AppHost;

/// <summary>Secrets the AppHost makes once for the local stand-ins and keeps across restarts, readable by their owner only.</summary>
public static class LocalSecrets
{
    /// <summary>A new Svix-style webhook secret: <c>whsec_</c> and 24 random bytes in base64.</summary>
    public static string NewWebhookSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));

    /// <summary>A new RSA key in PEM form, for the Clerk stand-in to sign session tokens with.</summary>
    public static string NewSigningKeyPem()
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportPkcs8PrivateKeyPem();
    }

    /// <summary>
    /// The file's content, or, when there is no file yet, <paramref name="create"/>'s, written with mode 0600 from
    /// the start (never world-readable, not even for a moment) to a temporary file and moved into place, so that two
    /// processes starting at once agree on one value.
    /// </summary>
    public static string ReadOrCreate(string directory, string fileName, Func<string> create)
    {
        var path = Path.Combine(directory, fileName);
        if (File.Exists(path))
        {
            return File.ReadAllText(path).Trim();
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var content = create();
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        WriteOwnerOnly(temporary, content, FileMode.CreateNew);
        try
        {
            File.Move(temporary, path, overwrite: false);
            return content;
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temporary);
            return File.ReadAllText(path).Trim(); // Another process made it first.
        }
    }

    private static void WriteOwnerOnly(string path, string content, FileMode mode)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var writer = new StreamWriter(path, options);
        writer.Write(content);
    }
}
