using Edge.Configuration;

namespace Edge.Configuration.Tests.Configuration;

public sealed class SecretReferenceTests
{
    [Fact]
    public void TryResolve_EnvironmentVariable_ReturnsValue()
    {
        var name = "EDGE_TEST_SECRET_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(name, "s3cret");
        try
        {
            Assert.True(SecretReference.TryResolve("env:" + name, out var value, out _));
            Assert.Equal("s3cret", value);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public void TryResolve_FileWithTrailingNewline_ReturnsValueWithoutNewline()
    {
        var path = Path.GetTempFileName();
        File.WriteAllText(path, "from-file\n");
        try
        {
            Assert.True(SecretReference.TryResolve("file:" + path, out var value, out _));
            Assert.Equal("from-file", value);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TryResolve_FileIsADirectory_SaysSo()
    {
        var path = Directory.CreateTempSubdirectory().FullName;
        try
        {
            Assert.False(SecretReference.TryResolve("file:" + path, out _, out var error));
            Assert.Equal($"secret file '{path}' is a directory, not a file", error);
        }
        finally
        {
            Directory.Delete(path);
        }
    }

    [Fact]
    public async Task TryResolve_FileIsANamedPipe_SaysSoInsteadOfWaitingForAWriter()
    {
        var path = MakeFifo();
        try
        {
            // Before: opening it blocked until some process wrote to the pipe, which held the edge's reload lock for good.
            var (resolved, error) = await Task.Run(() => (SecretReference.TryResolve("file:" + path, out _, out var e), e)).WaitAsync(TimeSpan.FromSeconds(10));

            Assert.False(resolved);
            Assert.Equal($"secret file '{path}' is a named pipe or socket, not a file", error);
            Assert.Equal((DateTime.MinValue, -1L), await Task.Run(() => FileStamp.Of(path)).WaitAsync(TimeSpan.FromSeconds(10)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A named pipe nobody writes to (mkfifo: .NET has no API that makes one).</summary>
    internal static string MakeFifo()
    {
        var path = Path.Combine(Path.GetTempPath(), "edge-fifo-" + Guid.NewGuid().ToString("N"));
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }

    [Fact]
    public void TryResolve_FileMissing_SaysItDoesNotExist()
    {
        var path = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "secret");

        Assert.False(SecretReference.TryResolve("file:" + path, out _, out var error));
        Assert.Equal($"secret file '{path}' does not exist", error);
    }

    [Fact]
    public void TryResolve_FileIsAnEndlessDevice_FailsWithASizeErrorInsteadOfReadingForever()
    {
        Assert.False(SecretReference.TryResolve("file:/dev/zero", out _, out var error));
        Assert.Contains("larger than 1 MiB", error);
    }

    [Fact]
    public void TryResolve_FileWithUtf8Bom_ReturnsValueWithoutTheBom()
    {
        var path = Path.GetTempFileName();
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "from-file"u8, (byte)'\n']);
        try
        {
            Assert.True(SecretReference.TryResolve("file:" + path, out var value, out _));
            Assert.Equal("from-file", value);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("ENV:GITHUB_WEBHOOK_SECRET", "ENV:")]
    [InlineData("Env:GITHUB_WEBHOOK_SECRET", "Env:")]
    [InlineData("File:/run/secrets/github", "File:")]
    public void TryResolve_PrefixNotLowerCase_SaysToWriteItInLowerCase(string reference, string prefix)
    {
        // Before: "inline secrets are not allowed; use env:NAME or file:/path", to someone who believed they had.
        Assert.False(SecretReference.TryResolve(reference, out _, out var error));

        Assert.Equal($"'{prefix}' is not a secret reference: write the prefix in lower case, env:NAME or file:/path (anything else is taken as an inline secret, which is not allowed)", error);
    }

    [Theory]
    [InlineData("plain-inline-secret")]
    [InlineData("env:EDGE_TEST_SURELY_NOT_SET_5d1c")]
    [InlineData("file:/nonexistent/edge/secret")]
    [InlineData("")]
    public void TryResolve_InlineOrMissing_FailsWithoutEchoingTheValue(string reference)
    {
        Assert.False(SecretReference.TryResolve(reference, out _, out var error));
        Assert.NotEmpty(error);
        if (!SecretReference.IsReference(reference) && reference.Length > 0)
        {
            Assert.DoesNotContain(reference, error);
        }
    }
}
