#:property PublishAot=false
// Throughput of an authenticated + RBAC route relative to the same route without steps, measured in one run.
// Driven by run.sh (which starts the demo backend, a JWKS file server and the edge); see load/results/auth.md.
// Usage: dotnet run AuthBench.cs -- <edge-url> <jwks-file> <duration-seconds> <concurrency> <rounds>
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

var edge = new Uri(args[0]);
var jwksPath = args[1];
var duration = TimeSpan.FromSeconds(double.Parse(args[2], CultureInfo.InvariantCulture));
var concurrency = int.Parse(args[3], CultureInfo.InvariantCulture);
var rounds = int.Parse(args[4], CultureInfo.InvariantCulture);
var hsKey = Environment.GetEnvironmentVariable("BENCH_HS256_KEY") ?? throw new InvalidOperationException("BENCH_HS256_KEY is not set");

using var rsa = RSA.Create(2048);
using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
var rsaParameters = rsa.ExportParameters(false);
var ecParameters = ecdsa.ExportParameters(false);
File.WriteAllText(jwksPath, JsonSerializer.Serialize(new
{
    keys = new object[]
    {
        new { kty = "RSA", kid = "bench-rsa", use = "sig", alg = "RS256", n = B64(rsaParameters.Modulus!), e = B64(rsaParameters.Exponent!) },
        new { kty = "EC", kid = "bench-ec", use = "sig", alg = "ES256", crv = "P-256", x = B64(ecParameters.Q.X!), y = B64(ecParameters.Q.Y!) },
    },
}));

var tokens = new Dictionary<string, string>
{
    ["HS256"] = Mint("HS256", null, data => HMACSHA256.HashData(Encoding.UTF8.GetBytes(hsKey), data)),
    ["RS256"] = Mint("RS256", "bench-rsa", data => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)),
    ["ES256"] = Mint("ES256", "bench-ec", data => ecdsa.SignData(data, HashAlgorithmName.SHA256)),
};

var scenarios = new (string Name, string Path, string? Token)[]
{
    ("no steps (baseline)", "/bench/plain", null),
    ("no steps, same HS256 token sent (forwarded)", "/bench/plain", tokens["HS256"]),
    ("JWT HS256 + EdgeRequire", "/bench/hs", tokens["HS256"]),
    ("JWT RS256 (JWKS) + EdgeRequire", "/bench/jwks", tokens["RS256"]),
    ("JWT ES256 (JWKS) + EdgeRequire", "/bench/jwks", tokens["ES256"]),
};

using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
{
    BaseAddress = edge,
};

// Warm-up: JIT, connection pool, JWKS fetch. Every scenario must answer 200 before anything is measured.
foreach (var scenario in scenarios)
{
    for (var i = 0; i < 200; i++)
    {
        using var response = await SendAsync(client, scenario.Path, scenario.Token);
        if ((int)response.StatusCode != 200)
        {
            throw new InvalidOperationException($"{scenario.Name}: warm-up got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }
}

// Then a few seconds of load on each so tiered JIT has settled before the first measured round.
foreach (var scenario in scenarios)
{
    await RunAsync(client, scenario.Path, scenario.Token, TimeSpan.FromSeconds(3), concurrency);
}

var totals = scenarios.ToDictionary(s => s.Name, _ => (Ok: 0L, Errors: 0L, Seconds: 0.0));
for (var round = 1; round <= rounds; round++)
{
    // Scenarios alternate within each round so machine noise (other processes on the shared cores) spreads evenly.
    foreach (var scenario in scenarios)
    {
        var (ok, errors, seconds) = await RunAsync(client, scenario.Path, scenario.Token, duration, concurrency);
        var total = totals[scenario.Name];
        totals[scenario.Name] = (total.Ok + ok, total.Errors + errors, total.Seconds + seconds);
        Console.Error.WriteLine($"round {round}: {scenario.Name}: {ok / seconds:F0} req/s ({errors} errors)");
    }
}

var baseline = totals[scenarios[0].Name];
var baselineRate = baseline.Ok / baseline.Seconds;
Console.WriteLine("| route | requests (200) | errors | req/s | ratio to baseline |");
Console.WriteLine("|---|---:|---:|---:|---:|");
foreach (var scenario in scenarios)
{
    var (ok, errors, seconds) = totals[scenario.Name];
    var rate = ok / seconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {scenario.Name} | {ok} | {errors} | {rate:F0} | {rate / baselineRate:F3} |"));
}

return 0;

static async Task<(long Ok, long Errors, double Seconds)> RunAsync(HttpClient client, string path, string? token, TimeSpan duration, int concurrency)
{
    long ok = 0, errors = 0;
    var stopwatch = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, concurrency).Select(async _ =>
    {
        while (stopwatch.Elapsed < duration)
        {
            try
            {
                using var response = await SendAsync(client, path, token);
                await response.Content.ReadAsByteArrayAsync();
                if ((int)response.StatusCode == 200)
                {
                    Interlocked.Increment(ref ok);
                }
                else
                {
                    Interlocked.Increment(ref errors);
                }
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref errors);
            }
        }
    }).ToArray();
    await Task.WhenAll(workers);
    return (ok, errors, stopwatch.Elapsed.TotalSeconds);
}

static Task<HttpResponseMessage> SendAsync(HttpClient client, string path, string? token)
{
    var request = new HttpRequestMessage(HttpMethod.Get, path);
    if (token is not null)
    {
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
    }

    return client.SendAsync(request);
}

static string Mint(string algorithm, string? keyId, Func<byte[], byte[]> sign)
{
    var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    var header = keyId is null
        ? JsonSerializer.SerializeToUtf8Bytes(new { alg = algorithm, typ = "JWT" })
        : JsonSerializer.SerializeToUtf8Bytes(new { alg = algorithm, typ = "JWT", kid = keyId });
    var payload = JsonSerializer.SerializeToUtf8Bytes(new
    {
        iss = "https://id.bench",
        aud = "edge-bench",
        sub = "bench-user",
        roles = new[] { "Agent" },
        nbf = now - 5,
        iat = now - 5,
        exp = now + 3600,
    });
    var signingInput = B64(header) + "." + B64(payload);
    return signingInput + "." + B64(sign(Encoding.ASCII.GetBytes(signingInput)));
}

static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
