using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using SkiaSharp;

namespace XGrowth.Bench;

/// <summary>
/// Many large uploads at once: the API process's peak memory and the time they take, for the files that cost the most
/// to check (a GIF decoded whole, a photo, an 8,192 px PNG), with the decode gate at its default
/// (2) and opened wide, to show what the gate bounds.
/// Run: <c>dotnet run -c Release --project bench/MediaUploadBench [-- parallel gates]</c>, e.g. <c>-- 16 2,16</c>.
/// </summary>
internal static class MediaUploadBenchmark
{
    private const string Issuer = "https://bench.clerk.accounts.dev";

    private static async Task Main(string[] args)
    {
        var parallel = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 16;
        var gates = (args.Length > 1 ? args[1] : "2,16").Split(',').Select(g => int.Parse(g, CultureInfo.InvariantCulture)).ToArray();

        var files = new (string Name, byte[] Bytes, string Type)[]
        {
            ("GIF 4,000×3,000 (decoded whole: 46 MiB of pixels)", Gif(4_000, 3_000), "image/gif"),
            ("JPEG photo of noise, 1,600×1,200", Jpeg(1_600, 1_200), "image/jpeg"),
            ("PNG 8,192×2,048 (its data inflated, no pixels held)", Png(8_192, 2_048), "image/png"),
        };
        foreach (var file in files)
        {
            Console.WriteLine($"{file.Name}: {file.Bytes.Length / 1048576.0:0.0} MiB");
        }

        using var signingKey = RSA.Create(2048);
        using var database = await BenchDatabase.StartAsync();
        Console.WriteLine($"{parallel} uploads at once of each file; {Environment.ProcessorCount} cores shared by client, API and PostgreSQL");
        foreach (var gate in gates)
        {
            using var api = await ApiProcess.StartAsync(database.ConnectionString, parallel, new Dictionary<string, string>
            {
                ["Clerk__Issuer"] = Issuer,
                ["Clerk__JwtKey"] = signingKey.ExportSubjectPublicKeyInfoPem(),
                ["Clerk__AuthorizedParties"] = "http://localhost:3000",
                ["Media__MaxConcurrentDecodes"] = gate.ToString(CultureInfo.InvariantCulture),
                ["Media__MaxUnattachedPerUser"] = "100000",
                ["Media__MaxStoredBytesPerUser"] = "100000000000",
                ["RateLimits__WritesPerMinute"] = "100000",
            });
            var token = BenchTokens.Mint(signingKey, Issuer, $"user_media_bench_{gate}");
            async Task<bool> UploadAsync(byte[] bytes, string type)
            {
                using var form = new MultipartFormDataContent();
                var part = new ByteArrayContent(bytes);
                part.Headers.ContentType = new MediaTypeHeaderValue(type);
                form.Add(part, "file", "upload");
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/media") { Content = form };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                using var response = await api.Client.SendAsync(request);
                return response.StatusCode == HttpStatusCode.Created;
            }

            // Warm: the first upload of each kind loads the codecs and compiles the path.
            foreach (var file in files)
            {
                if (!await UploadAsync(file.Bytes, file.Type))
                {
                    throw new InvalidOperationException($"{file.Name} was refused.");
                }
            }

            await Task.Delay(1000);
            Console.WriteLine($"Decode gate {gate}: API resident memory idle after one upload of each: {api.ResidentMiB():0} MiB");
            foreach (var file in files)
            {
                var idle = api.ResidentMiB();
                var peak = idle;
                using var sampling = new CancellationTokenSource();
                var sampler = Task.Run(async () =>
                {
                    while (!sampling.IsCancellationRequested)
                    {
                        peak = Math.Max(peak, api.ResidentMiB());
                        await Task.Delay(10);
                    }
                });
                var result = await Load.RunAsync(parallel, parallel, _ => UploadAsync(file.Bytes, file.Type));
                await sampling.CancelAsync();
                await sampler;
                Console.WriteLine($"  {file.Name}: peak {peak:0} MiB (+{peak - idle:0} over {idle:0}), {result.Count} in {result.Elapsed.TotalSeconds:0.0} s, " +
                    $"p50 {result.Percentile(0.5):0} ms, max {result.SortedLatenciesMs[^1]:0} ms, {result.Errors} refused");
            }
        }
    }

    private static byte[] Jpeg(int width, int height)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var pixels = new byte[bitmap.ByteCount];
        new Random(1).NextBytes(pixels);
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        for (var quality = 95; ; quality -= 5)
        {
            using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, quality);
            if (data.Size <= 5 * 1024 * 1024)
            {
                return data.ToArray();
            }
        }
    }

    private static byte[] Png(int width, int height)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using (var canvas = new SKCanvas(bitmap))
        using (var paint = new SKPaint { Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(width, height), [SKColors.Navy, SKColors.Orange], SKShaderTileMode.Clamp) })
        {
            canvas.DrawRect(0, 0, width, height, paint);
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>A two-color GIF89a whose LZW stream is literal codes only (a clear code every two pixels): valid, quick to make.</summary>
    private static byte[] Gif(int width, int height)
    {
        using var gif = new MemoryStream();
        gif.Write("GIF89a"u8);
        gif.Write([(byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), 0x80, 0, 0, 0, 0, 0, 255, 255, 255]);
        gif.Write([0x2C, 0, 0, 0, 0, (byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), 0, 2]);
        var data = new List<byte>();
        int buffer = 0, count = 0;
        void Emit(int code)
        {
            buffer |= code << count;
            count += 3;
            while (count >= 8)
            {
                data.Add((byte)buffer);
                buffer >>= 8;
                count -= 8;
            }
        }

        for (var i = 0; i < width * height; i++)
        {
            if (i % 2 == 0)
            {
                Emit(4);
            }

            Emit(((i % width) / 64 + (i / width) / 64) % 2);
        }

        Emit(5);
        if (count > 0)
        {
            data.Add((byte)buffer);
        }

        var bytes = data.ToArray();
        for (var offset = 0; offset < bytes.Length; offset += 255)
        {
            var size = Math.Min(255, bytes.Length - offset);
            gif.WriteByte((byte)size);
            gif.Write(bytes.AsSpan(offset, size));
        }

        gif.Write([0, 0x3B]);
        return gif.ToArray();
    }
}
