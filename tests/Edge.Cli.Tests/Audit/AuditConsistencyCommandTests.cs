using System.Security.Cryptography;
using Edge.Audit.Checkpoints;
using Edge.AuditWriter.Tests;

namespace Edge.Cli.Tests.Audit;

public sealed class AuditConsistencyCommandTests
{
    private static async Task IngestAsync(WriterFixture writer, int from, int count)
    {
        var leaves = Enumerable.Range(from, count).Select(i => WriterFixture.Leaf($"r{i}", "acme")).ToList();
        using var response = await writer.IngestAsync(leaves, from + count);
        response.EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(from + count);
    }

    private static async Task<string> SaveCheckpointAsync(WriterFixture writer, string name)
    {
        var path = Path.Combine(writer.Directory, name);
        using var client = writer.Client();
        await File.WriteAllTextAsync(path, await client.GetStringAsync("/audit/checkpoint"));
        return path;
    }

    private static Task<(int ExitCode, string Output, string Error)> RunAsync(WriterFixture writer, params string[] args)
    {
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.GlobalAuditorKey);
        return CliRunner.RunAsync(["audit", "consistency", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName, "--key", writer.KeyPath + ".pub", .. args]);
    }

    [Fact]
    public async Task Consistency_SavedCheckpointThenGrowth_ExitsZeroAgainstTheLatestAndASavedNewer()
    {
        await using var writer = await WriterFixture.StartAsync();
        await IngestAsync(writer, 0, 21);
        var old = await SaveCheckpointAsync(writer, "old.txt");
        await IngestAsync(writer, 21, 30);
        var newer = await SaveCheckpointAsync(writer, "new.txt");

        var latest = await RunAsync(writer, "--old", old);
        var saved = await RunAsync(writer, "--old", old, "--new", newer);
        var same = await RunAsync(writer, "--old", newer, "--new", newer);

        Assert.True(latest.ExitCode == 0, latest.Error + latest.Output);
        Assert.Contains("OK: the signed log of size 51 extends the signed log of size 21", latest.Output, StringComparison.Ordinal);
        Assert.Equal(0, saved.ExitCode);
        Assert.Equal(0, same.ExitCode);
    }

    [Fact]
    public async Task Consistency_SavedCheckpointWithCrlfLineEndings_ExitsZero()
    {
        await using var writer = await WriterFixture.StartAsync();
        await IngestAsync(writer, 0, 21);
        var old = await SaveCheckpointAsync(writer, "old.txt");
        // What git's core.autocrlf (or a Windows editor) makes of a checkpoint kept in a repository.
        await File.WriteAllTextAsync(old, (await File.ReadAllTextAsync(old)).Replace("\n", "\r\n", StringComparison.Ordinal));
        await IngestAsync(writer, 21, 30);

        var result = await RunAsync(writer, "--old", old);

        // Before: "FAIL: old checkpoint: malformed_note: The note has no signature block." and exit 1 ("the log must not be
        // trusted") for a checkpoint whose signed text a CR before each line break had hidden, not changed.
        Assert.True(result.ExitCode == 0, result.Error + result.Output);
        Assert.Contains("OK: the signed log of size 51 extends the signed log of size 21", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Consistency_ForkedCheckpointSignedWithTheWritersKey_ExitsOne()
    {
        // What a writer (or whoever holds its key) that rewrote history would show: a signed root at size 21 that the
        // log of today does not extend.
        await using var writer = await WriterFixture.StartAsync();
        await IngestAsync(writer, 0, 51);
        using var signer = NoteSigner.Parse(await File.ReadAllTextAsync(writer.KeyPath));
        var forked = Path.Combine(writer.Directory, "forked.txt");
        await File.WriteAllTextAsync(forked, SignedNote.Sign(new Checkpoint(signer.Name, 21, SHA256.HashData("another history"u8)), [signer]));

        var (exitCode, output, error) = await RunAsync(writer, "--old", forked);

        Assert.True(exitCode == 1, error + output);
        Assert.Contains("signature OK", output, StringComparison.Ordinal);
        Assert.Contains("FAIL: the", output, StringComparison.Ordinal);
        Assert.Contains("rewritten", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Consistency_TwoSignedCheckpointsOfOneSizeWithDifferentRoots_ExitsOneWhateverTheWriterHolds()
    {
        // A writer that signed two trees of size 60 and was then rolled back below 60: the two notes alone prove the fork,
        // and the writer cannot be asked for a proof up to 60 (it answers 400 invalid_proof_range).
        await using var writer = await WriterFixture.StartAsync();
        await IngestAsync(writer, 0, 51);
        using var signer = NoteSigner.Parse(await File.ReadAllTextAsync(writer.KeyPath));
        var first = Path.Combine(writer.Directory, "first.txt");
        var second = Path.Combine(writer.Directory, "second.txt");
        await File.WriteAllTextAsync(first, SignedNote.Sign(new Checkpoint(signer.Name, 60, SHA256.HashData("one history"u8)), [signer]));
        await File.WriteAllTextAsync(second, SignedNote.Sign(new Checkpoint(signer.Name, 60, SHA256.HashData("another history"u8)), [signer]));

        var forked = await RunAsync(writer, "--old", first, "--new", second);
        var same = await RunAsync(writer, "--old", first, "--new", first);

        Assert.True(forked.ExitCode == 1, forked.Error + forked.Output);
        Assert.Contains("FAIL: two signed checkpoints of size 60 with different roots", forked.Output, StringComparison.Ordinal);
        Assert.True(same.ExitCode == 0, same.Error + same.Output);
        Assert.Contains("OK: the two signed checkpoints of size 60 have the same root", same.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Consistency_NewSmallerThanOldOrUnsignedOrMissing_FailsWithTheDocumentedExitCodes()
    {
        await using var writer = await WriterFixture.StartAsync();
        await IngestAsync(writer, 0, 10);
        var small = await SaveCheckpointAsync(writer, "small.txt");
        await IngestAsync(writer, 10, 5);
        var large = await SaveCheckpointAsync(writer, "large.txt");
        var unsigned = Path.Combine(writer.Directory, "unsigned.txt");
        var text = await File.ReadAllTextAsync(small);
        await File.WriteAllTextAsync(unsigned, text[..(text.LastIndexOf("\n\n", StringComparison.Ordinal) + 2)]);

        var swapped = await RunAsync(writer, "--old", large, "--new", small);
        var notSigned = await RunAsync(writer, "--old", unsigned);
        var missing = await RunAsync(writer, "--old", Path.Combine(writer.Directory, "absent.txt"));

        Assert.Equal(1, swapped.ExitCode);
        Assert.Contains("smaller than the old one", swapped.Output, StringComparison.Ordinal);
        Assert.Equal(1, notSigned.ExitCode);
        Assert.StartsWith("FAIL: old checkpoint: malformed_note", notSigned.Output, StringComparison.Ordinal);
        Assert.Equal(2, missing.ExitCode);
    }
}
