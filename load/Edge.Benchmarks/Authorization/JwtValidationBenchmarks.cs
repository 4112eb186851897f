using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using Edge.Configuration.Authorization;
using Edge.Testing.Signing;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Edge.Benchmarks.Authorization;

/// <summary>
/// One HS256 validation: <see cref="EdgeCredentialValidator"/> (what EdgeAuthenticate calls) next to a bare
/// <see cref="JsonWebTokenHandler"/> with equivalent parameters, separating the edge's own overhead from the handler's.
/// The validator caches validated tokens: the hit case sends one token again and again; the miss case cycles through
/// more distinct tokens than the cache holds (10,000), so every call validates fully and then stores the result.
/// </summary>
[MemoryDiagnoser]
public class JwtValidationBenchmarks
{
    private const string Issuer = "https://id.bench";
    private const string Audience = "edge-bench";
    private readonly string _keyVariable = "EDGE_BENCH_HS256_" + Guid.NewGuid().ToString("N");
    private EdgeCredentialValidator _validator = null!;
    private DefaultHttpContext _context = null!;
    private JsonWebTokenHandler _handler = null!;
    private TokenValidationParameters _parameters = null!;
    private const int MissTokens = 25_000;
    private string _token = "";
    private DefaultHttpContext[] _missContexts = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
        Environment.SetEnvironmentVariable(_keyVariable, secret);
        var key = Encoding.UTF8.GetBytes(secret);
        var policy = new AuthenticationPolicyOptions { Type = "Jwt", Issuer = Issuer, Audience = Audience, SigningKey = "env:" + _keyVariable };
        _validator = EdgeCredentialValidator.Create("bench", policy, new Dictionary<string, IReadOnlyList<string>> { ["Agent"] = ["orders.read"] });
        _token = new JwtMinter(JwtSigningKey.Hs256(key), Issuer, Audience, TimeProvider.System).Mint("bench-user", "acme", ["Agent"], TimeSpan.FromHours(1));
        _context = new DefaultHttpContext();
        _context.Request.Headers.Authorization = "Bearer " + _token;
        _handler = new JsonWebTokenHandler { MapInboundClaims = false };
        _parameters = new TokenValidationParameters
        {
            ValidIssuer = Issuer,
            ValidAudience = Audience,
            IssuerSigningKey = new SymmetricSecurityKey(key),
            ValidAlgorithms = ["HS256"],
        };
        var minter = new JwtMinter(JwtSigningKey.Hs256(key), Issuer, Audience, TimeProvider.System);
        _missContexts = new DefaultHttpContext[MissTokens];
        for (var i = 0; i < MissTokens; i++)
        {
            _missContexts[i] = new DefaultHttpContext();
            _missContexts[i].Request.Headers.Authorization = "Bearer " + minter.Mint("bench-user-" + i, "acme", ["Agent"], TimeSpan.FromHours(1));
        }

        if (!_validator.AuthenticateAsync(_context.Request).AsTask().GetAwaiter().GetResult().Succeeded
            || !_validator.AuthenticateAsync(_missContexts[^1].Request).AsTask().GetAwaiter().GetResult().Succeeded)
        {
            throw new InvalidOperationException("The benchmark token does not validate; the numbers would measure a rejection.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => Environment.SetEnvironmentVariable(_keyVariable, null);

    [Benchmark(Baseline = true)]
    public async Task<bool> BareJsonWebTokenHandler() => (await _handler.ValidateTokenAsync(_token, _parameters)).IsValid;

    [Benchmark]
    public async Task<bool> EdgeCredentialValidator_Hs256_CacheHit() => (await _validator.AuthenticateAsync(_context.Request)).Succeeded;

    [Benchmark]
    public async Task<bool> EdgeCredentialValidator_Hs256_CacheMiss()
    {
        var context = _missContexts[_next];
        _next = _next + 1 == MissTokens ? 0 : _next + 1;
        return (await _validator.AuthenticateAsync(context.Request)).Succeeded;
    }
}
