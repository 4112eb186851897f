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
            Directory.CreateDirectory(Path.GetDirectoryName(keyPath)!);
            using var generated = NoteSigner.Generate(options.Origin);
            var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var writer = new StreamWriter(keyPath, System.Text.Encoding.ASCII, fileOptions))
            {
                writer.WriteLine(generated.ToString());
            }

            File.WriteAllText(keyPath + ".pub", generated.Verifier + "\n");
            Log.KeyGenerated(logger, keyPath, generated.Verifier.ToString());
        }

        var signers = new List<NoteSigner> { NoteSigner.Parse(File.ReadAllText(keyPath)) };
        signers.AddRange(options.AdditionalKeyPaths.Select(path => NoteSigner.Parse(File.ReadAllText(path))));
        return signers;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Generated a new checkpoint signing key at {KeyPath}; verifier key {VerifierKey}")]
        public static partial void KeyGenerated(ILogger logger, string keyPath, string verifierKey);
    }
}
