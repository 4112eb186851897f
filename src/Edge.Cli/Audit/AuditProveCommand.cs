using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Merkle;

namespace Edge.Cli.Audit;

/// <summary>
/// <c>edge audit prove --url --id --key</c>: checks, against a trusted verifier key, that one record is in the log the
/// writer's latest signed checkpoint commits to (RFC 9162 inclusion proof), without trusting the writer.
/// </summary>
internal static class AuditProveCommand
{
    public static Command Create()
    {
        var api = new AuditCommands.ApiOptions();
        var id = new Option<string>("--id") { Description = "The record id (the X-Request-Id the client got)", Required = true };
        var key = AuditCommands.TrustedKeyOption();
        var command = new Command("prove", "Fetch a record, its inclusion proof and the signed checkpoint from the writer, and check all three") { id, key };
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

            using var client = api.CreateClient(parse);
            if (client is null)
            {
                return AuditExitCodes.UsageError;
            }

            try
            {
                return await ProveAsync(client, parse.GetValue(id)!, verifiers, output, error, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException || AuditCommands.IsClientTimeout(ex, cancellationToken))
            {
                return AuditCommands.WriterUnreachable(client, ex, error);
            }
            catch (Exception ex) when (ex is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                // The writer answered 200 with something that is not the documented shape: nothing was proven.
                output.WriteLine($"FAIL: the writer's answer is malformed: {ex.Message}");
                return AuditExitCodes.VerificationFailed;
            }
        });
        return command;
    }

    private static async Task<int> ProveAsync(
        HttpClient client, string id, IReadOnlyCollection<NoteVerifier> verifiers, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        // The checkpoint first: the record must be in the tree it signs, so it must be fetched no earlier than the record was written.
        var (checkpointNote, checkpointError) = await GetTextAsync(client, "/audit/checkpoint", cancellationToken).ConfigureAwait(false);
        if (checkpointNote is null)
        {
            error.WriteLine($"error: GET /audit/checkpoint: {checkpointError}");
            return AuditExitCodes.ApiError;
        }

        var opened = SignedNote.Open(checkpointNote, verifiers);
        if (!opened.Valid)
        {
            output.WriteLine($"FAIL: checkpoint signature: {opened.ErrorCode}: {opened.Error}");
            return AuditExitCodes.VerificationFailed;
        }

        var checkpoint = opened.Checkpoint!;
        output.WriteLine($"checkpoint: origin {checkpoint.Origin}, size {checkpoint.Size}, root {Convert.ToHexStringLower(checkpoint.Root)}: signature OK");

        var (recordsBody, recordsError) = await GetTextAsync(client, $"/audit/records?id={Uri.EscapeDataString(id)}&limit=1", cancellationToken).ConfigureAwait(false);
        if (recordsBody is null)
        {
            error.WriteLine($"error: GET /audit/records: {recordsError}");
            return AuditExitCodes.ApiError;
        }

        using var records = JsonDocument.Parse(recordsBody, AuditCommands.PageJson);
        var matches = records.RootElement.GetProperty("records");
        if (matches.GetArrayLength() == 0)
        {
            error.WriteLine($"error: no record with id '{id}' is visible to these credentials (tenant auditors see only their own tenant)");
            return AuditExitCodes.ApiError;
        }

        var record = matches[0];
        var index = record.GetProperty("index").GetInt64();
        var pruned = record.TryGetProperty("pruned", out var prunedElement) && prunedElement.ValueKind == JsonValueKind.True;
        byte[] leafHash;
        if (pruned)
        {
            // Retention or erasure left only the leaf hash: inclusion of that hash can be proved, but not that it belongs to this id.
            if (!record.TryGetProperty("leafHash", out var hashElement) || hashElement.ValueKind != JsonValueKind.String
                || !hashElement.TryGetBytesFromBase64(out var prunedHash) || prunedHash.Length != 32)
            {
                output.WriteLine($"FAIL: the writer says record '{id}' is pruned but gave no valid leaf hash");
                return AuditExitCodes.VerificationFailed;
            }

            leafHash = prunedHash;
        }
        else
        {
            var leaf = Convert.FromBase64String(record.GetProperty("leaf").GetString() ?? "");
            if (record.GetProperty("id").GetString() != id || !LeafHasId(leaf, id))
            {
                output.WriteLine($"FAIL: the writer returned record bytes whose id is not '{id}'");
                return AuditExitCodes.VerificationFailed;
            }

            leafHash = MerkleHasher.HashLeaf(leaf);
            output.WriteLine($"record: id {id}, index {index}, {leaf.Length} bytes, leaf hash {Convert.ToHexStringLower(leafHash)} (SHA-256 of 0x00 || record bytes)");
        }

        if (index >= checkpoint.Size)
        {
            error.WriteLine($"error: record {id} has index {index}, not yet covered by the checkpoint (size {checkpoint.Size}); retry after the next checkpoint");
            return AuditExitCodes.ApiError;
        }

        if (pruned)
        {
            output.WriteLine($"record: id {id}, index {index}, pruned (retention or erasure): only its leaf hash {Convert.ToHexStringLower(leafHash)} remains; "
                + "its inclusion can be proved, its content and id cannot");
        }

        var proofPath = string.Create(CultureInfo.InvariantCulture, $"/audit/proof/inclusion?index={index}&size={checkpoint.Size}");
        var (proofBody, proofError) = await GetTextAsync(client, proofPath, cancellationToken).ConfigureAwait(false);
        if (proofBody is null)
        {
            error.WriteLine($"error: GET /audit/proof/inclusion: {proofError}");
            return AuditExitCodes.ApiError;
        }

        using var proofDocument = JsonDocument.Parse(proofBody);
        var proof = proofDocument.RootElement.GetProperty("proof").EnumerateArray().Select(p => Convert.FromBase64String(p.GetString()!)).ToList();
        var root = InclusionProof.RootFromProof(index, checkpoint.Size, leafHash, proof);
        if (root is null)
        {
            output.WriteLine($"FAIL: the inclusion proof has {proof.Count} hashes, which is not a proof for index {index} in a tree of size {checkpoint.Size}");
            return AuditExitCodes.VerificationFailed;
        }

        if (!CryptographicOperations.FixedTimeEquals(root, checkpoint.Root))
        {
            output.WriteLine($"FAIL: the root computed from the record and its {proof.Count}-hash proof is {Convert.ToHexStringLower(root)}, "
                + "not the signed checkpoint root: the record or the proof was altered");
            return AuditExitCodes.VerificationFailed;
        }

        output.WriteLine(pruned
            ? $"OK: the leaf hash of pruned record {id} (index {index}) is included in the signed checkpoint of size {checkpoint.Size} ({proof.Count}-hash proof)"
            : $"OK: record {id} (index {index}) is included in the signed checkpoint of size {checkpoint.Size} ({proof.Count}-hash proof)");
        return AuditExitCodes.Verified;
    }

    /// <summary>The writer's record listing and the leaf are separate claims: the proof covers only the leaf bytes, so the id must come from them.</summary>
    private static bool LeafHasId(byte[] leaf, string id)
    {
        try
        {
            using var document = JsonDocument.Parse(leaf);
            return document.RootElement.TryGetProperty("id", out var leafId) && leafId.ValueKind == JsonValueKind.String && leafId.GetString() == id;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static async Task<(string? Body, string? Error)> GetTextAsync(HttpClient client, string path, CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync(path, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode ? (body, null) : (null, AuditCommands.HttpFailure(client, response, body));
    }
}
