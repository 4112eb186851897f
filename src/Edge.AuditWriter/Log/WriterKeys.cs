using Edge.Audit.Checkpoints;
using Edge.AuditWriter.Hosting;

namespace Edge.AuditWriter.Log;

internal static partial class WriterKeys
{
    /// <summary>Loads the signing key, generating it (mode 0600, with a .pub beside it) on first start.</summary>
    public static IReadOnlyList<NoteSigner> Load(WriterOptions options, ILogger logger)
    {
        var keyPath = Path.GetFullPath(options.KeyPath);
        if (!File.Exists(keyPath))
        {
            using var generated = NoteSigner.Generate(options.Origin);
            var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(keyPath)!);
                // O_EXCL: of several writers starting at once on a new path (standbys share the key), one creates it.
                using (var writer = new StreamWriter(keyPath, System.Text.Encoding.ASCII, fileOptions))
                {
                    writer.WriteLine(generated.ToString());
                }

                File.WriteAllText(keyPath + ".pub", generated.Verifier + "\n");
                Log.KeyGenerated(logger, keyPath, generated.Verifier.ToString());
            }
            catch (IOException) when (File.Exists(keyPath))
            {
                // Another writer created it first: use theirs.
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A directory at the path, or a folder the writer may not write to.
                throw new InvalidOperationException($"Writer:KeyPath: no key at '{keyPath}', and one cannot be created there: {ex.Message}");
            }
        }

        var signers = new List<NoteSigner> { ReadSetting("Writer:KeyPath", keyPath, ReadSigner) };
        signers.AddRange(options.AdditionalKeyPaths.Select(path =>
            ReadSetting("Writer:AdditionalKeyPaths", Path.GetFullPath(path), file => NoteSigner.Parse(File.ReadAllText(file)))));
        return signers;
    }

    /// <summary>
    /// A key file that is not a key, or cannot be read, is the operator's to restore (never replaced: checkpoints signed
    /// with it must stay verifiable): one line naming the setting and exit 1, not a stack trace and SIGABRT.
    /// </summary>
    private static NoteSigner ReadSetting(string setting, string path, Func<string, NoteSigner> read)
    {
        try
        {
            return read(path);
        }
        catch (FormatException ex)
        {
            throw new InvalidOperationException($"{setting}: '{path}' is not a checkpoint signing key ({ex.Message}); restore the key file from its backup.");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{setting}: '{path}' cannot be read: {ex.Message}");
        }
    }

    /// <summary>
    /// Parses the key file; a writer that lost the creation race may open it between the winner's create and write, so
    /// a key file written in the last two seconds that does not parse yet is read again for up to a second.
    /// </summary>
    private static NoteSigner ReadSigner(string keyPath)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return NoteSigner.Parse(File.ReadAllText(keyPath));
            }
            catch (FormatException) when (attempt < 40 && DateTime.UtcNow - File.GetLastWriteTimeUtc(keyPath) < TimeSpan.FromSeconds(2))
            {
                Thread.Sleep(25);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Generated a new checkpoint signing key at {KeyPath}; verifier key {VerifierKey}")]
        public static partial void KeyGenerated(ILogger logger, string keyPath, string verifierKey);
    }
}
