using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Microsoft.Data.Sqlite;

namespace Edge.Cli.Audit;

/// <summary><c>edge audit verify|prove|query|export</c>.</summary>
internal static class AuditCommands
{
    public static Command Build() => new("audit", "Verify and read the audit log") { BuildVerify(), AuditProveCommand.Create(), AuditConsistencyCommand.Create(), BuildQuery(), BuildExport() };

    private static Command BuildVerify()
    {
        var store = new Option<FileInfo?>("--store") { Description = "The writer's SQLite file (recompute the tree, check every stored checkpoint)" };
        var postgres = new Option<string?>("--postgres")
        {
            Description = "The writer's PostgreSQL store: an Npgsql connection string, or env:NAME / file:/path holding one (same checks as --store)",
        };
        var export = new Option<FileInfo?>("--export") { Description = "Offline: an NDJSON export from index 0 (one leaf per line)" };
        var checkpoint = new Option<FileInfo?>("--checkpoint") { Description = "Offline: a saved signed checkpoint (GET /audit/checkpoint)" };
        var bundle = new Option<FileInfo?>("--bundle") { Description = "Offline: an export bundle (GET /audit/export?format=bundle); checks every record's inclusion proof" };
        var key = new Option<string?>("--key")
        {
            Description = "Trusted verifier key(s): '<name>+<id>+<key>' or a file with one per line (GET /audit/key); "
                + "required except with --bundle, which otherwise uses the key inside the bundle",
        };
        var command = new Command("verify", "Recompute the Merkle tree and check signed checkpoints; reports the first bad index")
        {
            store, postgres, export, checkpoint, bundle, key,
        };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var bundleFile = parse.GetValue(bundle);
            var keyText = parse.GetValue(key);
            List<NoteVerifier>? verifiers = null;
            if (keyText is null && bundleFile is null)
            {
                error.WriteLine("error: --key is required (except with --bundle).");
                return AuditExitCodes.UsageError;
            }

            if (keyText is not null && !TryLoadVerifiers(keyText, out verifiers, out var keyError))
            {
                error.WriteLine($"error: {keyError}");
                return AuditExitCodes.UsageError;
            }

            if (bundleFile is not null)
            {
                if (parse.GetValue(store) is not null || parse.GetValue(postgres) is not null || parse.GetValue(export) is not null || parse.GetValue(checkpoint) is not null)
                {
                    error.WriteLine("error: give either --store, --postgres, or --export with --checkpoint, or --bundle.");
                    return AuditExitCodes.UsageError;
                }

                return VerifyBundle(bundleFile, verifiers, output, error);
            }

            var storeFile = parse.GetValue(store);
            var exportFile = parse.GetValue(export);
            var checkpointFile = parse.GetValue(checkpoint);
            if (parse.GetValue(postgres) is { } connection)
            {
                if (storeFile is not null || exportFile is not null || checkpointFile is not null)
                {
                    error.WriteLine("error: give either --store, --postgres, or --export with --checkpoint, or --bundle.");
                    return AuditExitCodes.UsageError;
                }

                return VerifyPostgres(connection, verifiers!, output, error);
            }
            var inputs = storeFile is not null && exportFile is null && checkpointFile is null ? [storeFile]
                : exportFile is not null && checkpointFile is not null && storeFile is null ? new[] { exportFile, checkpointFile }
                : null;
            if (inputs is null)
            {
                error.WriteLine("error: give either --store, --postgres, or --export with --checkpoint, or --bundle.");
                return AuditExitCodes.UsageError;
            }

            if (inputs.FirstOrDefault(f => !f.Exists) is { } missing)
            {
                error.WriteLine($"error: no file at {missing.FullName}");
                return AuditExitCodes.UsageError;
            }

            VerificationReport report;
            try
            {
                if (storeFile is not null)
                {
                    using var opened = AuditStore.OpenReadOnly(storeFile.FullName);
                    report = LogVerifier.VerifyStore(opened, verifiers!);
                }
                else
                {
                    report = LogVerifier.VerifyExport(ExportLines.Read(exportFile!.FullName), CheckpointText(File.ReadAllText(checkpointFile!.FullName)), verifiers!);
                }
            }
            catch (SqliteException ex)
            {
                // A store SQLite cannot read is not a verified log: report it as a failure, not a usage error.
                output.WriteLine($"FAIL: the store cannot be read: {ex.Message}");
                return AuditExitCodes.VerificationFailed;
            }
            catch (InvalidDataException ex) when (storeFile is null)
            {
                output.WriteLine($"FAIL: {ex.Message}");
                return AuditExitCodes.VerificationFailed;
            }
            catch (Exception ex) when (storeFile is null && ex is IOException or UnauthorizedAccessException)
            {
                // Nothing was checked (an unreadable file): an input error with one line, not the runtime's stack trace.
                error.WriteLine($"error: --export {exportFile!.FullName} or --checkpoint {checkpointFile!.FullName} cannot be read: {ex.Message}");
                return AuditExitCodes.UsageError;
            }

            return Report(report, output);
        });
        return command;
    }

    private static int VerifyPostgres(string connection, IReadOnlyCollection<NoteVerifier> verifiers, TextWriter output, TextWriter error)
    {
        var inline = !Edge.Configuration.SecretReference.IsReference(connection);
        if (!inline && !Edge.Configuration.SecretReference.TryResolve(connection, out connection, out var referenceError))
        {
            error.WriteLine($"error: --postgres: {referenceError}");
            return AuditExitCodes.UsageError;
        }

        // A typo in the option is a usage error (nothing was connected to or checked), not a log that failed verification;
        // Npgsql's message names the key or position, never a value such as a password.
        Npgsql.NpgsqlConnectionStringBuilder parsed;
        try
        {
            parsed = new Npgsql.NpgsqlConnectionStringBuilder(connection);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            error.WriteLine($"error: --postgres is not a usable connection string: {ex.Message}");
            return AuditExitCodes.UsageError;
        }

        // As Writer:Postgres: a password on the command line is read by every user of the machine (ps, shell history).
        if (inline && !string.IsNullOrEmpty(parsed.Password))
        {
            error.WriteLine("error: --postgres holds a password inline; give the connection string as env:NAME or file:/path (or the password in PGPASSWORD or a Passfile)");
            return AuditExitCodes.UsageError;
        }

        VerificationReport report;
        try
        {
            using var opened = PostgresAuditStore.OpenReadOnly(connection);
            report = LogVerifier.VerifyStore(opened, verifiers);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or InvalidOperationException or ArgumentException)
        {
            // A store that cannot be read is not a verified log: a failure, not a usage error. The message names no password.
            output.WriteLine($"FAIL: the store cannot be read: {ex.Message}");
            return AuditExitCodes.VerificationFailed;
        }

        return Report(report, output);
    }

    private static int Report(VerificationReport report, TextWriter output)
    {
        if (report.Valid)
        {
            output.WriteLine((report.PrunedRecords == 0
                ? $"OK: {report.RecordsChecked} records, {report.CheckpointsChecked} checkpoints verified"
                : $"OK: {report.RecordsChecked} records ({report.PrunedRecords} pruned to their leaf hash: included, content no longer checkable; each named by the retention or erasure record that pruned it"
                    + (report.UnattributedPrunedRecords == 0
                        ? ""
                        : $", except {report.UnattributedPrunedRecords} pruned by an earlier writer whose records named no indices")
                    + (report.PrunedNamedOnlyAfterCheckpoint == 0
                        ? ""
                        : $"; {report.PrunedNamedOnlyAfterCheckpoint} named only by lines after the checkpoint's size, NOT checked: verify with a later checkpoint")
                    + $"), {report.CheckpointsChecked} checkpoints verified")
                + (report.UncheckedRecords == 0
                    ? ""
                    : $"; {report.UncheckedRecords} further lines after the checkpoint's size NOT checked (no signed root covers them: verify them with a later checkpoint)"));
            return AuditExitCodes.Verified;
        }

        output.WriteLine(report.FirstBadIndex is { } bad
            ? $"FAIL: first bad index {bad}: {report.Problem}"
            : $"FAIL: {report.Problem}");
        return AuditExitCodes.VerificationFailed;
    }

    private static int VerifyBundle(FileInfo file, IReadOnlyCollection<NoteVerifier>? trusted, TextWriter output, TextWriter error)
    {
        if (!file.Exists)
        {
            error.WriteLine($"error: no file at {file.FullName}");
            return AuditExitCodes.UsageError;
        }

        BundleReport report;
        using (var stream = file.OpenRead())
        {
            report = BundleVerifier.Verify(stream, trusted);
        }

        if (!report.Valid)
        {
            output.WriteLine(report.FirstBadIndex is { } bad ? $"FAIL: first bad index {bad}: {report.Problem}" : $"FAIL: {report.Problem}");
            return AuditExitCodes.VerificationFailed;
        }

        if (report.UsedBundledKey)
        {
            // The key inside the bundle proves only that the bundle is self-consistent; authenticity needs a key from elsewhere.
            error.WriteLine("warning: the checkpoint signature was checked with the key inside the bundle; pass --key with the writer's key obtained out of band to check who signed it.");
        }

        if (report.RecordsChecked == 0)
        {
            // A filter that matched nothing (or a wrong tenant) still yields a signed checkpoint; "OK" alone reads as if
            // records had been checked.
            error.WriteLine("warning: the bundle holds no records: only the checkpoint's signature was checked.");
        }

        var checkpoint = report.Checkpoint!;
        var prunedNote = report.PrunedRecords == 0 ? "" : $" ({report.PrunedRecords} pruned to their leaf hash: included, content no longer checkable)";
        output.WriteLine($"OK: {report.RecordsChecked} records{prunedNote}, each with an inclusion proof to the signed checkpoint "
            + $"(origin {checkpoint.Origin}, size {checkpoint.Size}, root {Convert.ToHexStringLower(checkpoint.Root)})");
        return AuditExitCodes.Verified;
    }

    private static Command BuildQuery()
    {
        var common = new ApiOptions();
        var filters = new[] { "id", "tenant", "principal", "route", "decision", "reason", "from", "to", "cursor", "limit" }
            .Select(name => new Option<string?>("--" + name) { Description = $"The {name} filter of GET /audit/records" })
            .ToArray();
        var all = new Option<bool>("--all") { Description = "Follow the cursor through every page" };
        var command = new Command("query", "Query records (newest first) through the writer's API; one JSON object per line");
        common.AddTo(command);
        foreach (var filter in filters)
        {
            command.Add(filter);
        }

        command.Add(all);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = common.CreateClient(parse);
            if (client is null)
            {
                return AuditExitCodes.UsageError;
            }

            var query = string.Join('&', filters
                .Where(f => f.Name != "--cursor" && parse.GetValue(f) is not null)
                .Select(f => $"{f.Name[2..]}={Uri.EscapeDataString(parse.GetValue(f)!)}"));
            var cursor = parse.GetValue(filters.Single(f => f.Name == "--cursor"));
            try
            {
                return await QueryAsync(client, query, cursor, parse.GetValue(all), parse.InvocationConfiguration, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException || IsClientTimeout(ex, cancellationToken))
            {
                return WriterUnreachable(client, ex, parse.InvocationConfiguration.Error);
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: the writer's answer is not a page of records: {ex.Message}");
                return AuditExitCodes.ApiError;
            }
        });
        return command;
    }

    private static async Task<int> QueryAsync(HttpClient client, string query, string? cursor, bool all, InvocationConfiguration console, CancellationToken cancellationToken)
    {
        do
        {
            var url = "/audit/records?" + query + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            using var response = await client.GetAsync(url, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                console.Error.WriteLine($"error: {HttpFailure(client, response, body)}");
                return AuditExitCodes.ApiError;
            }

            using var page = JsonDocument.Parse(body, PageJson);
            foreach (var record in page.RootElement.GetProperty("records").EnumerateArray())
            {
                console.Output.WriteLine(record.GetRawText());
            }

            var next = page.RootElement.GetProperty("next");
            cursor = next.ValueKind == JsonValueKind.Null ? null : next.GetString();
        }
        while (all && cursor is not null);

        return AuditExitCodes.Verified;
    }

    /// <summary>
    /// A saved checkpoint note with its line breaks as LF, the only form it is signed in. Kept in a repository, git's
    /// core.autocrlf (or a Windows editor) writes CRLF, and the note read as is had "no signature block": verify and
    /// consistency answered FAIL, exit 1, for a checkpoint that was not altered. A note never holds a CR (the origin
    /// cannot), so turning CRLF back into LF can only give the bytes that were signed, never make a forgery verify.
    /// </summary>
    internal static string CheckpointText(string saved) => saved.Replace("\r\n", "\n", StringComparison.Ordinal);

    /// <summary>
    /// A page of <c>/audit/records</c> holds each record three levels down (answer, records, record), and ingest takes a
    /// leaf up to 64 levels deep: read at the default depth of 64, one such record made <c>query</c> exit 3 and <c>prove</c>
    /// report a record the writer stored and serves as FAIL. Room for the page's own levels, as the writer writes it.
    /// </summary>
    internal static readonly JsonDocumentOptions PageJson = new() { MaxDepth = 64 + 8 };

    /// <summary>
    /// The status and body of a refused request. A 401 to a client that sent no credentials also says which variable to set:
    /// an unset EDGE_AUDIT_API_KEY otherwise showed only the writer's "Valid auditor credentials are required".
    /// </summary>
    internal static string HttpFailure(HttpClient client, HttpResponseMessage response, string body)
    {
        var failure = $"{(int)response.StatusCode} {body}";
        return response.StatusCode == System.Net.HttpStatusCode.Unauthorized && !client.DefaultRequestHeaders.Any()
            ? failure + Environment.NewLine + ApiOptions.NoCredentialsHint
            : failure;
    }

    /// <summary>Exit 3 with one line, as <c>prove</c> and <c>consistency</c> do, instead of the runtime's stack trace and 1 (which means "verification failed").</summary>
    internal static int WriterUnreachable(HttpClient client, Exception ex, TextWriter error)
    {
        error.WriteLine(ex is TaskCanceledException
            ? $"error: the writer at {client.BaseAddress} did not answer within {client.Timeout.TotalSeconds:0.###} s (--timeout)."
            : $"error: the writer at {client.BaseAddress} cannot be reached: {ex.Message}");
        return AuditExitCodes.ApiError;
    }

    /// <summary>HttpClient's own timeout, not the user's Ctrl+C: the writer was asked and did not answer in time.</summary>
    internal static bool IsClientTimeout(Exception ex, CancellationToken cancellationToken) =>
        ex is TaskCanceledException { InnerException: TimeoutException } && !cancellationToken.IsCancellationRequested;

    private static Command BuildExport()
    {
        var common = new ApiOptions();
        var format = new Option<string>("--format") { Description = "ndjson, csv or bundle (a tar archive that 'verify --bundle' checks offline)", DefaultValueFactory = _ => "ndjson" };
        format.AcceptOnlyFromAmong("csv", "ndjson", "bundle");
        var filters = new[] { "id", "from", "to", "tenant", "principal", "route", "decision", "reason" }
            .Select(name => new Option<string?>("--" + name) { Description = $"The {name} filter of GET /audit/export (as for /audit/records)" })
            .ToArray();
        var output = new Option<FileInfo?>("--out") { Description = "Write to this file instead of standard output" };
        var command = new Command("export", "Stream an NDJSON, CSV or bundle export through the writer's API") { format, output };
        foreach (var filter in filters)
        {
            command.Add(filter);
        }

        common.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(format) == "bundle" && parse.GetValue(output) is null)
            {
                // A tar archive is binary; standard output here is a text writer that would re-encode it.
                parse.InvocationConfiguration.Error.WriteLine("error: --format bundle needs --out <file>.");
                return AuditExitCodes.UsageError;
            }

            using var client = common.CreateClient(parse);
            if (client is null)
            {
                return AuditExitCodes.UsageError;
            }

            var url = $"/audit/export?format={parse.GetValue(format)}" + string.Concat(filters
                .Where(f => parse.GetValue(f) is not null)
                .Select(f => $"&{f.Name[2..]}={Uri.EscapeDataString(parse.GetValue(f)!)}"));
            var file = parse.GetValue(output);
            try
            {
                return await ExportAsync(client, url, parse.GetValue(format)!, file, parse.InvocationConfiguration, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException || IsClientTimeout(ex, cancellationToken))
            {
                return WriterUnreachable(client, ex, parse.InvocationConfiguration.Error);
            }
            catch (Exception ex) when (ex is HttpIOException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // The answer broke off: what was written is a truncated export, not one to verify.
                if (file is not null)
                {
                    File.Delete(file.FullName);
                }

                parse.InvocationConfiguration.Error.WriteLine(ex is OperationCanceledException
                    ? $"error: the export from {client.BaseAddress} stalled: nothing arrived for {client.Timeout.TotalSeconds:0.###} s (--timeout); the partial export was removed."
                    : $"error: the export from {client.BaseAddress} broke off: {ex.Message}");
                return AuditExitCodes.ApiError;
            }
            catch (Exception ex) when (file is not null && ex is IOException or UnauthorizedAccessException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: --out {file.FullName} cannot be written: {ex.Message}");
                return AuditExitCodes.UsageError;
            }
        });
        return command;
    }

    private static async Task<int> ExportAsync(HttpClient client, string url, string format, FileInfo? file, InvocationConfiguration console, CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            idle.CancelAfter(client.Timeout);
            console.Error.WriteLine($"error: {HttpFailure(client, response, await response.Content.ReadAsStringAsync(idle.Token).ConfigureAwait(false))}");
            return AuditExitCodes.ApiError;
        }

        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var lines = 0L;
        bool empty;
        if (file is not null)
        {
            // A CSV holds the principals the writer decrypted, and any export every tenant's paths: created like the store
            // (0640) rather than with the umask (0644 by default: readable by every user of the machine). An existing
            // file keeps its mode.
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
            }

            await using (var target = new FileStream(file.FullName, options))
            {
                var buffer = new byte[64 * 1024];
                int read;
                while ((read = await ReadWithinAsync(body, buffer, client.Timeout, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    lines += buffer.AsSpan(0, read).Count((byte)'\n');
                    await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }
            }

            empty = format == "bundle" ? BundleIsEmpty(file) : EmptyText(format, lines);
        }
        else
        {
            var decoder = Encoding.UTF8.GetDecoder();
            var bytes = new byte[16 * 1024];
            var chars = new char[Encoding.UTF8.GetMaxCharCount(bytes.Length)];
            int read;
            do
            {
                read = await ReadWithinAsync(body, bytes, client.Timeout, cancellationToken).ConfigureAwait(false);
                lines += bytes.AsSpan(0, read).Count((byte)'\n');
                var decoded = decoder.GetChars(bytes, 0, read, chars, 0, flush: read == 0);
                await console.Output.WriteAsync(chars.AsMemory(0, decoded), cancellationToken).ConfigureAwait(false);
            }
            while (read > 0);
            empty = EmptyText(format, lines);
        }

        if (empty)
        {
            // A tenant no record has (a typo, the wrong customer) and a window without traffic both answer 200 with nothing:
            // said nowhere, an empty file read as "exported". Not an error: no record may be the true answer.
            console.Error.WriteLine("warning: the export holds no records: none that these credentials may read matched the filters.");
        }

        return AuditExitCodes.Verified;
    }

    /// <summary>An NDJSON export is one line per record; a CSV the header line and one or more lines per record.</summary>
    private static bool EmptyText(string format, long lines) => lines <= (format == "csv" ? 1 : 0);

    /// <summary>A bundle holds checkpoint.txt and key.txt, then its first records chunk, or manifest.json when it has none.</summary>
    private static bool BundleIsEmpty(FileInfo file)
    {
        try
        {
            using var stream = file.OpenRead();
            using var reader = new System.Formats.Tar.TarReader(stream);
            for (var entry = 0; entry < 2; entry++)
            {
                if (reader.GetNextEntry() is null)
                {
                    return false;
                }
            }

            return reader.GetNextEntry()?.Name == Edge.Audit.Bundles.AuditBundle.ManifestEntry;
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException)
        {
            // Not readable as a bundle: verify --bundle says what is wrong with it; this is only a hint.
            return false;
        }
    }

    /// <summary>
    /// HttpClient.Timeout ends once the headers arrive; a writer that then stops sending would hold the export forever,
    /// so each read gets the same limit (OperationCanceledException when it passes).
    /// </summary>
    private static async Task<int> ReadWithinAsync(Stream body, byte[] buffer, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        idle.CancelAfter(timeout);
        return await body.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
    }

    /// <summary>The required <c>--key</c> of the commands that check the writer's answers against a key they trust.</summary>
    internal static Option<string> TrustedKeyOption() => new("--key")
    {
        Description = "Trusted verifier key(s): '<name>+<id>+<key>' or a file with one per line (obtain it out of band, not from the writer you check)",
        Required = true,
    };

    internal static bool TryLoadVerifiers(string keyOrFile, out List<NoteVerifier> verifiers, out string? error)
    {
        verifiers = [];
        var isFile = File.Exists(keyOrFile);
        var lines = isFile ? File.ReadAllLines(keyOrFile) : [keyOrFile];
        foreach (var line in lines.Where(l => l.Trim().Length > 0))
        {
            if (!NoteVerifier.TryParse(line, out var verifier, out error))
            {
                // A mistyped key file path read as an inline key said only how a key is written, not that the file is missing.
                // A signing key given inline is not repeated: the error lands in terminals and CI logs.
                error = isFile && NoteVerifier.IsSignerKey(line) ? $"{keyOrFile}: this is the writer's signing key, not a verifier key; pass {keyOrFile}.pub (keep the signing key on the writer host)."
                    : isFile ? $"{keyOrFile}: {error}"
                    : NoteVerifier.IsSignerKey(line) ? $"--key is the writer's signing key, not a verifier key; pass the verifier key (<KeyPath>.pub on the writer host). Treat the signing key as exposed: it was on a command line."
                    : $"--key '{keyOrFile}' is neither an existing file nor a verifier key. {error}";
                return false;
            }

            verifiers.Add(verifier!);
        }

        error = verifiers.Count == 0 ? "no verifier key given" : null;
        return verifiers.Count > 0;
    }

    /// <summary>--url plus credentials; secrets come from the environment by default, not the command line.</summary>
    internal sealed class ApiOptions
    {
        private readonly Option<string> _url = new("--url") { Description = "The writer's base address", Required = true };
        private readonly Option<string?> _apiKeyHeader = new("--api-key-header") { Description = "API key header", DefaultValueFactory = _ => "X-Api-Key" };
        private readonly Option<string> _apiKeyEnv = new("--api-key-env") { Description = "Environment variable holding the API key", DefaultValueFactory = _ => "EDGE_AUDIT_API_KEY" };
        private readonly Option<string> _tokenEnv = new("--token-env") { Description = "Environment variable holding a bearer token", DefaultValueFactory = _ => "EDGE_AUDIT_TOKEN" };
        private readonly Option<double> _timeout = new("--timeout")
        {
            Description = "Seconds to wait for the writer's answer to start (and, for an export, between two pieces of it)",
            DefaultValueFactory = _ => 100,
        };

        private const int MaxTimeoutSeconds = 86_400;

        internal const string NoCredentialsHint =
            "hint: no credentials were sent: set EDGE_AUDIT_API_KEY (an API key) or EDGE_AUDIT_TOKEN (a bearer token), "
            + "or name another variable with --api-key-env or --token-env.";

        public void AddTo(Command command)
        {
            command.Add(_url);
            command.Add(_apiKeyHeader);
            command.Add(_apiKeyEnv);
            command.Add(_tokenEnv);
            command.Add(_timeout);
        }

        /// <summary>Null (after writing the reason) when --url is not an absolute http(s) address.</summary>
        public HttpClient? CreateClient(ParseResult parse)
        {
            if (!Uri.TryCreate(parse.GetValue(_url), UriKind.Absolute, out var baseAddress) || baseAddress.Scheme is not ("http" or "https"))
            {
                parse.InvocationConfiguration.Error.WriteLine("error: --url must be an absolute http(s) address.");
                return null;
            }

            // HttpClient sends no credentials from a URL, and the URL is repeated in the "cannot be reached" line.
            if (baseAddress.UserInfo.Length > 0)
            {
                parse.InvocationConfiguration.Error.WriteLine(
                    $"error: --url must not carry a user name or password ('user:password@'); give the credential in {parse.GetValue(_tokenEnv)} or {parse.GetValue(_apiKeyEnv)}.");
                return null;
            }

            // A writer that accepts the connection and never answers (stopped, overloaded, a firewall eating packets) would
            // otherwise hold a script forever.
            // Below one tick (1e-8) the span is zero, which HttpClient refuses with an exception: a stack trace and exit 1.
            var seconds = parse.GetValue(_timeout);
            if (!double.IsFinite(seconds) || seconds <= 0 || seconds > MaxTimeoutSeconds || TimeSpan.FromSeconds(seconds) <= TimeSpan.Zero)
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: --timeout must be a number of seconds above 0 and at most {MaxTimeoutSeconds}.");
                return null;
            }

            // HttpClient throws on a header name that is not a token and on a line break in a value (a stack trace and exit 1,
            // which prove and consistency use for "verification failed"), and refuses non-ASCII only when sending, reported
            // as "the writer cannot be reached". A key file saved with CRLF and read with $(cat …) keeps its CR.
            var header = parse.GetValue(_apiKeyHeader) ?? "X-Api-Key";
            var tokenEnv = parse.GetValue(_tokenEnv)!;
            var apiKeyEnv = parse.GetValue(_apiKeyEnv)!;
            var token = Environment.GetEnvironmentVariable(tokenEnv) is { Length: > 0 } bearer ? bearer : null;
            var apiKey = token is null && Environment.GetEnvironmentVariable(apiKeyEnv) is { Length: > 0 } key ? key : null;
            if (apiKey is not null && !IsHeaderName(header))
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: --api-key-header '{header}' is not an HTTP header name.");
                return null;
            }

            if ((token ?? apiKey) is { } credential && !IsHeaderValue(credential))
            {
                parse.InvocationConfiguration.Error.WriteLine(
                    $"error: the credential in {(token is null ? apiKeyEnv : tokenEnv)} holds a character an HTTP header cannot carry (a line break, a control character or non-ASCII); nothing was sent.");
                return null;
            }

            var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(seconds) };
            if (token is not null)
            {
                client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            }
            else if (apiKey is not null)
            {
                client.DefaultRequestHeaders.Add(header, apiKey);
            }

            return client;
        }

        /// <summary>An RFC 9110 token: what HttpClient takes as a header name.</summary>
        private static bool IsHeaderName(string name) =>
            name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal));

        /// <summary>Visible ASCII, spaces and tabs: what HttpClient sends in a header value.</summary>
        private static bool IsHeaderValue(string value) => value.All(c => c == '\t' || c is >= ' ' and <= '~');
    }
}
