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
