using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.AuditWriter.Tests;
using Microsoft.Data.Sqlite;

namespace Edge.Cli.Tests.Audit;

public sealed class AuditCommandsTests
{
    private static async Task<WriterFixture> WriterWithRecordsAsync(int count)
    {
        var writer = await WriterFixture.StartAsync();
        for (var batch = 0; batch < count; batch += 25)
        {
            var leaves = Enumerable.Range(batch, Math.Min(25, count - batch))
                .Select(i => WriterFixture.Leaf($"r{i}", i % 2 == 0 ? "acme" : "globex")).ToList();
            using var response = await writer.IngestAsync(leaves, batch + leaves.Count);
            response.EnsureSuccessStatusCode();
            await writer.WaitForCheckpointAsync(batch + leaves.Count);
        }

        return writer;
    }

    private static string KeyFile(WriterFixture writer) => writer.KeyPath + ".pub";

    [Fact]
    public async Task Verify_UntouchedStore_ReportsOk()
    {
        await using var writer = await WriterWithRecordsAsync(100);
        await writer.StopAppAsync();

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));

        Assert.Equal(0, exitCode);
        Assert.StartsWith("OK: 100 records", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_V1StoreFromBeforeSubjectProtection_ReportsOk()
    {
        // Written by the writer before records were protected (schema v1); see Edge.AuditWriter.Tests/Protection/V1StoreTests.
        var fixtures = Path.Combine(AppContext.BaseDirectory, "Protection", "Fixtures");
        var store = Path.Combine(Directory.CreateTempSubdirectory("edge-cli-v1-").FullName, "audit.db");
        File.Copy(Path.Combine(fixtures, "audit-v1-store.sqlite"), store);

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--store", store, "--key", Path.Combine(fixtures, "audit-v1.key.pub"));

        Assert.Equal(0, exitCode);
        Assert.StartsWith("OK: 8 records, 3 checkpoints verified", output, StringComparison.Ordinal);
        Directory.Delete(Path.GetDirectoryName(store)!, recursive: true);
    }

    [Fact]
    public async Task Verify_RecordPrunedByHandInTheStore_FailsNamingIt()
    {
        await using var writer = await WriterWithRecordsAsync(25);
        await writer.StopAppAsync();
        // Exactly what retention does to a record, and what the store's trigger allows; but no retention record names it.
        // Before, this verified as "OK: 25 records (2 pruned …)": a deletion by hand read as one by policy.
        Tamper(writer.StorePath, "UPDATE records SET leaf = X'', principal = NULL WHERE idx IN (3, 4);");

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));

        Assert.Equal(1, exitCode);
        Assert.Contains("FAIL: first bad index 3: record 3 is pruned, but no retention or erasure record names it", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_RecordsPrunedByRetention_ReportsOkAndCountsThem()
    {
        var directory = Directory.CreateTempSubdirectory("edge-writer-").FullName;
        var old = DateTimeOffset.UtcNow.AddDays(-40);
        var filler = await WriterFixture.StartAsync(directory);
        (await filler.IngestAsync(Enumerable.Range(0, 5).Select(i => WriterFixture.Leaf($"old{i}", "acme", time: old)), 5)).EnsureSuccessStatusCode();
        (await filler.IngestAsync([WriterFixture.Leaf("new", "acme")], 6)).EnsureSuccessStatusCode();
        await filler.StopAppAsync();
        await using var writer = await WriterFixture.StartAsync(directory, extraArgs: ["--Writer:Retention:Default=30.00:00:00"]);
        // The run at start: one batch record, then the run's own record.
        await writer.WaitForCheckpointAsync(8);
        await writer.StopAppAsync();

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));

        Assert.Equal(0, exitCode);
        Assert.StartsWith("OK: 8 records (5 pruned to their leaf hash: included, content no longer checkable; each named by the retention or erasure record that pruned it)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_PrunedRecordWithForgedLeafHash_ReportsThatIndexFromTheTiles()
    {
        await using var writer = await WriterWithRecordsAsync(25);
        await writer.StopAppAsync();
        var refused = Assert.Throws<SqliteException>(() => Tamper(writer.StorePath, "UPDATE records SET leaf = X'', leaf_hash = zeroblob(32) WHERE idx = 3;"));
        Tamper(writer.StorePath, "DROP TRIGGER records_prune_only; UPDATE records SET leaf = X'', leaf_hash = zeroblob(32) WHERE idx = 3;");

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));

        Assert.Contains("append-only", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, exitCode);
        // The level-0 tile still holds the hash the writer appended at index 3.
        Assert.Contains("first bad index 3:", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_OneByteOfOneRecordChangedInSqliteFile_ReportsThatIndex()
    {
        await using var writer = await WriterWithRecordsAsync(100);
        await writer.StopAppAsync();
        Tamper(writer.StorePath, """
            DROP TRIGGER records_prune_only;
            UPDATE records SET leaf = CAST(replace(CAST(leaf AS TEXT), '"decision":"allow"', '"decision":"allaw"') AS BLOB) WHERE idx = 42;
            """);

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));

        Assert.Equal(1, exitCode);
        Assert.Contains("first bad index 42", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("decision = CASE decision WHEN 'deny' THEN 'allow' ELSE 'deny' END", "decision")]
    [InlineData("tenant = 'someone-else'", "tenant")]
    [InlineData("route = 'public'", "route")]
    [InlineData("reason = 'rate_limited'", "reason")]
    [InlineData("time_ms = 0", "time_ms")]
    [InlineData("principal = 'mallory'", "principal")]
    public async Task Verify_IndexedColumnRewrittenLeafUntouched_FailsNamingTheColumn(string assignment, string column)
    {
        // The tree covers only the leaf; searches, tenant confinement and listings read these columns. With the triggers
        // dropped, a deny relisted as allow (or a record moved to another tenant's answers) verified as OK.
        await using var writer = await WriterWithRecordsAsync(30);
        await writer.StopAppAsync();
        var intact = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));
        Tamper(writer.StorePath, $"DROP TRIGGER records_prune_only; UPDATE records SET {assignment} WHERE idx = 17;");

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));

        Assert.Equal(0, intact.ExitCode);
        Assert.Equal(1, exitCode);
        Assert.Contains($"first bad index 17: record 17: its stored {column} column does not match its leaf", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_RecordItsStoredHashAndTilesRewritten_FailsAtTheCoveringCheckpoint()
    {
        await using var writer = await WriterWithRecordsAsync(100);
        await writer.StopAppAsync();
        // A careful forger also rewrites the stored leaf hash (and the decision column beside it); only the signed
        // checkpoint roots can catch it then.
        using (var connection = new SqliteConnection($"Data Source={writer.StorePath};Pooling=False"))
        {
            connection.Open();
            using var read = connection.CreateCommand();
            read.CommandText = "SELECT leaf FROM records WHERE idx = 60";
            var leaf = (byte[])read.ExecuteScalar()!;
            var forged = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(leaf).Replace("\"decision\":\"allow\"", "\"decision\":\"allaw\"", StringComparison.Ordinal));
            Assert.NotEqual(leaf, forged);
            using var write = connection.CreateCommand();
            // Without the tiles (a store whose tiles are not built yet looks the same) nothing holds the hash at index 60.
            write.CommandText = """
                DROP TRIGGER records_prune_only; UPDATE records SET leaf = $leaf, leaf_hash = $hash, decision = 'allaw' WHERE idx = 60;
                DROP TRIGGER tiles_no_delete; DELETE FROM tiles; DELETE FROM partial_tiles;
                """;
            write.Parameters.AddWithValue("$leaf", forged);
            write.Parameters.AddWithValue("$hash", Edge.Audit.Merkle.MerkleHasher.HashLeaf(forged));
            write.ExecuteNonQuery();
        }

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));

        // Checkpoints were signed at 25, 50, 75 and 100 records: the forgery lies in [50, 75).
        Assert.Equal(1, exitCode);
        Assert.Contains("first bad index 50", output, StringComparison.Ordinal);
        Assert.Contains("[50, 75)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_RecordRewrittenAsTextInSqlite_ReportsThatIndex()
    {
        await using var writer = await WriterWithRecordsAsync(100);
        await writer.StopAppAsync();
        // sqlite3's replace() on a BLOB returns TEXT: the most natural edit by hand. verify threw InvalidCastException
        // ("Unhandled exception", a stack trace) instead of naming the record.
        Tamper(writer.StorePath, """
            DROP TRIGGER records_prune_only;
            UPDATE records SET leaf = replace(leaf, '"decision":"allow"', '"decision":"allaw"') WHERE idx = 42;
            """);

        var (exitCode, output, error) = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));

        Assert.Equal(1, exitCode);
        Assert.StartsWith("FAIL: first bad index 42: record 42 does not match the leaf hash recorded when it was appended", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", output + error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_TwoRecordsSwappedInSqlite_ReportsTheFirstMovedIndex()
    {
        await using var writer = await WriterWithRecordsAsync(100);
        await writer.StopAppAsync();
        // Whole rows moved, stored hashes and columns with them: each row is self-consistent, only their order is wrong.
        // Before, verify said "first bad index 50: … a record in [50, 75) was altered".
        Tamper(writer.StorePath, """
            DROP TRIGGER records_prune_only;
            UPDATE records SET idx = -1 WHERE idx = 60; UPDATE records SET idx = 60 WHERE idx = 61; UPDATE records SET idx = 61 WHERE idx = -1;
            """);

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));

        Assert.Equal(1, exitCode);
        Assert.StartsWith("FAIL: first bad index 60: the stored tile/0/000 does not match the records it covers at index 60: record 60 is not the leaf the tile holds there", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_RecordAndItsStoredHashBothRewritten_ReportsThatIndexFromTheTiles()
    {
        await using var writer = await WriterWithRecordsAsync(100);
        await writer.StopAppAsync();
        var forged = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(ReadLeaf(writer.StorePath, 60)).Replace("\"decision\":\"allow\"", "\"decision\":\"allaw\"", StringComparison.Ordinal));
        using (var connection = new SqliteConnection($"Data Source={writer.StorePath};Pooling=False"))
        {
            connection.Open();
            using var write = connection.CreateCommand();
            write.CommandText = "DROP TRIGGER records_prune_only; UPDATE records SET leaf = $leaf, leaf_hash = $hash, decision = 'allaw' WHERE idx = 60;";
            write.Parameters.AddWithValue("$leaf", forged);
            write.Parameters.AddWithValue("$hash", Edge.Audit.Merkle.MerkleHasher.HashLeaf(forged));
            write.ExecuteNonQuery();
        }

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));

        // Before: the interval of the covering checkpoint, "first bad index 50 … [50, 75)".
        Assert.Equal(1, exitCode);
        Assert.StartsWith("FAIL: first bad index 60: the stored tile/0/000 does not match the records it covers at index 60", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_LastRecordDeletedFromSqlite_ReportsItMissing()
    {
        await using var writer = await WriterWithRecordsAsync(100);
        await writer.StopAppAsync();
        Tamper(writer.StorePath, "DROP TRIGGER records_no_delete; DELETE FROM records WHERE idx = 99;");

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));

        // Before: "first bad index 0: the stored tile/0/000 does not match the records it covers (from index 0)".
        Assert.Equal(1, exitCode);
        Assert.StartsWith("FAIL: first bad index 99: a checkpoint covers 100 records but only 99 are present", output, StringComparison.Ordinal);
    }

    private static byte[] ReadLeaf(string storePath, long index)
    {
        using var connection = new SqliteConnection($"Data Source={storePath};Pooling=False");
        connection.Open();
        using var read = connection.CreateCommand();
        read.CommandText = "SELECT leaf FROM records WHERE idx = $idx";
        read.Parameters.AddWithValue("$idx", index);
        return (byte[])read.ExecuteScalar()!;
    }

    [Fact]
    public async Task Verify_ForgedCheckpointInStore_IsRejected()
    {
        await using var writer = await WriterWithRecordsAsync(50);
        await writer.StopAppAsync();
        using var forger = NoteSigner.Generate("test.edge/audit");
        var forged = SignedNote.Sign(new Checkpoint("test.edge/audit", 50, new byte[32]), [forger]);
        Tamper(writer.StorePath, $"INSERT INTO checkpoints (size, root, note, created_ms) VALUES (51, zeroblob(32), '{forged}', 0);");

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));

        Assert.Equal(1, exitCode);
        Assert.Contains("checkpoint at size 51", output, StringComparison.Ordinal);
        Assert.Contains("unknown_signer", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyExport_CheckpointSavedWithCrlfLineEndings_Verifies()
    {
        await using var writer = await WriterWithRecordsAsync(5);
        var exportPath = Path.Combine(writer.Directory, "export.ndjson");
        var checkpointPath = Path.Combine(writer.Directory, "checkpoint.txt");
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.GlobalAuditorKey);
        using (var client = writer.Client())
        {
            // What git's core.autocrlf (or a Windows editor) makes of a checkpoint kept beside an export.
            await File.WriteAllTextAsync(checkpointPath, (await client.GetStringAsync("/audit/checkpoint")).Replace("\n", "\r\n", StringComparison.Ordinal));
        }

        var export = await CliRunner.RunAsync("audit", "export", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName, "--format", "ndjson", "--out", exportPath);
        var verify = await CliRunner.RunAsync("audit", "verify", "--export", exportPath, "--checkpoint", checkpointPath, "--key", KeyFile(writer));

        // Before: "FAIL: checkpoint: malformed_note: The note has no signature block." and exit 1.
        Assert.Equal(0, export.ExitCode);
        Assert.True(verify.ExitCode == 0, verify.Error + verify.Output);
        Assert.StartsWith("OK: 5 records, 1 checkpoints", verify.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportThenVerifyOffline_SavedCheckpointAndKey_RoundTrips()
    {
        await using var writer = await WriterWithRecordsAsync(75);
        var directory = writer.Directory;
        var exportPath = Path.Combine(directory, "export.ndjson");
        var checkpointPath = Path.Combine(directory, "checkpoint.txt");
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.GlobalAuditorKey);
        using (var client = writer.Client())
        {
            await File.WriteAllTextAsync(checkpointPath, await client.GetStringAsync("/audit/checkpoint"));
        }

        var export = await CliRunner.RunAsync("audit", "export", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName,
            "--format", "ndjson", "--out", exportPath);
        Assert.True(export.ExitCode == 0, export.Error + export.Output);
        var verify = await CliRunner.RunAsync("audit", "verify", "--export", exportPath, "--checkpoint", checkpointPath, "--key", KeyFile(writer));
        var lines = await File.ReadAllLinesAsync(exportPath);
        lines[10] = lines[10].Replace("acme", "acne", StringComparison.Ordinal);
        await File.WriteAllLinesAsync(exportPath, lines);
        var tampered = await CliRunner.RunAsync("audit", "verify", "--export", exportPath, "--checkpoint", checkpointPath, "--key", KeyFile(writer));

        Assert.Equal(0, export.ExitCode);
        Assert.Equal(75, lines.Length);
        Assert.Equal(0, verify.ExitCode);
        Assert.StartsWith("OK: 75 records, 1 checkpoints", verify.Output, StringComparison.Ordinal);
        Assert.Equal(1, tampered.ExitCode);
        Assert.Contains("FAIL", tampered.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyExport_LineAlteredOrRemoved_FailsWithoutNamingARecordThatIsIntact()
    {
        await using var writer = await WriterWithRecordsAsync(25);
        var exportPath = Path.Combine(writer.Directory, "export.ndjson");
        var checkpointPath = Path.Combine(writer.Directory, "checkpoint.txt");
        using (var anonymous = writer.Client())
        using (var auditor = writer.Client(WriterFixture.GlobalAuditorKey))
        {
            await File.WriteAllTextAsync(checkpointPath, await anonymous.GetStringAsync("/audit/checkpoint"));
            await File.WriteAllTextAsync(exportPath, await auditor.GetStringAsync("/audit/export?format=ndjson"));
        }

        var lines = await File.ReadAllLinesAsync(exportPath);
        await File.WriteAllLinesAsync(exportPath, lines.Select((line, i) => i == 10 ? line.Replace("acme", "acne", StringComparison.Ordinal) : line));
        var altered = await CliRunner.RunAsync("audit", "verify", "--export", exportPath, "--checkpoint", checkpointPath, "--key", KeyFile(writer));
        await File.WriteAllLinesAsync(exportPath, lines.Where((_, i) => i != 10));
        var removed = await CliRunner.RunAsync("audit", "verify", "--export", exportPath, "--checkpoint", checkpointPath, "--key", KeyFile(writer));

        // Before: "first bad index 0: …" and "first bad index 24: …", though records 0 and 24 were intact and line 11 was
        // the one changed. One signed root cannot tell which line is wrong; the answer must not name an intact record.
        Assert.Equal(1, altered.ExitCode);
        Assert.StartsWith("FAIL: the 25 lines up to the checkpoint's size do not lead to its signed root (size 25): a line was altered, added, removed or reordered, or the export is filtered", altered.Output, StringComparison.Ordinal);
        Assert.Contains("export a bundle", altered.Output, StringComparison.Ordinal);
        Assert.Equal(1, removed.ExitCode);
        Assert.StartsWith("FAIL: the checkpoint covers 25 records but the export holds only 24 lines: a line was removed, the export was cut short, or it is filtered", removed.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("csv")]
    [InlineData("ndjson")]
    [InlineData("bundle")]
    public async Task Export_ToANewFile_CreatedReadableByOwnerAndGroupOnly(string format)
    {
        await using var writer = await WriterWithRecordsAsync(3);
        var exportPath = Path.Combine(writer.Directory, "export." + format);
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.GlobalAuditorKey);

        // The CSV carries decrypted principals; before, the file took the umask (0644 here), readable by every local user.
        var export = await CliRunner.RunAsync("audit", "export", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName,
            "--format", format, "--out", exportPath);

        Assert.True(export.ExitCode == 0, export.Error + export.Output);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(exportPath));
        }
    }

    [Fact]
    public async Task VerifyExport_LinesAfterTheCheckpointsSize_SaysTheyWereNotChecked()
    {
        // The verifier stops at the checkpoint's size: a forged record appended after it read "OK: 20 records", which a
        // third party handed a 21-line file takes for the whole file verified.
        await using var writer = await WriterWithRecordsAsync(20);
        var exportPath = Path.Combine(writer.Directory, "export.ndjson");
        var checkpointPath = Path.Combine(writer.Directory, "checkpoint.txt");
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.GlobalAuditorKey);
        using (var client = writer.Client())
        {
            await File.WriteAllTextAsync(checkpointPath, await client.GetStringAsync("/audit/checkpoint"));
        }

        var export = await CliRunner.RunAsync("audit", "export", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName,
            "--format", "ndjson", "--out", exportPath);
        Assert.True(export.ExitCode == 0, export.Error + export.Output);
        var intact = await CliRunner.RunAsync("audit", "verify", "--export", exportPath, "--checkpoint", checkpointPath, "--key", KeyFile(writer));
        var lines = await File.ReadAllLinesAsync(exportPath);
        await File.AppendAllTextAsync(exportPath, lines[3].Replace("acme", "evil", StringComparison.Ordinal) + "\n");
        var appended = await CliRunner.RunAsync("audit", "verify", "--export", exportPath, "--checkpoint", checkpointPath, "--key", KeyFile(writer));

        Assert.Equal(0, intact.ExitCode);
        Assert.Equal("OK: 20 records, 1 checkpoints verified", intact.Output.Trim());
        Assert.Equal(0, appended.ExitCode);
        Assert.StartsWith("OK: 20 records, 1 checkpoints verified; 1 further lines after the checkpoint's size NOT checked", appended.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportBundleThenVerifyBundle_OneAlteredByte_Fails()
    {
        await using var writer = await WriterWithRecordsAsync(50);
        var bundlePath = Path.Combine(writer.Directory, "audit.tar");
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.AcmeAuditorKey);

        var export = await CliRunner.RunAsync("audit", "export", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName,
            "--format", "bundle", "--out", bundlePath);
        Assert.True(export.ExitCode == 0, export.Error + export.Output);
        var withKey = await CliRunner.RunAsync("audit", "verify", "--bundle", bundlePath, "--key", KeyFile(writer));
        var bundledKey = await CliRunner.RunAsync("audit", "verify", "--bundle", bundlePath);
        var bytes = await File.ReadAllBytesAsync(bundlePath);
        var position = bytes.AsSpan().IndexOf("\"path\":\"/orders/1\""u8) + 10;
        bytes[position] = (byte)'X';
        var alteredPath = Path.Combine(writer.Directory, "altered.tar");
        await File.WriteAllBytesAsync(alteredPath, bytes);
        var altered = await CliRunner.RunAsync("audit", "verify", "--bundle", alteredPath, "--key", KeyFile(writer));
        var missing = await CliRunner.RunAsync("audit", "verify", "--bundle", Path.Combine(writer.Directory, "none.tar"));
        var noOut = await CliRunner.RunAsync("audit", "export", "--url", writer.BaseAddress.ToString(), "--format", "bundle");

        Assert.Equal(0, withKey.ExitCode);
        Assert.StartsWith("OK: 25 records, each with an inclusion proof to the signed checkpoint (origin test.edge/audit, size 50", withKey.Output, StringComparison.Ordinal);
        Assert.Equal(0, bundledKey.ExitCode);
        Assert.Contains("key inside the bundle", bundledKey.Error, StringComparison.Ordinal);
        Assert.Equal(1, altered.ExitCode);
        Assert.StartsWith("FAIL: first bad index 0: record 0:", altered.Output, StringComparison.Ordinal);
        Assert.Equal(2, missing.ExitCode);
        Assert.Equal(2, noOut.ExitCode);
    }

    [Theory]
    [InlineData("ndjson")]
    [InlineData("csv")]
    [InlineData("bundle")]
    public async Task Export_FilterMatchesNoRecord_WarnsThatTheExportIsEmpty(string format)
    {
        await using var writer = await WriterWithRecordsAsync(5);
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.GlobalAuditorKey);
        var emptyPath = Path.Combine(writer.Directory, "empty." + format);
        var fullPath = Path.Combine(writer.Directory, "full." + format);

        // A tenant no record has (a typo, or the wrong customer) and a window with no traffic look the same: nothing matched.
        var empty = await CliRunner.RunAsync("audit", "export", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName,
            "--format", format, "--tenant", "no-such-tenant", "--out", emptyPath);
        var full = await CliRunner.RunAsync("audit", "export", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName,
            "--format", format, "--tenant", "acme", "--out", fullPath);

        // Before, an empty export exited 0 without a word, read as "exported" by whoever ran it.
        Assert.Equal(0, empty.ExitCode);
        Assert.Equal("warning: the export holds no records: none that these credentials may read matched the filters.", empty.Error.Trim());
        Assert.Equal(0, full.ExitCode);
        Assert.Equal("", full.Error);
    }

    [Fact]
    public async Task VerifyBundle_FilterMatchedNoRecord_OkWithAWarningThatOnlyTheCheckpointWasChecked()
    {
        await using var writer = await WriterWithRecordsAsync(5);
        var bundlePath = Path.Combine(writer.Directory, "empty.tar");
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.AcmeAuditorKey);

        var export = await CliRunner.RunAsync("audit", "export", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName,
            "--format", "bundle", "--route", "no-such-route", "--out", bundlePath);
        Assert.True(export.ExitCode == 0, export.Error + export.Output);
        var verify = await CliRunner.RunAsync("audit", "verify", "--bundle", bundlePath, "--key", KeyFile(writer));

        Assert.Equal(0, verify.ExitCode);
        Assert.StartsWith("OK: 0 records", verify.Output, StringComparison.Ordinal);
        Assert.Equal("warning: the bundle holds no records: only the checkpoint's signature was checked.", verify.Error.Trim());
    }

    [Fact]
    public async Task VerifyExport_CheckpointWithItsSignatureLinesCutOff_FailsWithoutAnUnhandledException()
    {
        // Before, SignedNote.Open threw ArgumentOutOfRangeException here and the command ended in a stack trace.
        using var signer = NoteSigner.Generate("test.edge/audit");
        var directory = Directory.CreateTempSubdirectory("edge-cli-verify-").FullName;
        try
        {
            var leaf = "{\"id\":\"r0\"}"u8.ToArray();
            var note = SignedNote.Sign(new Checkpoint(signer.Name, 1, Edge.Audit.Merkle.MerkleHasher.HashLeaf(leaf)), [signer]);
            var exportPath = Path.Combine(directory, "export.ndjson");
            var checkpointPath = Path.Combine(directory, "checkpoint.txt");
            await File.WriteAllBytesAsync(exportPath, [.. leaf, (byte)'\n']);
            await File.WriteAllTextAsync(checkpointPath, note[..(note.LastIndexOf("\n\n", StringComparison.Ordinal) + 2)]);

            var (exitCode, output, error) = await CliRunner.RunAsync("audit", "verify", "--export", exportPath, "--checkpoint", checkpointPath,
                "--key", signer.Verifier.ToString());

            Assert.True(exitCode == 1, error + output);
            Assert.StartsWith("FAIL: checkpoint: malformed_note: The note has no signature lines.", output, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task ExportAndBundle_RecordsThatBeginLikeAPrunedLine_VerifyAsRecords()
    {
        // The writer accepts members of any name, so a record may begin with {"pruned":true, (even with an index and a
        // leafHash). The verifiers took every such line for a pruned record and refused the intact log: 'verify --export'
        // said "record index 1 is missing", 'verify --bundle' "its pruned line is malformed".
        await using var writer = await WriterFixture.StartAsync();
        static byte[] Prefixed(string id, string members) =>
            [.. "{"u8, .. System.Text.Encoding.UTF8.GetBytes(members), .. WriterFixture.Leaf(id, "acme").AsSpan(1)];
        var leaves = new[]
        {
            WriterFixture.Leaf("r0", "acme"),
            Prefixed("r1", "\"pruned\":true,"),
            Prefixed("r2", $"\"pruned\":true,\"index\":2,\"leafHash\":\"{Convert.ToBase64String(new byte[32])}\","),
        };
        using (var ingest = await writer.IngestAsync(leaves, 3))
        {
            ingest.EnsureSuccessStatusCode();
        }

        await writer.WaitForCheckpointAsync(3);
        var exportPath = Path.Combine(writer.Directory, "export.ndjson");
        var bundlePath = Path.Combine(writer.Directory, "export.tar");
        var checkpointPath = Path.Combine(writer.Directory, "checkpoint.txt");
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.GlobalAuditorKey);
        using (var client = writer.Client())
        {
            await File.WriteAllTextAsync(checkpointPath, await client.GetStringAsync("/audit/checkpoint"));
        }

        var exported = await CliRunner.RunAsync("audit", "export", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName, "--format", "ndjson", "--out", exportPath);
        var bundled = await CliRunner.RunAsync("audit", "export", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName, "--format", "bundle", "--out", bundlePath);
        Assert.True(exported.ExitCode == 0 && bundled.ExitCode == 0, exported.Error + bundled.Error);

        var export = await CliRunner.RunAsync("audit", "verify", "--export", exportPath, "--checkpoint", checkpointPath, "--key", KeyFile(writer));
        var bundle = await CliRunner.RunAsync("audit", "verify", "--bundle", bundlePath, "--key", KeyFile(writer));

        Assert.True(export.ExitCode == 0, export.Output);
        Assert.StartsWith("OK: 3 records, 1 checkpoints verified", export.Output, StringComparison.Ordinal);
        Assert.True(bundle.ExitCode == 0, bundle.Output);
        Assert.StartsWith("OK: 3 records, each with an inclusion proof", bundle.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyExport_FileOver2GiBWithoutRecordLines_FailsAtTheFirstOverlongLineWithoutAStackTrace()
    {
        // The export was read whole with File.ReadAllBytes, which refuses anything over 2 GiB: a busy day's export could
        // not be verified offline at all. It is streamed now; this sparse file (no disk space used) is one line of NULs,
        // refused once the line passes any record's length instead of being held in memory.
        var directory = Directory.CreateTempSubdirectory("edge-cli-big-").FullName;
        var export = Path.Combine(directory, "audit.ndjson");
        using (var file = File.Create(export))
        {
            file.SetLength(3L * 1024 * 1024 * 1024);
        }

        using var signer = NoteSigner.Generate("test.edge/audit");
        var checkpoint = Path.Combine(directory, "checkpoint.txt");
        await File.WriteAllTextAsync(checkpoint, SignedNote.Sign(new Checkpoint(signer.Name, 1, Edge.Audit.Merkle.MerkleHasher.EmptyRoot.ToArray()), [signer]));

        var (exitCode, output, error) = await CliRunner.RunAsync("audit", "verify", "--export", export, "--checkpoint", checkpoint, "--key", signer.Verifier.ToString());
        Directory.Delete(directory, recursive: true);

        Assert.Equal(1, exitCode);
        Assert.Equal("FAIL: line 1 is longer than 32 MiB, which no audit record is: the file is not an NDJSON export", output.Trim());
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_KeyFileThatDoesNotExist_UsageErrorSaysSo()
    {
        var (exitCode, _, error) = await CliRunner.RunAsync("audit", "verify", "--store", "/nonexistent/audit.db", "--key", "/nonexistent/writer.key.pub");

        Assert.Equal(2, exitCode);
        Assert.Contains("--key '/nonexistent/writer.key.pub' is neither an existing file nor a verifier key", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_SigningKeyFileAsKey_UsageErrorNamesItsPubFile()
    {
        // The writer keeps writer.key and writer.key.pub side by side; passing the first said only "The key id must be 8
        // hex digits.", which sent users looking for a broken key.
        var directory = Directory.CreateTempSubdirectory("edge-cli-signer-").FullName;
        using var signer = NoteSigner.Generate("test.edge/audit");
        var keyPath = Path.Combine(directory, "writer.key");
        await File.WriteAllTextAsync(keyPath, signer.ToString());

        var (exitCode, _, error) = await CliRunner.RunAsync("audit", "verify", "--store", "/nonexistent/audit.db", "--key", keyPath);
        Directory.Delete(directory, recursive: true);

        Assert.Equal(2, exitCode);
        Assert.Contains($"{keyPath}: this is the writer's signing key, not a verifier key; pass {keyPath}.pub", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_SigningKeyGivenInline_ErrorDoesNotRepeatIt()
    {
        using var signer = NoteSigner.Generate("test.edge/audit");
        var secret = signer.ToString();

        var (exitCode, output, error) = await CliRunner.RunAsync("audit", "verify", "--store", "/nonexistent/audit.db", "--key", secret);

        Assert.Equal(2, exitCode);
        Assert.Contains("--key is the writer's signing key, not a verifier key", error, StringComparison.Ordinal);
        Assert.DoesNotContain(secret.Split('+')[^1], error + output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_NoKeyWithoutBundle_IsUsageError()
    {
        var (exitCode, _, error) = await CliRunner.RunAsync("audit", "verify", "--store", "/nonexistent/audit.db");

        Assert.Equal(2, exitCode);
        Assert.Contains("--key is required", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_TenantAuditor_ListsOnlyOwnTenantAcrossPages()
    {
        await using var writer = await WriterWithRecordsAsync(30);
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.AcmeAuditorKey);

        var (exitCode, output, queryError) = await CliRunner.RunAsync("audit", "query", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName,
            "--limit", "4", "--all");
        var forbidden = await CliRunner.RunAsync("audit", "query", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName, "--tenant", "globex");

        Assert.True(exitCode == 0, queryError + output);
        var records = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(0, exitCode);
        Assert.Equal(15, records.Count);
        Assert.All(records, r => Assert.Equal("acme", r.GetProperty("tenant").GetString()));
        Assert.Equal(3, forbidden.ExitCode);
        Assert.Contains("tenant_forbidden", forbidden.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_RecordNestedAsDeepAsIngestTakes_PrintsItAndExitsZero()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([WriterFixture.Leaf("plain", "acme"), DeepLeaf("deep")], 2)).EnsureSuccessStatusCode();
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.GlobalAuditorKey);

        var (exitCode, output, error) = await CliRunner.RunAsync("audit", "query", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName, "--all");

        // Before, exit 3 "the writer's answer is not a page of records": the page holds each record three levels down, past
        // the JSON reader's default depth of 64, though the writer stored and served the record.
        Assert.True(exitCode == 0, error + output);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["deep", "plain"], lines.Select(l => JsonDocument.Parse(l, new JsonDocumentOptions { MaxDepth = 128 }).RootElement.GetProperty("id").GetString()));
    }

    /// <summary>A record 64 levels deep, the most ingest's JSON reader takes: the root object, data, and 62 arrays inside it.</summary>
    internal static byte[] DeepLeaf(string id)
    {
        const int arrays = 62;
        return System.Text.Encoding.UTF8.GetBytes(
            "{\"specversion\":\"1.0\",\"id\":\"" + id + "\",\"source\":\"edge://e1\",\"type\":\"edge.request\",\"time\":\"2026-12-06T10:00:00Z\","
            + "\"tenant\":\"acme\",\"data\":{\"x\":" + new string('[', arrays) + new string(']', arrays) + "}}");
    }

    [Fact]
    public async Task Query_ById_PrintsThatOneRecord()
    {
        await using var writer = await WriterWithRecordsAsync(5);
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.GlobalAuditorKey);

        // Before, --id was an unknown option (exit 2), though GET /audit/records takes it.
        var (exitCode, output, error) = await CliRunner.RunAsync("audit", "query", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName, "--id", "r3");

        Assert.True(exitCode == 0, error + output);
        var record = JsonDocument.Parse(Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement;
        Assert.Equal("r3", record.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Export_ById_BundleOfThatOneRecordVerifies()
    {
        await using var writer = await WriterWithRecordsAsync(5);
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.GlobalAuditorKey);
        var bundlePath = Path.Combine(writer.Directory, "r3.tar");

        // Before, --id was an unknown option of export (exit 2), though GET /audit/export takes it: a bundle proving one
        // record offline, the record a complaint names, needed curl.
        var export = await CliRunner.RunAsync("audit", "export", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName,
            "--format", "bundle", "--id", "r3", "--out", bundlePath);
        var verify = await CliRunner.RunAsync("audit", "verify", "--bundle", bundlePath, "--key", KeyFile(writer));

        Assert.True(export.ExitCode == 0, export.Error + export.Output);
        Assert.True(verify.ExitCode == 0, verify.Error + verify.Output);
        Assert.StartsWith("OK: 1 records", verify.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("EDGE_AUDIT_API_KEY", "demo-key\r", "query")] // a key file saved with CRLF, read with $(cat key.txt)
    [InlineData("EDGE_AUDIT_API_KEY", "demo\nkey", "prove")]
    [InlineData("EDGE_AUDIT_TOKEN", "eyJ.a.b\r", "export")]
    [InlineData("EDGE_AUDIT_API_KEY", "d\u00e9mo-key", "consistency")]
    public async Task Commands_CredentialAHeaderCannotCarry_ExitTwoNamingTheVariableNotTheValue(string variable, string value, string command)
    {
        var envName = "EDGE_TEST_CRED_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, value);
        using var signer = NoteSigner.Generate("test.edge/audit");
        var checkpoint = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".txt");
        await File.WriteAllTextAsync(checkpoint, "test.edge/audit\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
        string[] credential = [variable == "EDGE_AUDIT_TOKEN" ? "--token-env" : "--api-key-env", envName];
        string[] rest = command switch
        {
            "query" => ["--limit", "1"],
            "prove" => ["--id", "r1", "--key", signer.Verifier.ToString()],
            "export" => ["--format", "csv", "--out", Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".csv")],
            _ => ["--old", checkpoint, "--key", signer.Verifier.ToString()],
        };

        var (exitCode, _, error) = await CliRunner.RunAsync(["audit", command, "--url", "http://127.0.0.1:9/", .. credential, .. rest]);

        // Before: a stack trace and exit 1 (for prove and consistency "verification failed") for a line break, or exit 3
        // "the writer cannot be reached" for a non-ASCII character, though nothing was sent.
        Assert.Equal(2, exitCode);
        Assert.DoesNotContain("Unhandled exception", error, StringComparison.Ordinal);
        Assert.Contains($"error: the credential in {envName} holds a character an HTTP header cannot carry", error, StringComparison.Ordinal);
        Assert.DoesNotContain(value.Trim(), error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("Hostx=db;Password=pw-in-a-typo")]
    [InlineData("Host=db;Timeout=abc")]
    public async Task VerifyPostgres_ConnectionStringThatDoesNotParse_ExitsTwoNotVerificationFailed(string connection)
    {
        using var signer = NoteSigner.Generate("test.edge/audit");

        var (exitCode, output, error) = await CliRunner.RunAsync("audit", "verify", "--postgres", connection, "--key", signer.Verifier.ToString());

        // Before: "FAIL: the store cannot be read: Format of the initialization string …" and exit 1, the code that says the
        // log must not be trusted, for a typo in the option: nothing was connected to or checked.
        Assert.Equal(2, exitCode);
        Assert.DoesNotContain("FAIL", output, StringComparison.Ordinal);
        Assert.Contains("error: --postgres is not a usable connection string", error, StringComparison.Ordinal);
        Assert.DoesNotContain("pw-in-a-typo", error + output, StringComparison.Ordinal);
    }

    /// <summary>
    /// The writer refuses <c>Writer:Postgres</c> with an inline password; the CLI took one on its command line, where every
    /// user of the machine reads it (<c>ps</c>, shell history). The same rule now: a reference, or no password.
    /// </summary>
    [Theory]
    [InlineData("Host=127.0.0.1;Port=1;Username=edge;Password=hunter2-inline")]
    [InlineData("Host=127.0.0.1;Port=1;Username=edge;PWD=hunter2-inline")]
    public async Task VerifyPostgres_InlinePassword_ExitsTwoWithoutTheSecret(string connection)
    {
        using var signer = NoteSigner.Generate("test.edge/audit");

        var (exitCode, output, error) = await CliRunner.RunAsync("audit", "verify", "--postgres", connection, "--key", signer.Verifier.ToString());

        Assert.Equal(2, exitCode);
        Assert.DoesNotContain("FAIL", output, StringComparison.Ordinal);
        Assert.Contains("error: --postgres holds a password inline; give the connection string as env:NAME or file:/path", error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error + output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("X Api Key")]
    [InlineData("Bad:Name")]
    [InlineData("")]
    public async Task Query_ApiKeyHeaderNotAHeaderName_ExitsTwoWithOneLine(string header)
    {
        var envName = "EDGE_TEST_CRED_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, "demo-key");

        var (exitCode, _, error) = await CliRunner.RunAsync("audit", "query", "--url", "http://127.0.0.1:9/", "--api-key-env", envName, "--api-key-header", header);

        // Before: "Unhandled exception: System.FormatException: The header name 'X Api Key' has an invalid format." and exit 1.
        Assert.Equal(2, exitCode);
        Assert.DoesNotContain("Unhandled exception", error, StringComparison.Ordinal);
        Assert.Contains("error: --api-key-header", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1e-8")]
    [InlineData("0.00000001")]
    public async Task Query_TimeoutBelowOneTick_ExitsTwoWithOneLine(string timeout)
    {
        var (exitCode, _, error) = await CliRunner.RunAsync("audit", "query", "--url", "http://127.0.0.1:9/", "--timeout", timeout);

        // Before: above 0, so accepted, then TimeSpan.FromSeconds made it zero and HttpClient threw (a stack trace, exit 1).
        Assert.Equal(2, exitCode);
        Assert.DoesNotContain("Unhandled exception", error, StringComparison.Ordinal);
        Assert.Contains("error: --timeout must be", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_ExitCodes_FollowTheDocumentedTable()
    {
        await using var writer = await WriterWithRecordsAsync(25);
        await writer.StopAppAsync();
        var missingFile = Path.Combine(writer.Directory, "absent.db");
        var notSqlite = Path.Combine(writer.Directory, "not-sqlite.db");
        await File.WriteAllTextAsync(notSqlite, "this is not a SQLite database, it is long enough to have a header of sorts.....");

        var verified = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer));
        var missingKeyOption = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath);
        var unknownOption = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", KeyFile(writer), "--bogus");
        var malformedKey = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", "not+a+key");
        var missingStore = await CliRunner.RunAsync("audit", "verify", "--store", missingFile, "--key", KeyFile(writer));
        var missingExport = await CliRunner.RunAsync("audit", "verify", "--export", missingFile, "--checkpoint", missingFile, "--key", KeyFile(writer));
        var bothInputs = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--export", writer.StorePath, "--key", KeyFile(writer));
        var corruptStore = await CliRunner.RunAsync("audit", "verify", "--store", notSqlite, "--key", KeyFile(writer));

        Assert.Equal(0, verified.ExitCode);
        Assert.Equal(2, missingKeyOption.ExitCode);
        Assert.Equal(2, unknownOption.ExitCode);
        Assert.Equal(2, malformedKey.ExitCode);
        Assert.Equal(2, missingStore.ExitCode);
        Assert.Contains("no file at", missingStore.Error, StringComparison.Ordinal);
        Assert.Equal(2, missingExport.ExitCode);
        Assert.Equal(2, bothInputs.ExitCode);
        Assert.Equal(1, corruptStore.ExitCode);
        Assert.StartsWith("FAIL: the store cannot be read", corruptStore.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_WriterUnreachableOrBadUrl_ExitsThreeOrTwo()
    {
        var unreachable = await CliRunner.RunAsync("audit", "prove", "--url", "http://127.0.0.1:9/", "--id", "r1", "--key", "x+00000000+AQ==");
        var badUrl = await CliRunner.RunAsync("audit", "query", "--url", "not-a-url");

        Assert.Equal(2, unreachable.ExitCode); // the key is malformed: checked before any network call
        Assert.Equal(2, badUrl.ExitCode);
        Assert.Contains("--url", badUrl.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueryAndExport_NoCredentialsSet_401SaysWhichVariableToSet()
    {
        await using var writer = await WriterFixture.StartAsync();
        var unset = "EDGE_TEST_UNSET_" + Guid.NewGuid().ToString("N");
        var wrong = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(wrong, "not-a-key-the-writer-knows");
        string[] Credentials(string apiKeyEnv) => ["--url", writer.BaseAddress.ToString(), "--api-key-env", apiKeyEnv, "--token-env", unset];

        var query = await CliRunner.RunAsync(["audit", "query", .. Credentials(unset)]);
        var export = await CliRunner.RunAsync(["audit", "export", .. Credentials(unset)]);
        var wrongKey = await CliRunner.RunAsync(["audit", "query", .. Credentials(wrong)]);

        Assert.Equal(3, query.ExitCode);
        Assert.Contains("hint: no credentials were sent: set EDGE_AUDIT_API_KEY", query.Error, StringComparison.Ordinal);
        Assert.Equal(3, export.ExitCode);
        Assert.Contains("hint: no credentials were sent", export.Error, StringComparison.Ordinal);
        Assert.Equal(3, wrongKey.ExitCode);
        Assert.StartsWith("error: 401 ", wrongKey.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("hint:", wrongKey.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueryAndExport_WriterUnreachable_ExitThreeWithOneLineNoStackTrace()
    {
        var url = $"http://127.0.0.1:{Edge.Testing.FreePort.Next()}/";
        var output = Path.Combine(Path.GetTempPath(), $"edge-export-{Guid.NewGuid():N}.ndjson");

        var query = await CliRunner.RunAsync("audit", "query", "--url", url, "--decision", "deny");
        var export = await CliRunner.RunAsync("audit", "export", "--url", url, "--format", "ndjson", "--out", output);

        Assert.Equal(3, query.ExitCode);
        Assert.StartsWith($"error: the writer at {url} cannot be reached: ", query.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", query.Error, StringComparison.Ordinal);
        Assert.Equal(3, export.ExitCode);
        Assert.StartsWith($"error: the writer at {url} cannot be reached: ", export.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", export.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    /// <summary>
    /// HttpClient sends no credentials from a URL, and the CLI repeated the URL, password included, in its
    /// "cannot be reached" line (and it sat on the command line). Refused before anything is sent.
    /// </summary>
    [Theory]
    [InlineData("query")]
    [InlineData("export")]
    public async Task Commands_UrlWithUserInfo_ExitTwoWithoutThePassword(string command)
    {
        var url = $"http://auditor:hunter2-inline@127.0.0.1:{Edge.Testing.FreePort.Next()}/";
        var output = Path.Combine(Path.GetTempPath(), $"edge-export-{Guid.NewGuid():N}.ndjson");
        string[] rest = command == "export" ? ["--format", "ndjson", "--out", output] : ["--decision", "deny"];

        var (exitCode, stdout, error) = await CliRunner.RunAsync(["audit", command, "--url", url, .. rest]);

        Assert.Equal(2, exitCode);
        Assert.StartsWith("error: --url must not carry a user name or password", error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error + stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Commands_WriterAcceptsButNeverAnswers_ExitThreeNamingTheTimeout()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var held = new List<System.Net.Sockets.TcpClient>();
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                held.Add(await listener.AcceptTcpClientAsync(stop.Token));
            }
        });
        var url = $"http://127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndpoint).Port}/";
        var output = Path.Combine(Path.GetTempPath(), $"edge-export-{Guid.NewGuid():N}.ndjson");
        using var signer = Edge.Audit.Checkpoints.NoteSigner.Generate("audit.example");
        var key = signer.Verifier.ToString();

        var query = await CliRunner.RunAsync("audit", "query", "--url", url, "--timeout", "0.5");
        var export = await CliRunner.RunAsync("audit", "export", "--url", url, "--out", output, "--timeout", "0.5");
        var prove = await CliRunner.RunAsync("audit", "prove", "--url", url, "--id", "r1", "--key", key, "--timeout", "0.5");
        var zero = await CliRunner.RunAsync("audit", "query", "--url", url, "--timeout", "0");
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => accepting);
        held.ForEach(client => client.Dispose());

        foreach (var result in new[] { query, export, prove })
        {
            Assert.Equal(3, result.ExitCode);
            Assert.Equal($"error: the writer at {url} did not answer within 0.5 s (--timeout).", result.Error.Trim());
        }

        Assert.False(File.Exists(output));
        Assert.Equal(2, zero.ExitCode);
        Assert.StartsWith("error: --timeout must be", zero.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_WriterStopsSendingMidExport_ExitsThreeAndRemovesThePartialFile()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync(stop.Token);
            var stream = client.GetStream();
            var request = new byte[4096];
            _ = await stream.ReadAsync(request, stop.Token);
            var head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n";
            var line = "{\"id\":\"r1\"}\n";
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"{head}{line.Length:x}\r\n{line}\r\n"), stop.Token);
            await Task.Delay(Timeout.Infinite, stop.Token);
        });
        var url = $"http://127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndpoint).Port}/";
        var output = Path.Combine(Path.GetTempPath(), $"edge-export-{Guid.NewGuid():N}.ndjson");

        // Long enough for the headers to arrive on a busy machine; the stall after them is endless.
        var export = await CliRunner.RunAsync("audit", "export", "--url", url, "--out", output, "--timeout", "3");
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => serving);

        Assert.Equal(3, export.ExitCode);
        Assert.Equal(
            $"error: the export from {url} stalled: nothing arrived for 3 s (--timeout); the partial export was removed.",
            export.Error.Trim());
        Assert.False(File.Exists(output));
    }

    private static void Tamper(string storePath, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={storePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
