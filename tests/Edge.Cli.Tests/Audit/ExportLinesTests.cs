using System.Text;
using Edge.Cli.Audit;

namespace Edge.Cli.Tests.Audit;

public sealed class ExportLinesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(1 << 20)]
    public void Read_LinesAcrossBufferBoundaries_EachLineExactlyAsWritten(int bufferSize)
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, Encoding.UTF8.GetBytes("a\n{\"b\":\"grüße\\r\"}\r\n\n0123456789abcdef\nlast"));

            var lines = ExportLines.Read(path, bufferSize).Select(Encoding.UTF8.GetString).ToList();

            Assert.Equal(["a", "{\"b\":\"grüße\\r\"}\r", "", "0123456789abcdef", "last"], lines);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Read_FinalNewline_NoEmptyLastLine()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, "x\ny\n"u8.ToArray());

            Assert.Equal(["x", "y"], ExportLines.Read(path, 2).Select(Encoding.UTF8.GetString));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
