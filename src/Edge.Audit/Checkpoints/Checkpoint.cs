using System.Globalization;
using System.Text;

namespace Edge.Audit.Checkpoints;

/// <summary>The C2SP tlog-checkpoint body: origin, tree size and root hash.</summary>
public sealed record Checkpoint(string Origin, long Size, byte[] Root)
{
    /// <summary>The note text that signatures cover: three lines, each ending in a newline.</summary>
    public string ToNoteText() =>
        string.Create(CultureInfo.InvariantCulture, $"{Origin}\n{Size}\n{Convert.ToBase64String(Root)}\n");

    public static bool TryParseNoteText(string text, out Checkpoint? checkpoint)
    {
        checkpoint = null;
        if (!text.EndsWith('\n'))
        {
            return false;
        }

        // tlog-checkpoint: at least three lines, and any extension line after them is non-empty.
        var lines = text[..^1].Split('\n');
        if (lines.Length < 3 || lines[0].Length == 0 || lines.AsSpan(3).Contains(string.Empty))
        {
            return false;
        }

        if (!long.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out var size)
            || lines[1] != size.ToString(CultureInfo.InvariantCulture))
        {
            return false;
        }

        var root = new byte[Merkle.MerkleHasher.HashSize];
        // Standard base64 only: the decoder would skip spaces inside the line, which no spec spelling has.
        if (!Convert.TryFromBase64String(lines[2], root, out var written) || written != root.Length || Convert.ToBase64String(root) != lines[2])
        {
            return false;
        }

        checkpoint = new Checkpoint(lines[0], size, root);
        return true;
    }

    internal byte[] ToNoteBytes() => Encoding.UTF8.GetBytes(ToNoteText());
}
