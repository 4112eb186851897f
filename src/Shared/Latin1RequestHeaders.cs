using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Net.Http.Headers;

namespace Edge.Shared;

/// <summary>
/// Has Kestrel decode every request header value as Latin-1 (one char per byte, nothing refused or changed), so the host
/// judges the bytes itself. <c>Content-Length</c> is decoded by <see cref="ContentLengthEncoding"/>: with any selector but
/// its default, Kestrel decodes that value into a 20-char stack buffer with the selected encoding, which throws on a
/// longer value (<c>Content-Length: 000000000000000000005</c>); the exception escapes its parser, so the connection was
/// dropped with no answer and no record. Shared by the edge and the audit writer.
/// </summary>
internal static class Latin1RequestHeaders
{
    public static readonly Func<string, Encoding?> Selector = static name =>
        string.Equals(name, HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase) ? ContentLengthEncoding.Instance : Encoding.Latin1;

    public static void Use(KestrelServerOptions options) => options.RequestHeaderEncodingSelector = Selector;

    /// <summary>
    /// Decodes a <c>Content-Length</c> value of ASCII digits only (RFC 9110 §8.6: <c>1*DIGIT</c>). Anything else, and a
    /// value longer than the destination, fills the whole destination with a non-digit: Kestrel refuses a value of more
    /// than 19 chars, or one it cannot parse, as an invalid <c>Content-Length</c> (400, audited like its other refusals).
    /// Its own parse would accept a sign and surrounding spaces (<c>+5</c>), which a stricter hop in front reads otherwise.
    /// </summary>
    internal sealed class ContentLengthEncoding : Encoding
    {
        public static readonly ContentLengthEncoding Instance = new();

        private ContentLengthEncoding()
            : base(Latin1.CodePage)
        {
        }

        public override int GetChars(ReadOnlySpan<byte> bytes, Span<char> chars)
        {
            if (bytes.Length > chars.Length || bytes.IsEmpty || bytes.ContainsAnyExceptInRange((byte)'0', (byte)'9'))
            {
                chars.Fill('x');
                return chars.Length;
            }

            for (var i = 0; i < bytes.Length; i++)
            {
                chars[i] = (char)bytes[i];
            }

            return bytes.Length;
        }

        public override int GetByteCount(char[] chars, int index, int count) => Latin1.GetByteCount(chars, index, count);

        public override int GetBytes(char[] chars, int charIndex, int charCount, byte[] bytes, int byteIndex) =>
            Latin1.GetBytes(chars, charIndex, charCount, bytes, byteIndex);

        public override int GetCharCount(byte[] bytes, int index, int count) => Latin1.GetCharCount(bytes, index, count);

        // Kestrel parses through the span overload above; this one decodes the value faithfully for its refusal's message.
        public override int GetChars(byte[] bytes, int byteIndex, int byteCount, char[] chars, int charIndex) =>
            Latin1.GetChars(bytes, byteIndex, byteCount, chars, charIndex);

        public override int GetMaxByteCount(int charCount) => Latin1.GetMaxByteCount(charCount);

        public override int GetMaxCharCount(int byteCount) => Latin1.GetMaxCharCount(byteCount);
    }
}
