using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Merkle;

namespace Edge.Cli.Audit;

/// <summary>
/// <c>edge audit consistency --url --old [--new] --key</c>: checks, against a trusted verifier key, that the log a newer
/// signed checkpoint commits to extends the one an older checkpoint committed to (RFC 9162 consistency proof), so a
/// checkpoint kept from earlier catches a writer that rewrote or dropped history since, in O(log n) hashes.
/// </summary>
internal static class AuditConsistencyCommand
{
    public static Command Create()
    {
        var api = new AuditCommands.ApiOptions();
        var old = new Option<FileInfo>("--old") { Description = "A signed checkpoint saved earlier (GET /audit/checkpoint)", Required = true };
        var newer = new Option<FileInfo?>("--new") { Description = "A later signed checkpoint; without it, the writer's latest" };
        var key = AuditCommands.TrustedKeyOption();
        var command = new Command("consistency", "Check that the log only grew between a saved signed checkpoint and a later one") { old, newer, key };
        api.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            if (!AuditCommands.TryLoadVerifiers(parse.GetValue(key)!, out var verifiers, out var keyError))
            {
                error.WriteLine($"error: {keyError}");
                return AuditExitCodes.UsageError;
            }

            var files = new[] { parse.GetValue(old)!, parse.GetValue(newer) }.OfType<FileInfo>().ToList();
            if (files.FirstOrDefault(f => !f.Exists) is { } missing)
            {
                error.WriteLine($"error: no file at {missing.FullName}");
                return AuditExitCodes.UsageError;
            }

            using var client = api.CreateClient(parse);
            if (client is null)
            {
                return AuditExitCodes.UsageError;
            }

            try
            {
                return await CheckAsync(client, parse.GetValue(old)!, parse.GetValue(newer), verifiers, output, error, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException || AuditCommands.IsClientTimeout(ex, cancellationToken))
            {
                return AuditCommands.WriterUnreachable(client, ex, error);
            }
            catch (Exception ex) when (ex is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                output.WriteLine($"FAIL: the writer's answer is malformed: {ex.Message}");
                return AuditExitCodes.VerificationFailed;
            }
        });
        return command;
    }

    private static async Task<int> CheckAsync(
        HttpClient client, FileInfo oldFile, FileInfo? newFile, IReadOnlyCollection<NoteVerifier> verifiers, TextWriter output, TextWriter error,
        CancellationToken cancellationToken)
    {
        var older = SignedNote.Open(AuditCommands.CheckpointText(await File.ReadAllTextAsync(oldFile.FullName, cancellationToken).ConfigureAwait(false)), verifiers);
        if (!older.Valid)
        {
            output.WriteLine($"FAIL: old checkpoint: {older.ErrorCode}: {older.Error}");
            return AuditExitCodes.VerificationFailed;
        }

        string newNote;
        if (newFile is not null)
        {
            newNote = AuditCommands.CheckpointText(await File.ReadAllTextAsync(newFile.FullName, cancellationToken).ConfigureAwait(false));
        }
        else
        {
            using var response = await client.GetAsync("/audit/checkpoint", cancellationToken).ConfigureAwait(false);
            newNote = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                error.WriteLine($"error: GET /audit/checkpoint: {(int)response.StatusCode} {newNote}");
                return AuditExitCodes.ApiError;
            }
        }

        var newer = SignedNote.Open(newNote, verifiers);
        if (!newer.Valid)
        {
            output.WriteLine($"FAIL: new checkpoint: {newer.ErrorCode}: {newer.Error}");
            return AuditExitCodes.VerificationFailed;
        }

        var (from, to) = (older.Checkpoint!, newer.Checkpoint!);
        output.WriteLine($"old checkpoint: origin {from.Origin}, size {from.Size}, root {Convert.ToHexStringLower(from.Root)}: signature OK");
        output.WriteLine($"new checkpoint: origin {to.Origin}, size {to.Size}, root {Convert.ToHexStringLower(to.Root)}: signature OK");
        if (from.Origin != to.Origin)
        {
            output.WriteLine($"FAIL: the checkpoints are of two logs ('{from.Origin}' and '{to.Origin}')");
            return AuditExitCodes.VerificationFailed;
        }

        if (from.Size > to.Size)
        {
            output.WriteLine($"FAIL: the new checkpoint (size {to.Size}) is smaller than the old one (size {from.Size}): the log lost records, or --old and --new are swapped");
            return AuditExitCodes.VerificationFailed;
        }

        if (from.Size == to.Size)
        {
            // Two signed roots of one size decide it alone: a writer rolled back below that size (or one that stopped
            // answering) turned proof of a fork into "the writer refused" (exit 3) when the proof was asked of it.
            if (!CryptographicOperations.FixedTimeEquals(from.Root, to.Root))
            {
                output.WriteLine($"FAIL: two signed checkpoints of size {to.Size} with different roots: the log forked (the same size was signed for two histories)");
                return AuditExitCodes.VerificationFailed;
            }

            output.WriteLine($"OK: the two signed checkpoints of size {to.Size} have the same root");
            return AuditExitCodes.Verified;
        }

        var path = string.Create(CultureInfo.InvariantCulture, $"/audit/proof/consistency?from={from.Size}&to={to.Size}");
        using var proofResponse = await client.GetAsync(path, cancellationToken).ConfigureAwait(false);
        var body = await proofResponse.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!proofResponse.IsSuccessStatusCode)
        {
            error.WriteLine($"error: GET /audit/proof/consistency: {(int)proofResponse.StatusCode} {body}");
            return AuditExitCodes.ApiError;
        }

        using var document = JsonDocument.Parse(body);
        var proof = document.RootElement.GetProperty("proof").EnumerateArray().Select(h => h.GetBytesFromBase64()).ToList();
        if (!ConsistencyProof.Verify(from.Size, to.Size, from.Root, to.Root, proof))
        {
            output.WriteLine($"FAIL: the {proof.Count}-hash consistency proof does not show the tree of size {from.Size} inside the tree of size {to.Size}: "
                + "the log was rewritten between the two checkpoints, or the proof was altered");
            return AuditExitCodes.VerificationFailed;
        }

        output.WriteLine($"OK: the signed log of size {to.Size} extends the signed log of size {from.Size} ({proof.Count}-hash consistency proof)");
        return AuditExitCodes.Verified;
    }
}
