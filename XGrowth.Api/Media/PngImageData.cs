using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;

namespace XGrowth.Api.Media;

/// <summary>
/// Checks that a PNG's image data is whole without holding its pixels: its chunks are walked to IEND, and its IDAT data
/// inflated through a small buffer, which must give exactly the filtered rows the header announces (each starting with a
/// valid filter type) and end with its checksum. Skia's PNG decoder here cannot decode row by row (its scanline decoding
/// is unimplemented), so decoding with it would hold the whole image (256 MB for an 8,192 px square).
/// </summary>
internal static class PngImageData
{
    private static readonly (int X, int Y, int StepX, int StepY)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    /// <summary>Whether <paramref name="content"/> (seekable; its sides already checked) is a whole PNG.</summary>
    public static bool IsWhole(Stream content)
    {
        if (Chunks(content) is not { } png)
        {
            return false;
        }

        // The rows of the image (or of each interlacing pass) as the filter sees them: a filter byte, then the row's bytes.
        var bitsPerPixel = png.ColorType switch { 0 or 3 => 1, 2 => 3, 4 => 2, 6 => 4, _ => 0 } * png.BitDepth;
        if (bitsPerPixel == 0)
        {
            return false;
        }

        var passes = png.Interlaced
            ? Adam7.Select(p => (Rows: Count(png.Height, p.Y, p.StepY), Width: Count(png.Width, p.X, p.StepX)))
            : [(Rows: png.Height, Width: png.Width)];
        var rows = new Queue<(long Rows, long Bytes)>(passes.Where(p => p.Rows > 0 && p.Width > 0)
            .Select(p => (p.Rows, (p.Width * bitsPerPixel + 7) / 8)));

        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            using var inflated = new ZLibStream(new RangesStream(content, png.Data), CompressionMode.Decompress);
            long leftInRow = 0;
            var (rowsLeft, rowBytes) = rows.Dequeue();
            while (true)
            {
                var read = inflated.Read(buffer);
                if (read == 0)
                {
                    // Every row seen, and the stream ended with its checksum (a wrong one throws).
                    return rowsLeft == 0 && leftInRow == 0 && rows.Count == 0;
                }

                for (var i = 0; i < read;)
                {
                    if (leftInRow > 0)
                    {
                        var taken = (int)Math.Min(leftInRow, read - i);
                        i += taken;
                        leftInRow -= taken;
                        continue;
                    }

                    if (rowsLeft == 0)
                    {
                        if (!rows.TryDequeue(out var next))
                        {
                            return false; // more data than the header announces
                        }

                        (rowsLeft, rowBytes) = next;
                    }

                    if (buffer[i] > 4)
                    {
                        return false; // not one of the five filter types
                    }

                    i++;
                    rowsLeft--;
                    leftInRow = rowBytes;
                }
            }
        }
        catch (InvalidDataException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static long Count(long size, int start, int step) => size > start ? (size - start + step - 1) / step : 0;

    private sealed record Header(long Width, long Height, int BitDepth, int ColorType, bool Interlaced, List<(long Offset, long Length)> Data);

    /// <summary>The header and where the IDAT data is; null when a chunk runs past the end or IEND is missing.</summary>
    private static Header? Chunks(Stream content)
    {
        Span<byte> chunk = stackalloc byte[8];
        Span<byte> ihdr = stackalloc byte[13];
        Header? header = null;
        content.Position = 8;
        while (content.ReadAtLeast(chunk, chunk.Length, throwOnEndOfStream: false) == chunk.Length)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(chunk);
            var start = content.Position;
            if (length > int.MaxValue || start + length + 4 > content.Length)
            {
                return null;
            }

            var type = chunk[4..];
            if (type.SequenceEqual("IHDR"u8) && length == 13 && header is null)
            {
                content.ReadExactly(ihdr);
                header = new Header(BinaryPrimitives.ReadUInt32BigEndian(ihdr), BinaryPrimitives.ReadUInt32BigEndian(ihdr[4..]),
                    ihdr[8], ihdr[9], ihdr[12] == 1, []);
            }
            else if (type.SequenceEqual("IDAT"u8) && header is not null)
            {
                header.Data.Add((start, length));
            }
            else if (type.SequenceEqual("IEND"u8))
            {
                return header is { Data.Count: > 0 } ? header : null;
            }

            content.Position = start + length + 4;
        }

        return null;
    }

    /// <summary>The IDAT chunks' data, one after the other, read from the file as the inflater asks.</summary>
    private sealed class RangesStream(Stream content, List<(long Offset, long Length)> ranges) : Stream
    {
        private int _range;
        private long _done;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (_range < ranges.Count && _done == ranges[_range].Length)
            {
                (_range, _done) = (_range + 1, 0);
            }

            if (_range == ranges.Count)
            {
                return 0;
            }

            var (offset, length) = ranges[_range];
            content.Position = offset + _done;
            var read = content.Read(buffer[..(int)Math.Min(buffer.Length, length - _done)]);
            _done += read;
            return read;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
