using Edge.Audit.Checkpoints;

namespace Edge.Cli.Tests.Keys;

public sealed class KeyCommandsTests
{
    [Fact]
    public async Task Generate_NewPath_WritesPrivateKeyAndPrintsMatchingVerifierKey()
    {
        var directory = Directory.CreateTempSubdirectory("edge-cli-keys-").FullName;
        var path = Path.Combine(directory, "writer.key");

        var (exitCode, output, _) = await CliRunner.RunAsync("keys", "generate", "--name", "audit.example", "--out", path);
        var again = await CliRunner.RunAsync("keys", "generate", "--name", "audit.example", "--out", path);

        Assert.Equal(0, exitCode);
        using var signer = NoteSigner.Parse(File.ReadAllText(path));
        Assert.Equal(signer.Verifier.ToString(), output.Trim());
        Assert.Equal(output.Trim(), File.ReadAllText(path + ".pub").Trim());
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        Assert.Equal(2, again.ExitCode);
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task Generate_OutUnderAFileNotADirectory_ExitsTwoWithOneLineNoStackTrace()
    {
        var directory = Directory.CreateTempSubdirectory("edge-cli-keys-").FullName;
        var notADirectory = Path.Combine(directory, "plain-file");
        await File.WriteAllTextAsync(notADirectory, "x");
        var path = Path.Combine(notADirectory, "writer.key");

        var (exitCode, output, error) = await CliRunner.RunAsync("keys", "generate", "--name", "audit.example", "--out", path);

        Assert.Equal(2, exitCode);
        Assert.StartsWith($"error: the key cannot be written to {path}: ", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Equal("", output);
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task Generate_VerifierKeyFileAlreadyThere_ExitsTwoAndLeavesBothFilesAlone()
    {
        var directory = Directory.CreateTempSubdirectory("edge-cli-keys-").FullName;
        var path = Path.Combine(directory, "writer.key");
        await File.WriteAllTextAsync(path + ".pub", "the verifier key auditors already hold\n");

        var (exitCode, output, error) = await CliRunner.RunAsync("keys", "generate", "--name", "audit.example", "--out", path);

        Assert.Equal(2, exitCode);
        Assert.Equal($"error: {path}.pub exists; refusing to overwrite a verifier key.", error.Trim());
        Assert.Equal("", output);
        Assert.False(File.Exists(path));
        Assert.Equal("the verifier key auditors already hold\n", await File.ReadAllTextAsync(path + ".pub"));
        Directory.Delete(directory, recursive: true);
    }
}
