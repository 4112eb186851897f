using System.Text.Json;

namespace Edge.Audit.Verification;

/// <summary>
/// The NDJSON export line that stands for a pruned record: <c>{"pruned":true,"index":n,"leafHash":"&lt;base64&gt;"}</c>,
/// exactly as <see cref="Format"/> writes it. Only that exact spelling is one: the writer accepts records with members of
/// any name, so a record can begin with <c>{"pruned":true,</c> too, and a verifier that took every such line for a
/// pruned one refused a log that was intact.
/// </summary>
public static class PrunedExportLine
{
    private static ReadOnlySpan<byte> Prefix => "{\"pruned\":true,\"index\":"u8;

    public static byte[] Format(long index, byte[] leafHash) =>
        System.Text.Encoding.UTF8.GetBytes($"{{\"pruned\":true,\"index\":{index.ToString(System.Globalization.CultureInfo.InvariantCulture)},\"leafHash\":\"{Convert.ToBase64String(leafHash)}\"}}");

    /// <summary>True with the index and leaf hash when <paramref name="line"/> is a pruned line; false for a record.</summary>
    public static bool TryParse(byte[] line, out long index, out byte[] leafHash)
    {
        ArgumentNullException.ThrowIfNull(line);
        index = -1;
        leafHash = [];
        if (!line.AsSpan().StartsWith(Prefix))
        {
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (!root.TryGetProperty("index", out var indexElement) || !indexElement.TryGetInt64(out var parsedIndex)
                || !root.TryGetProperty("leafHash", out var hashElement) || hashElement.ValueKind != JsonValueKind.String
                || !hashElement.TryGetBytesFromBase64(out var hash) || hash.Length != 32
                || !line.AsSpan().SequenceEqual(Format(parsedIndex, hash)))
            {
                return false;
            }

            index = parsedIndex;
            leafHash = hash;
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
