using System.Security.Cryptography;
using System.Text;
using Edge.AuditWriter.Hosting;

namespace Edge.AuditWriter.Protection;

/// <summary>
/// The writer's subject master key (Writer:SubjectKeyPath, 32 random bytes, generated on first start with mode 0600).
/// Two keys are derived from it with HKDF-SHA256: the key-encryption key that wraps every per-subject data key
/// (AES-256-GCM), and the HMAC-SHA256 key of the blind index, so the store alone reveals neither the personal
/// fields nor which principal a blind index stands for.
/// </summary>
internal sealed partial class SubjectKeyring
{
    public const int DataKeyBytes = 32;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    private readonly byte[] _keyEncryptionKey;
    private readonly byte[] _blindIndexKey;

    // AesGcm is not safe for concurrent use; unwraps come from appends and from readers.
    private readonly object _unwrapLock = new();
    private readonly AesGcm _unwrap;

    private SubjectKeyring(byte[] master)
    {
        _keyEncryptionKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, master, 32, info: "edge-audit subject key wrapping v1"u8.ToArray());
        _blindIndexKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, master, 32, info: "edge-audit blind index v1"u8.ToArray());
        _unwrap = new AesGcm(_keyEncryptionKey, TagBytes);
        CryptographicOperations.ZeroMemory(master);
    }

    public static SubjectKeyring Load(WriterOptions options, ILogger logger)
    {
        var path = Path.GetFullPath(options.SubjectKeyPath);
        if (!File.Exists(path))
        {
            try
            {
                Generate(path, logger);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A directory at the path, or a folder the writer may not write to.
                throw new InvalidOperationException($"Writer:SubjectKeyPath: no key at '{path}', and one cannot be created there: {ex.Message}");
            }
        }

        // Named by its setting, so the host prints one line and exits 1; the key is never replaced (every protected
        // subject is sealed under it).
        byte[] master;
        try
        {
            master = Convert.FromBase64String(ReadKeyText(path));
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"Writer:SubjectKeyPath: the subject key at '{path}' is not base64; restore the key file from its backup.");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Writer:SubjectKeyPath: '{path}' cannot be read: {ex.Message}");
        }

        return master.Length == 32
            ? new SubjectKeyring(master)
            : throw new InvalidOperationException($"Writer:SubjectKeyPath: the subject key at '{path}' must be 32 bytes (base64); restore the key file from its backup.");
    }

    /// <summary>
    /// Creates the key file with O_EXCL (<see cref="FileMode.CreateNew"/>), the one step the file system makes atomic
    /// without overwriting: of several writers starting at once on the same path exactly one creates it and the others
    /// read that key. (A rename of a finished temporary file is not that step on Unix: .NET checks for the target
    /// and then renames, and rename replaces, so two writers could each install a key and load different ones.)
    /// </summary>
    private static void Generate(string path, ILogger logger)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var text = Encoding.ASCII.GetBytes(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) + "\n");
        try
        {
            using var stream = new FileStream(path, fileOptions);
            stream.Write(text);
            stream.Flush(flushToDisk: true);
            Log.KeyGenerated(logger, path);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another writer created it first: use theirs.
        }
    }

    /// <summary>
    /// The key file's text; a writer that lost the creation race may open the file in the microseconds between the
    /// winner's create and write, so a file shorter than a whole key is read again for up to a second before it counts
    /// as malformed.
    /// </summary>
    private static string ReadKeyText(string path)
    {
        const int WholeKeyLength = 44; // base64 of 32 bytes
        var text = File.ReadAllText(path).Trim();
        for (var attempt = 0; text.Length < WholeKeyLength && attempt < 40; attempt++)
        {
            Thread.Sleep(25);
            text = File.ReadAllText(path).Trim();
        }

        return text;
    }

    /// <summary>The keyed blind index of a principal: HMAC-SHA256 under a writer-held key, so it cannot be reversed by dictionary.</summary>
    public byte[] BlindPrincipal(string principal) => Blind("principal", principal);

    /// <summary>Records without a principal are keyed by their client IP, so retention and erasure still reach them.</summary>
    public byte[] BlindClientIp(string clientIp) => Blind("clientIp", clientIp);

    /// <summary>A fresh data key, wrapped under the key-encryption key with the subject's blind index and tenant as associated data.</summary>
    public byte[] CreateWrappedDataKey(byte[] blind, string tenant)
    {
        var dataKey = RandomNumberGenerator.GetBytes(DataKeyBytes);
        try
        {
            return Encrypt(_keyEncryptionKey, dataKey, Associated(blind, tenant));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    /// <summary>
    /// The data key inside <paramref name="wrapped"/>. One key-encryption cipher serves every unwrap (a subject that
    /// missed the key cache costs one per record): its key schedule is made once, not per call.
    /// </summary>
    public byte[] UnwrapDataKey(byte[] wrapped, byte[] blind, string tenant)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        if (wrapped.Length < NonceBytes + TagBytes)
        {
            throw new CryptographicException("Sealed data is too short.");
        }

        var associated = Associated(blind, tenant);
        var dataKey = new byte[wrapped.Length - NonceBytes - TagBytes];
        var sealedBytes = wrapped.AsSpan();
        lock (_unwrapLock)
        {
            _unwrap.Decrypt(sealedBytes[..NonceBytes], sealedBytes[NonceBytes..^TagBytes], sealedBytes[^TagBytes..], dataKey, associated);
        }

        return dataKey;
    }

    /// <summary>AES-256-GCM; returns nonce || ciphertext || tag.</summary>
    public static byte[] Encrypt(byte[] key, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        var output = new byte[NonceBytes + plaintext.Length + TagBytes];
        var nonce = output.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagBytes);
        aes.Encrypt(nonce, plaintext, output.AsSpan(NonceBytes, plaintext.Length), output.AsSpan(NonceBytes + plaintext.Length), associatedData);
        return output;
    }

    /// <summary>An AES-256-GCM cipher over a data key, for sealing many records of one subject with one key schedule.</summary>
    public static AesGcm CreateCipher(ReadOnlySpan<byte> key) => new(key, TagBytes);

    /// <summary>The length of <see cref="Seal"/>'s output for <paramref name="plaintextLength"/> bytes.</summary>
    public static int SealedLength(int plaintextLength) => NonceBytes + plaintextLength + TagBytes;

    /// <summary>AES-256-GCM with a fresh random nonce into <paramref name="output"/>: nonce || ciphertext || tag.</summary>
    public static void Seal(AesGcm cipher, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData, Span<byte> output)
    {
        ArgumentNullException.ThrowIfNull(cipher);
        var nonce = output[..NonceBytes];
        NextNonce(nonce);
        cipher.Encrypt(nonce, plaintext, output.Slice(NonceBytes, plaintext.Length), output.Slice(NonceBytes + plaintext.Length, TagBytes), associatedData);
    }

    // Random nonces drawn from the CSPRNG 256 at a time (one call instead of one per record: each call is an OpenSSL
    // round trip with its error-queue clearing); each is handed out once and wiped from the pool.
    private const int PooledNonces = 256;
    [ThreadStatic] private static byte[]? t_nonces;
    [ThreadStatic] private static int t_noncesLeft;

    private static void NextNonce(Span<byte> nonce)
    {
        var pool = t_nonces ??= new byte[PooledNonces * NonceBytes];
        if (t_noncesLeft == 0)
        {
            RandomNumberGenerator.Fill(pool);
            t_noncesLeft = PooledNonces;
        }

        var next = pool.AsSpan((PooledNonces - t_noncesLeft) * NonceBytes, NonceBytes);
        next.CopyTo(nonce);
        next.Clear();
        t_noncesLeft--;
    }

    /// <summary>Throws <see cref="AuthenticationTagMismatchException"/> when the bytes were altered or the key is wrong.</summary>
    public static byte[] Decrypt(byte[] key, ReadOnlySpan<byte> sealedBytes, ReadOnlySpan<byte> associatedData)
    {
        if (sealedBytes.Length < NonceBytes + TagBytes)
        {
            throw new CryptographicException("Sealed data is too short.");
        }

        var plaintext = new byte[sealedBytes.Length - NonceBytes - TagBytes];
        using var aes = new AesGcm(key, TagBytes);
        aes.Decrypt(sealedBytes[..NonceBytes], sealedBytes[NonceBytes..^TagBytes], sealedBytes[^TagBytes..], plaintext, associatedData);
        return plaintext;
    }

    private byte[] Blind(string kind, string value) =>
        HMACSHA256.HashData(_blindIndexKey, Encoding.UTF8.GetBytes(kind + "\0" + value));

    private static byte[] Associated(byte[] blind, string tenant) => [.. blind, 0, .. Encoding.UTF8.GetBytes(tenant)];

    private static partial class Log
    {
        [LoggerMessage(2120, LogLevel.Warning, "Generated a new subject master key at {KeyPath}; back it up: without it no protected subject can be read")]
        public static partial void KeyGenerated(ILogger logger, string keyPath);
    }
}
