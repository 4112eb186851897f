using System.CommandLine;
using Edge.Audit.Checkpoints;

namespace Edge.Cli.Keys;

/// <summary><c>edge keys generate</c>: an Ed25519 signed-note key pair for the audit writer.</summary>
internal static class KeyCommands
{
    public static Command Build()
    {
        var name = new Option<string>("--name") { Description = "Key name (the writer uses its Writer:Origin)", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "Where to write the private key (mode 0600); the verifier key goes to <out>.pub", Required = true };
        var generate = new Command("generate", "Generate an Ed25519 checkpoint signing key and print its verifier key") { name, output };
        generate.SetAction(parse =>
        {
            var path = parse.GetValue(output)!.FullName;
            if (File.Exists(path))
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: {path} exists; refusing to overwrite a signing key.");
                return 2;
            }

            // The .pub file is what auditors were given out of band; replacing it silently would make every
            // checkpoint signed by the old key look forged to whoever reads the new one.
            if (File.Exists(path + ".pub"))
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: {path}.pub exists; refusing to overwrite a verifier key.");
                return 2;
            }

            NoteSigner signer;
            try
            {
                signer = NoteSigner.Generate(parse.GetValue(name)!);
            }
            catch (FormatException exception)
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: {exception.Message}");
                return 2;
            }

            using (signer)
            {
                try
                {
                    Write(path, signer);
                }
                catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
                {
                    parse.InvocationConfiguration.Error.WriteLine($"error: the key cannot be written to {path}: {exception.Message}");
                    return 2;
                }

                parse.InvocationConfiguration.Output.WriteLine(signer.Verifier.ToString());
            }

            return 0;
        });

        return new Command("keys", "Key management") { generate };
    }

    private static void Write(string path, NoteSigner signer)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var writer = new StreamWriter(path, System.Text.Encoding.ASCII, options))
        {
            writer.WriteLine(signer.ToString());
        }

        using var verifier = new StreamWriter(path + ".pub", System.Text.Encoding.ASCII, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write });
        verifier.WriteLine(signer.Verifier.ToString());
    }
}
