using System.Text.Json;

namespace Edge.Audit.Verification;

/// <summary>
/// The NDJSON export line that stands for a pruned record: <c>{"pruned":true,"index":n,"leafHash":"&lt;base64&gt;"}</c>.
/// A record line always carries <c>specversion</c>, so the two cannot be confused.
/// </summary>
public static class PrunedExportLine
{
    private static ReadOnlySpan<byte> Prefix => "{\"pruned\":true,"u8;

    public static byte[] Format(long index, byte[] leafHash) =>
        System.Text.Encoding.UTF8.GetBytes($"{{\"pruned\":true,\"index\":{index.ToString(System.Globalization.CultureInfo.InvariantCulture)},\"leafHash\":\"{Convert.ToBase64String(leafHash)}\"}}");

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
            if (!root.TryGetProperty("index", out var indexElement) || !indexElement.TryGetInt64(out index)
                || !root.TryGetProperty("leafHash", out var hashElement) || hashElement.ValueKind != JsonValueKind.String
                || !hashElement.TryGetBytesFromBase64(out var hash) || hash.Length != 32)
            {
                index = -1;
                return true;
            }

            leafHash = hash;
            return true;
        }
        catch (JsonException)
        {
            index = -1;
            return true;
        }
    }
}
