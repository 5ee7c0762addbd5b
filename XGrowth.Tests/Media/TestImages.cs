using System.Net.Http.Headers;
using SkiaSharp;

namespace XGrowth.Tests.Media;

/// <summary>Image files made in the test: encoded by SkiaSharp (JPEG, PNG, WebP) or built by hand (GIF, which Skia cannot encode).</summary>
public static class TestImages
{
    /// <summary>A picture of noise (seeded): it does not compress, so its file is large and every byte of it matters.</summary>
    public static byte[] Encode(SKEncodedImageFormat format, int width, int height, int quality = 90, int seed = 1)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var pixels = new byte[bitmap.ByteCount];
        new Random(seed).NextBytes(pixels);
        for (var i = 3; i < pixels.Length; i += 4)
        {
            pixels[i] = 255;
        }

        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }

    public static byte[] Png(int width, int height, int seed = 1) => Encode(SKEncodedImageFormat.Png, width, height, 100, seed);

    public static byte[] Jpeg(int width, int height, int seed = 1) => Encode(SKEncodedImageFormat.Jpeg, width, height, 90, seed);

    public static byte[] Webp(int width, int height, int seed = 1) => Encode(SKEncodedImageFormat.Webp, width, height, 80, seed);

    /// <summary>A valid JPEG of exactly <paramref name="bytes"/> bytes: a small one with comment (COM) segments after its start.</summary>
    public static byte[] JpegOfSize(long bytes)
    {
        var small = Jpeg(64, 64);
        using var file = new MemoryStream();
        file.Write(small.AsSpan(0, 2));
        var padding = bytes - small.Length;
        while (padding > 0)
        {
            // A segment is its marker (2 bytes), its length (2, counting itself) and at most 65,533 bytes of comment.
            var body = (int)Math.Min(65_533, padding - 4);
            if (body < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(bytes), "Too close to the small JPEG's size.");
            }

            file.Write([0xFF, 0xFE, (byte)((body + 2) >> 8), (byte)(body + 2)]);
            file.Write(new byte[body]);
            padding -= body + 4;
        }

        file.Write(small.AsSpan(2));
        return file.ToArray();
    }

    /// <summary>
    /// A GIF89a of <paramref name="width"/>×<paramref name="height"/> in two colors (a checkerboard), and
    /// <paramref name="commentBytes"/> of comment extension blocks to make it as large as a test needs.
    /// </summary>
    public static byte[] Gif(int width, int height, long commentBytes = 0, bool withTrailer = true)
    {
        using var gif = new MemoryStream();
        gif.Write("GIF89a"u8);
        gif.Write([(byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), 0x80, 0, 0]);
        gif.Write([0, 0, 0, 255, 255, 255]);
        while (commentBytes > 0)
        {
            gif.Write([0x21, 0xFE]);
            for (var inBlock = 0; inBlock < 200 && commentBytes > 0; inBlock++)
            {
                var size = (int)Math.Min(255, commentBytes);
                gif.WriteByte((byte)size);
                gif.Write(new byte[size]);
                commentBytes -= size;
            }

            gif.WriteByte(0);
        }

        gif.Write([0x2C, 0, 0, 0, 0, (byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), 0]);
        gif.WriteByte(2);
        var data = Lzw(width, height);
        for (var offset = 0; offset < data.Length; offset += 255)
        {
            var size = Math.Min(255, data.Length - offset);
            gif.WriteByte((byte)size);
            gif.Write(data.AsSpan(offset, size));
        }

        gif.WriteByte(0);
        if (withTrailer)
        {
            gif.WriteByte(0x3B);
        }

        return gif.ToArray();
    }

    /// <summary>
    /// The pixels as GIF LZW codes with a minimum code size of 2: each pixel a literal code, and a clear code every two
    /// pixels, so the code table never grows past 3-bit codes (valid, if not small).
    /// </summary>
    private static byte[] Lzw(int width, int height)
    {
        const int clear = 4, end = 5, bits = 3;
        var output = new List<byte>();
        int buffer = 0, count = 0;
        void Emit(int code)
        {
            buffer |= code << count;
            count += bits;
            while (count >= 8)
            {
                output.Add((byte)buffer);
                buffer >>= 8;
                count -= 8;
            }
        }

        for (var i = 0; i < width * height; i++)
        {
            if (i % 2 == 0)
            {
                Emit(clear);
            }

            Emit(((i % width) + (i / width)) % 2);
        }

        Emit(end);
        if (count > 0)
        {
            output.Add((byte)buffer);
        }

        return [.. output];
    }

    /// <summary>A multipart upload of <paramref name="file"/> named <paramref name="fileName"/>, declared as <paramref name="contentType"/>.</summary>
    public static MultipartFormDataContent Form(byte[] file, string fileName = "image.png", string contentType = "image/png", string? altText = null)
    {
        var form = new MultipartFormDataContent();
        var part = new ByteArrayContent(file);
        part.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        form.Add(part, "file", fileName);
        if (altText is not null)
        {
            form.Add(new StringContent(altText), "altText");
        }

        return form;
    }
}
