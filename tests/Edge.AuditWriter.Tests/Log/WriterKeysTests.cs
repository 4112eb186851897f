using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.AuditWriter.Tests.Log;

public sealed class WriterKeysTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-writer-keys-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Load_ManyWritersStartAtOnceOnANewPath_AllLoadTheSameSigningKey()
    {
        var options = new WriterOptions { KeyPath = Path.Combine(_directory, "keys", "writer.key"), Origin = "test/keys" };
        using var start = new ManualResetEventSlim();

        var loads = Enumerable.Range(0, 16).Select(_ => Task.Run(() =>
        {
            start.Wait();
            return WriterKeys.Load(options, NullLogger.Instance);
        })).ToArray();
        start.Set();
        var signers = await Task.WhenAll(loads);

        var verifiers = signers.Select(s => Assert.Single(s).Verifier.ToString()).Distinct().ToList();
        Assert.Equal([File.ReadAllText(options.KeyPath + ".pub").Trim()], verifiers);
    }
}
