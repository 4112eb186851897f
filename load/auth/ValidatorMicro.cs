#:property PublishAot=false
#:project ../../src/Edge.Configuration/Edge.Configuration.csproj
// Single-threaded cost of one HS256 validation: EdgeCredentialValidator (what EdgeAuthenticate calls) next to a bare
// JsonWebTokenHandler.ValidateTokenAsync with equivalent parameters, to separate the edge's own overhead from the handler's.
// Usage: dotnet run load/auth/ValidatorMicro.cs -c Release
using System.Diagnostics;
using System.Text;
using Edge.Configuration.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

var secret = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48));
Environment.SetEnvironmentVariable("EDGE_MICRO_HS256_KEY", secret);
var key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret));
var policy = new AuthenticationPolicyOptions { Type = "Jwt", Issuer = "https://id.bench", Audience = "edge-bench", SigningKey = "env:EDGE_MICRO_HS256_KEY" };
var validator = EdgeCredentialValidator.Create("bench", policy, new Dictionary<string, IReadOnlyList<string>> { ["Agent"] = ["orders.read"] });
var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
{
    Issuer = "https://id.bench",
    Audience = "edge-bench",
    Claims = new Dictionary<string, object> { ["sub"] = "bench-user", ["roles"] = new[] { "Agent" } },
    Expires = DateTime.UtcNow.AddHours(1),
    SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
});
var context = new DefaultHttpContext();
context.Request.Headers.Authorization = "Bearer " + token;
var handler = new JsonWebTokenHandler { MapInboundClaims = false };
var parameters = new TokenValidationParameters { ValidIssuer = "https://id.bench", ValidAudience = "edge-bench", IssuerSigningKey = key, ValidAlgorithms = ["HS256"] };

const int Operations = 200_000;
double bestValidator = double.MaxValue, bestHandler = double.MaxValue;
for (var round = 0; round < 5; round++)
{
    var stopwatch = Stopwatch.StartNew();
    for (var i = 0; i < Operations; i++)
    {
        if (!(await validator.AuthenticateAsync(context.Request)).Succeeded)
        {
            throw new InvalidOperationException("validation failed");
        }
    }

    bestValidator = Math.Min(bestValidator, stopwatch.Elapsed.TotalMicroseconds / Operations);
    stopwatch.Restart();
    for (var i = 0; i < Operations; i++)
    {
        if (!(await handler.ValidateTokenAsync(token, parameters)).IsValid)
        {
            throw new InvalidOperationException("validation failed");
        }
    }

    bestHandler = Math.Min(bestHandler, stopwatch.Elapsed.TotalMicroseconds / Operations);
}

Console.WriteLine($"best of 5 rounds x {Operations}: EdgeCredentialValidator {bestValidator:F2} us/op, bare JsonWebTokenHandler {bestHandler:F2} us/op");
