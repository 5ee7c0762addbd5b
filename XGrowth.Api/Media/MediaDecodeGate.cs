using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace XGrowth.Api.Media;

/// <summary>The <c>Media</c> settings: how many uploads decode at once, and what one user may store.</summary>
public sealed class MediaOptions
{
    public const string Section = "Media";

    /// <summary>
    /// Uploads decoded at once per API process. A decode can hold a few hundred MB at worst (a progressive 8,192 px JPEG, a
    /// GIF that size decoded whole): 2 bound an API process's peak, and keep the other requests their CPU on a small machine.
    /// </summary>
    [Range(1, 64)]
    public int MaxConcurrentDecodes { get; set; } = 2;

    /// <summary>Uploads attached to no post that one user may have at once (enough for a 25-part thread of 4 images each).</summary>
    [Range(1, 100_000)]
    public int MaxUnattachedPerUser { get; set; } = 100;

    /// <summary>The contents one user may have stored in all (media whose contents were removed do not count).</summary>
    [Range(1, long.MaxValue)]
    public long MaxStoredBytesPerUser { get; set; } = 2L * 1024 * 1024 * 1024;
}

/// <summary>Lets at most <see cref="MediaOptions.MaxConcurrentDecodes"/> uploads decode at once; the others wait their turn.</summary>
public sealed class MediaDecodeGate(IOptions<MediaOptions> options) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrentDecodes);

    public async Task<T> RunAsync<T>(Func<T> decode, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        try
        {
            return decode();
        }
        finally
        {
            _slots.Release();
        }
    }

    public void Dispose() => _slots.Dispose();
}

public static class MediaServicesRegistration
{
    public static WebApplicationBuilder AddMedia(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<MediaOptions>().BindConfiguration(MediaOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<MediaDecodeGate>();
        return builder;
    }
}
