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

    /// <summary>
    /// A PNG built by hand (RGBA, 8 bits): <paramref name="rows"/> filtered rows as they are compressed (a filter byte and
    /// the row's pixels; with <paramref name="interlaced"/>, the rows of the seven Adam7 passes), so a test can make the
    /// image data wrong in exact ways that the encoders never write.
    /// </summary>
    public static byte[] HandPng(int width, int height, bool interlaced = false, Func<List<byte[]>, List<byte[]>>? rows = null)
    {
        var filtered = new List<byte[]>();
        (int X, int Y, int StepX, int StepY)[] passes = interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)];
        foreach (var (x, y, stepX, stepY) in passes)
        {
            var passWidth = width > x ? (width - x + stepX - 1) / stepX : 0;
            var passHeight = height > y ? (height - y + stepY - 1) / stepY : 0;
            for (var row = 0; passWidth > 0 && row < passHeight; row++)
            {
                var bytes = new byte[1 + passWidth * 4];
                for (var i = 1; i < bytes.Length; i++)
                {
                    bytes[i] = (byte)(i * 7 + row * 13);
                }

                filtered.Add(bytes);
            }
        }

        filtered = rows?.Invoke(filtered) ?? filtered;
        using var compressed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            foreach (var row in filtered)
            {
                zlib.Write(row);
            }
        }

        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = 6;
        ihdr[12] = (byte)(interlaced ? 1 : 0);
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.Write(length);
        byte[] typed = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
        png.Write(typed);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(length, Crc32(typed));
        png.Write(length);
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
            }
        }

        return ~crc;
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
