using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Protection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.AuditWriter.Tests.Protection;

public sealed class SubjectKeyringTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-subject-key-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Load_ManyWritersStartAtOnceOnANewPath_AllLoadTheSameKey()
    {
        var options = new WriterOptions { SubjectKeyPath = Path.Combine(_directory, "keys", "subject.key") };
        using var start = new ManualResetEventSlim();

        var loads = Enumerable.Range(0, 16).Select(_ => Task.Run(() =>
        {
            start.Wait();
            return SubjectKeyring.Load(options, NullLogger.Instance);
        })).ToArray();
        start.Set();
        var keyrings = await Task.WhenAll(loads);

        var first = Convert.ToHexString(keyrings[0].BlindPrincipal("alice"));
        Assert.All(keyrings, keyring => Assert.Equal(first, Convert.ToHexString(keyring.BlindPrincipal("alice"))));
        Assert.Equal([Path.Combine(_directory, "keys", "subject.key")], Directory.GetFiles(Path.Combine(_directory, "keys")));
    }
}
