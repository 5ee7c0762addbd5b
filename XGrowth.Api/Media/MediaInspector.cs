using SkiaSharp;
using XGrowth.Data;

namespace XGrowth.Api.Media;

/// <summary>What an upload turned out to be, read from its bytes.</summary>
public sealed record InspectedMedia(MediaType Type, string ContentType, int Width, int Height);

/// <summary>Why an upload is refused: the HTTP status, the ProblemDetails <c>code</c> and a sentence for the user.</summary>
public sealed record MediaRefusal(int Status, string Code, string Detail);

/// <summary>
/// Reads an upload's format and dimensions from its bytes (never from its name or declared type), and decodes it to be
/// sure it is whole: X refuses a truncated or corrupt file only when the post is published, which is too late to tell
/// the user. Decoding is where memory goes, so it is bounded per file (see <see cref="Decodes"/>) and, across uploads,
/// by <see cref="MediaDecodeGate"/>.
/// </summary>
public static class MediaInspector
{
    public const long MaxImageBytes = 5 * 1024 * 1024;
    public const long MaxGifBytes = 15 * 1024 * 1024;
    public const int MinSide = 4;
    public const int MaxSide = 8_192;

    /// <summary>Rows decoded per scanline call: a few hundred KiB at the widest.</summary>
    private const int RowsPerCall = 8;

    /// <summary>The longest side a WebP is decoded at to check it: libwebp scales while it decodes.</summary>
    private const int WebpCheckSide = 512;

    private enum Sniffed { Jpeg, Png, Gif, Webp }

    /// <summary>The format by its signature; null for anything but the four X takes.</summary>
    private static Sniffed? Sniff(ReadOnlySpan<byte> head) => head switch
    {
        [0xFF, 0xD8, 0xFF, ..] => Sniffed.Jpeg,
        [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Sniffed.Png,
        [(byte)'G', (byte)'I', (byte)'F', (byte)'8', (byte)'7' or (byte)'9', (byte)'a', ..] => Sniffed.Gif,
        [(byte)'R', (byte)'I', (byte)'F', (byte)'F', _, _, _, _, (byte)'W', (byte)'E', (byte)'B', (byte)'P', ..] => Sniffed.Webp,
        _ => null,
    };

    /// <summary>
    /// The refusal that needs no decoding (an unknown format, a file over its type's size), else null. Cheap: the first
    /// bytes and the length.
    /// </summary>
    public static MediaRefusal? Precheck(ReadOnlySpan<byte> head, long length)
    {
        if (Sniff(head) is not { } format)
        {
            return new MediaRefusal(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type",
                "The file is not a JPEG, PNG, WebP or GIF image (the type is read from its contents, not its name).");
        }

        var (limit, what) = format == Sniffed.Gif ? (MaxGifBytes, "A GIF") : (MaxImageBytes, "A JPEG, PNG or WebP image");
        return length > limit
            ? new MediaRefusal(StatusCodes.Status413PayloadTooLarge, "media_too_large",
                $"{what} may be at most {limit / (1024 * 1024)} MB; this file has {length:N0} bytes.")
            : null;
    }

    /// <summary>
    /// Reads and decodes <paramref name="content"/> (seekable, at its start). Synchronous and CPU-bound: call it under
    /// <see cref="MediaDecodeGate"/>.
    /// </summary>
    public static (InspectedMedia? Media, MediaRefusal? Refusal) Inspect(Stream content)
    {
        Span<byte> head = stackalloc byte[16];
        var headLength = content.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        content.Position = 0;
        if (Precheck(head[..headLength], content.Length) is { } refused)
        {
            return (null, refused);
        }

        var format = Sniff(head[..headLength])!.Value;
        if (format == Sniffed.Gif && !GifStructure.IsComplete(content))
        {
            return (null, Unreadable("The GIF is truncated or corrupt."));
        }

        content.Position = 0;
        using var codec = SKCodec.Create(content, out var created);
        if (codec is null || created != SKCodecResult.Success || FormatOf(codec.EncodedFormat) != format)
        {
            return (null, Unreadable($"The file looks like a {Name(format)} but cannot be read as one."));
        }

        // A photo taken sideways is stored sideways with an orientation tag: its sides are the other way round on X.
        var (width, height) = codec.EncodedOrigin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom
            ? (codec.Info.Height, codec.Info.Width)
            : (codec.Info.Width, codec.Info.Height);
        if (width is < MinSide or > MaxSide || height is < MinSide or > MaxSide)
        {
            return (null, new MediaRefusal(StatusCodes.Status400BadRequest, "invalid_dimensions",
                $"The image is {width}×{height} px; each side must be {MinSide} to {MaxSide:N0} px."));
        }

        // (The codec is done with the stream: a PNG is checked by reading it again, see PngImageData.)
        if (format == Sniffed.Png ? !PngImageData.IsWhole(content) : !Decodes(codec, format))
        {
            return (null, Unreadable($"The {Name(format)} is truncated or corrupt: it does not decode to the end."));
        }

        var (type, contentType) = format switch
        {
            Sniffed.Jpeg => (MediaType.Image, "image/jpeg"),
            Sniffed.Png => (MediaType.Image, "image/png"),
            Sniffed.Webp => (MediaType.Image, "image/webp"),
            _ => (MediaType.Gif, "image/gif"),
        };
        return (new InspectedMedia(type, contentType, width, height), null);
    }

    /// <summary>
    /// Whether a JPEG, WebP or GIF decodes whole, in bounded memory (a PNG: <see cref="PngImageData"/>). A full decode of
    /// an 8,192 px square is 256 MB of pixels, so: a JPEG is decoded row by row into a buffer of a few rows (a file that
    /// ends early gives fewer rows than its height); a WebP is decoded scaled down (libwebp scales while decoding, the
    /// whole stream is still read); a GIF, whose decoder can do neither, is decoded whole, frame 0 (its other frames' data
    /// was walked by <see cref="GifStructure"/>). A progressive JPEG makes libjpeg keep the whole image's coefficients
    /// anyway (about 3 bytes a pixel), and a lossless WebP its pixels: <see cref="MediaDecodeGate"/> bounds how many such
    /// decodes run at once.
    /// </summary>
    private static bool Decodes(SKCodec codec, Sniffed format)
    {
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        if (format == Sniffed.Jpeg)
        {
            var started = codec.StartScanlineDecode(info);
            if (started == SKCodecResult.Success)
            {
                var rows = Math.Min(RowsPerCall, info.Height);
                using var buffer = new SKBitmap(new SKImageInfo(info.Width, rows, info.ColorType, info.AlphaType));
                for (var done = 0; done < info.Height; done += rows)
                {
                    var wanted = Math.Min(rows, info.Height - done);
                    if (codec.GetScanlines(buffer.GetPixels(), wanted, buffer.RowBytes) != wanted)
                    {
                        return false;
                    }
                }

                return true;
            }

            if (started != SKCodecResult.Unimplemented)
            {
                return false;
            }
        }
        else if (format == Sniffed.Webp)
        {
            var scale = Math.Min(1f, (float)WebpCheckSide / Math.Max(info.Width, info.Height));
            var scaled = codec.GetScaledDimensions(scale);
            using var small = new SKBitmap(new SKImageInfo(scaled.Width, scaled.Height, info.ColorType, info.AlphaType));
            var result = codec.GetPixels(small.Info, small.GetPixels());
            if (result != SKCodecResult.InvalidScale)
            {
                return result == SKCodecResult.Success;
            }
        }

        using var whole = new SKBitmap(info);
        return codec.GetPixels(info, whole.GetPixels(), new SKCodecOptions(0)) == SKCodecResult.Success;
    }

    private static Sniffed? FormatOf(SKEncodedImageFormat format) => format switch
    {
        SKEncodedImageFormat.Jpeg => Sniffed.Jpeg,
        SKEncodedImageFormat.Png => Sniffed.Png,
        SKEncodedImageFormat.Gif => Sniffed.Gif,
        SKEncodedImageFormat.Webp => Sniffed.Webp,
        _ => null,
    };

    private static string Name(Sniffed format) => format switch
    {
        Sniffed.Jpeg => "JPEG",
        Sniffed.Png => "PNG",
        Sniffed.Gif => "GIF",
        _ => "WebP",
    };

    private static MediaRefusal Unreadable(string detail) => new(StatusCodes.Status400BadRequest, "invalid_media", detail);

    /// <summary>
    /// Walks a GIF's blocks (GIF89a specification: header, screen descriptor, color tables, extensions and images as
    /// chains of sub-blocks) up to its trailer, without decoding: a file cut anywhere, in any frame, ends before it.
    /// </summary>
    private static class GifStructure
    {
        public static bool IsComplete(Stream content)
        {
            // Not disposed: that would close the upload's stream, which is read again.
            var gif = new BufferedStream(content, 64 * 1024);
            Span<byte> header = stackalloc byte[13];
            if (gif.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) != header.Length)
            {
                return false;
            }

            if ((header[10] & 0x80) != 0 && !Skip(gif, 3 << ((header[10] & 0x07) + 1)))
            {
                return false;
            }

            var images = 0;
            Span<byte> descriptor = stackalloc byte[9];
            while (true)
            {
                switch (gif.ReadByte())
                {
                    case 0x3B:
                        return images > 0;
                    case 0x21:
                        if (gif.ReadByte() < 0 || !SkipSubBlocks(gif))
                        {
                            return false;
                        }

                        break;
                    case 0x2C:
                        if (gif.ReadAtLeast(descriptor, descriptor.Length, throwOnEndOfStream: false) != descriptor.Length
                            || ((descriptor[8] & 0x80) != 0 && !Skip(gif, 3 << ((descriptor[8] & 0x07) + 1)))
                            || gif.ReadByte() < 0
                            || !SkipSubBlocks(gif))
                        {
                            return false;
                        }

                        images++;
                        break;
                    default:
                        return false;
                }
            }
        }

        private static bool SkipSubBlocks(Stream gif)
        {
            while (true)
            {
                var size = gif.ReadByte();
                if (size <= 0)
                {
                    return size == 0;
                }

                if (!Skip(gif, size))
                {
                    return false;
                }
            }
        }

        private static bool Skip(Stream gif, int count)
        {
            Span<byte> skipped = stackalloc byte[256];
            while (count > 0)
            {
                var read = gif.Read(skipped[..Math.Min(count, skipped.Length)]);
                if (read == 0)
                {
                    return false;
                }

                count -= read;
            }

            return true;
        }
    }
}
