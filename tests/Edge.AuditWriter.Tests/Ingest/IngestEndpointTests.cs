using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Edge.Audit.Storage;
using Edge.AuditWriter.Log;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.AuditWriter.Tests.Ingest;

public sealed class IngestEndpointTests
{
    [Fact]
    public async Task Ingest_BatchThenReplay_AcksBothAndStoresEachRecordOnce()
    {
        await using var writer = await WriterFixture.StartAsync();
        var batch = Enumerable.Range(0, 50).Select(i => WriterFixture.Leaf($"r{i}", "acme")).ToList();

        using var first = await writer.IngestAsync(batch, 50);
        using var replay = await writer.IngestAsync(batch.Skip(10).Append(WriterFixture.Leaf("r50", "acme")), 51);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(50, JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement.GetProperty("acked").GetInt64());
        Assert.Equal(51, JsonDocument.Parse(await replay.Content.ReadAsStringAsync()).RootElement.GetProperty("acked").GetInt64());
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        Assert.Equal(51, store.Count());
        // The writer commits to the protected (v2) form of the edge's record: same id, subject encrypted.
        var stored = JsonDocument.Parse(store.ReadLeaves().Single(l => l.Index == 7).Bytes).RootElement;
        Assert.Equal("r7", stored.GetProperty("id").GetString());
        Assert.Equal("urn:edge:audit:record:2", stored.GetProperty("dataschema").GetString());
        Assert.Equal("aes-256-gcm", stored.GetProperty("data").GetProperty("subject").GetProperty("protection").GetString());
        Assert.DoesNotContain("user-r7", stored.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingest_StoreFileDeletedWhileRunning_503StoreUnavailableNothingAckedAndReadyzSaysSo()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var before = await writer.IngestAsync([WriterFixture.Leaf("kept", "acme")], 1);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);

        // An operator (or a clean-up job) deletes the store under the running writer. SQLite keeps writing to the open,
        // unlinked file: before, the writer acknowledged this batch (the edge then deleted it from its spool) and /readyz
        // said ready, and the records were gone at the writer's next start.
        foreach (var file in new[] { writer.StorePath, writer.StorePath + "-wal", writer.StorePath + "-shm" })
        {
            File.Delete(file);
        }

        using var after = await writer.IngestAsync([WriterFixture.Leaf("lost", "acme")], 2);
        using var client = writer.Client();
        using var ready = await client.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, after.StatusCode);
        Assert.Equal("application/problem+json", after.Content.Headers.ContentType!.MediaType);
        Assert.Equal("store_unavailable", JsonDocument.Parse(await after.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Equal(1, writer.Services.GetRequiredService<AuditLog>().Size);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("store_unavailable", JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Ingest_RecordFailingMidBatch_RollsBackTheBatchWithItsNewSubjectsAndTheRetryStoresEachRecordOnce()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var first = await writer.IngestAsync([WriterFixture.Leaf("before", "acme", principal: "carol")], 1);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        // A real SQLite failure inside the writer's transaction: a trigger that aborts the third record's insert.
        ExecuteOnStore(writer, "CREATE TRIGGER inject_fault BEFORE INSERT ON records WHEN NEW.record_id = 'poison' BEGIN SELECT RAISE(ABORT, 'injected fault'); END");
        var batch = new[]
        {
            WriterFixture.Leaf("a", "acme", principal: "alice"),
            WriterFixture.Leaf("b", "acme", principal: "bob"),
            WriterFixture.Leaf("poison", "acme", principal: "dave"),
            WriterFixture.Leaf("c", "acme", principal: "carol"),
        };

        using var failed = await writer.IngestAsync(batch, 5);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        Assert.Equal("application/problem+json", failed.Content.Headers.ContentType!.MediaType);
        Assert.Equal("ingest_failed", JsonDocument.Parse(await failed.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        // Nothing of the batch: no record, and no data key for the subjects it saw first (alice, bob, dave).
        Assert.Equal(1, ScalarOnStore(writer, "SELECT COUNT(*) FROM records"));
        Assert.Equal(1, ScalarOnStore(writer, "SELECT COUNT(*) FROM subjects"));
        Assert.Equal(1, writer.Services.GetRequiredService<AuditLog>().Size);

        ExecuteOnStore(writer, "DROP TRIGGER inject_fault");
        using var retry = await writer.IngestAsync(batch, 5);
        using var again = await writer.IngestAsync(batch, 5);

        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(5, ScalarOnStore(writer, "SELECT COUNT(*) FROM records"));
        Assert.Equal(4, ScalarOnStore(writer, "SELECT COUNT(*) FROM subjects"));
        Assert.Equal(["before", "a", "b", "poison", "c"], StoredIds(writer));
        await writer.WaitForCheckpointAsync(5);
    }

    [Fact]
    public async Task Ingest_EdgeGivesUpWhileTheStoreStalls_ItsBatchIsNotKeptQueuedAndTheRetryStoresIt()
    {
        await using var writer = await WriterFixture.StartAsync();
        var log = writer.Services.GetRequiredService<AuditLog>();
        var batch = Enumerable.Range(0, 20).Select(i => WriterFixture.Leaf($"stalled{i}", "acme")).ToList();

        using (await log.HoldAppendsAsync())
        {
            // The store stalls (a slow fsync, a lock held elsewhere): the edge's request times out and the connection
            // closes, as the shipper's RequestTimeout does. Before, the batch stayed queued in the writer for a commit
            // nobody waited for, one more copy per timeout, for as long as the stall lasted.
            using var impatient = new HttpClient { BaseAddress = writer.BaseAddress, Timeout = TimeSpan.FromMilliseconds(500) };
            using var content = new ByteArrayContent(batch.SelectMany(l => l.Append((byte)'\n')).ToArray());
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Edge.Audit.Shipping.IngestProtocol.ContentType);
            content.Headers.Add(Edge.Audit.Shipping.IngestProtocol.LastSequenceHeader, "20");
            await Assert.ThrowsAnyAsync<TaskCanceledException>(() => impatient.PostAsync(Edge.Audit.Shipping.IngestProtocol.Path, content));

            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (log.QueuedAppends > 0)
            {
                await Task.Delay(20, deadline.Token);
            }
        }

        using var retry = await writer.IngestAsync(batch, 20);

        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal(20, ScalarOnStore(writer, "SELECT COUNT(*) FROM records"));
        Assert.Equal(batch.Select((_, i) => $"stalled{i}"), StoredIds(writer));
    }

    [Fact]
    public async Task Ingest_MoreBatchesQueuedThanMaxConcurrentIngests_ExtraAnswered503IngestBusyAndTheQueuedOnesStored()
    {
        await using var writer = await WriterFixture.StartAsync(extraArgs: ["--Writer:MaxConcurrentIngests=2"]);
        var log = writer.Services.GetRequiredService<AuditLog>();
        using var measurements = new WriterMeasurements(writer.Services.GetRequiredService<IMeterFactory>());
        Task<HttpResponseMessage> first, second;
        HttpResponseMessage extra;
        using (await log.HoldAppendsAsync())
        {
            // The store stalls while edges keep posting: each queued batch is held in memory, parsed, until its commit.
            first = writer.IngestAsync([WriterFixture.Leaf("q1", "acme")], 1);
            second = writer.IngestAsync([WriterFixture.Leaf("q2", "acme")], 1);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (log.QueuedAppends < 2)
            {
                await Task.Delay(20, deadline.Token);
            }

            // Before, the third was queued too (and the hundredth): the writer's memory had no bound but the senders'.
            using var hang = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var client = writer.Client();
            using var content = new ByteArrayContent([.. WriterFixture.Leaf("q3", "acme"), (byte)'\n']);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Edge.Audit.Shipping.IngestProtocol.ContentType);
            content.Headers.Add(Edge.Audit.Shipping.IngestProtocol.LastSequenceHeader, "1");
            extra = await client.PostAsync(Edge.Audit.Shipping.IngestProtocol.Path, content, hang.Token);
        }

        using var stored1 = await first;
        using var stored2 = await second;
        using (extra)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, extra.StatusCode);
            Assert.Equal("application/problem+json", extra.Content.Headers.ContentType!.MediaType);
            Assert.Equal("ingest_busy", JsonDocument.Parse(await extra.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
            Assert.Equal(TimeSpan.FromSeconds(1), extra.Headers.RetryAfter?.Delta);
        }

        Assert.Equal(HttpStatusCode.OK, stored1.StatusCode);
        Assert.Equal(HttpStatusCode.OK, stored2.StatusCode);
        Assert.Equal(["q1", "q2"], StoredIds(writer).Order());
        Assert.Equal(1, measurements.Sum("edge.audit.ingest.batches", "unavailable"));
        Assert.Equal(1, measurements.Sum("edge.audit.ingest.busy"));

        // The slots are free again once the held batches are answered.
        using var later = await writer.IngestAsync([WriterFixture.Leaf("q3", "acme")], 1);
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }

    [Fact]
    public async Task Ingest_MoreSlowBodiesThanMaxConcurrentIngests_ExtraAnswered503IngestBusyAndSlotsFreedWhenSendersLeave()
    {
        await using var writer = await WriterFixture.StartAsync(extraArgs: ["--Writer:MaxConcurrentIngests=3"]);
        var gate = writer.Services.GetRequiredService<Edge.AuditWriter.Ingest.IngestGate>();
        var senders = new List<System.Net.Sockets.TcpClient>();
        using var stopTrickle = new CancellationTokenSource();
        var trickles = new List<Task>();
        try
        {
            // Three senders that announce 32 MB and trickle it: each would hold a buffer of that size while it reads.
            for (var i = 0; i < 3; i++)
            {
                var sender = new System.Net.Sockets.TcpClient();
                senders.Add(sender);
                await sender.ConnectAsync("127.0.0.1", writer.BaseAddress.Port);
                await sender.GetStream().WriteAsync(Encoding.Latin1.GetBytes("POST /audit/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Content-Type: application/x-ndjson\r\nEdge-Audit-Last-Sequence: 1\r\nContent-Length: 33000000\r\n\r\n{"));
                // Faster than Kestrel's minimum body data rate (240 bytes/s after 5 s), which would end the read with 408.
                var stream = sender.GetStream();
                trickles.Add(Task.Run(async () =>
                {
                    var spaces = new byte[1000];
                    spaces.AsSpan().Fill((byte)' ');
                    while (!stopTrickle.IsCancellationRequested)
                    {
                        await stream.WriteAsync(spaces, stopTrickle.Token);
                        await Task.Delay(200, stopTrickle.Token);
                    }
                }));
            }

            using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            {
                while (gate.Active < 3)
                {
                    await Task.Delay(20, deadline.Token);
                }
            }

            using var extra = await writer.IngestAsync([WriterFixture.Leaf("s1", "acme")], 1);

            Assert.Equal(HttpStatusCode.ServiceUnavailable, extra.StatusCode);
            Assert.Equal("ingest_busy", JsonDocument.Parse(await extra.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
            Assert.Equal(TimeSpan.FromSeconds(1), extra.Headers.RetryAfter?.Delta);
        }
        finally
        {
            await stopTrickle.CancelAsync();
            foreach (var trickle in trickles)
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => trickle);
            }

            foreach (var sender in senders)
            {
                sender.Dispose();
            }
        }

        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            while (gate.Active > 0)
            {
                await Task.Delay(20, deadline.Token);
            }
        }

        using var stored = await writer.IngestAsync([WriterFixture.Leaf("s1", "acme")], 1);
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        Assert.Equal(["s1"], StoredIds(writer));
    }

    [Fact]
    public async Task Ingest_BodyArrivingSlowerThanKestrelsMinimumRate_Returns408BodyTimeoutNot500()
    {
        await using var writer = await WriterFixture.StartAsync();

        // A slowloris (or a stalled edge): the headers, one byte of the body, then nothing. Kestrel's MinRequestBodyDataRate
        // (240 bytes/s after a 5 s grace) ends the read; before, that surfaced as 500 internal_error with an Error and a
        // stack trace in the writer's log, counted as an unavailable writer.
        var (head, body) = await RawAsync(writer, "POST /audit/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\n"
            + "Edge-Audit-Last-Sequence: 1\r\nContent-Length: 1000\r\n\r\n{");

        Assert.StartsWith("HTTP/1.1 408 ", head, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Type: application/problem+json", head, StringComparison.Ordinal);
        Assert.Equal("body_timeout", JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Ingest_MalformedChunkedBody_Returns400BodyInvalidNot500()
    {
        await using var writer = await WriterFixture.StartAsync();

        var (head, body) = await RawAsync(writer, "POST /audit/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\n"
            + "Edge-Audit-Last-Sequence: 1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400 ", head, StringComparison.Ordinal);
        Assert.Equal("body_invalid", JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());
        Assert.Equal(0, ScalarOnStore(writer, "SELECT COUNT(*) FROM records"));
    }

    /// <summary>Sends raw bytes (framing no HttpClient would send) and reads one answer, the connection left open.</summary>
    internal static async Task<(string Head, string Body)> RawAsync(WriterFixture writer, string request)
    {
        using var client = new System.Net.Sockets.TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync("127.0.0.1", writer.BaseAddress.Port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request), timeout.Token);
        using var received = new MemoryStream();
        var chunk = new byte[4096];
        int read;
        // Up to the end of the answer: Content-Length, or the last chunk of a chunked one.
        while ((read = await stream.ReadAsync(chunk, timeout.Token)) > 0)
        {
            received.Write(chunk, 0, read);
            var text = Encoding.ASCII.GetString(received.ToArray());
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end > 0 && IsComplete(text[..end], text[(end + 4)..]))
            {
                break;
            }
        }

        var all = Encoding.ASCII.GetString(received.ToArray());
        var headEnd = all.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(headEnd > 0, $"no answer: {all}");
        var head = all[..headEnd];
        var rest = all[(headEnd + 4)..];
        if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            var size = rest.IndexOf("\r\n", StringComparison.Ordinal);
            rest = rest.Substring(size + 2, Convert.ToInt32(rest[..size], 16));
        }

        return (head, rest);
    }

    private static bool IsComplete(string head, string rest)
    {
        var length = Regex.Match(head, "(?im)^Content-Length: *([0-9]+)");
        return length.Success ? rest.Length >= int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : rest.EndsWith("0\r\n\r\n", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readyz_StoreRefusingAppends_503StoreWriteFailingUntilABatchIsStored()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client();
        // A real SQLite refusal of every insert, as a full disk gives: the file stays in place, nothing can be stored.
        ExecuteOnStore(writer, "CREATE TRIGGER inject_fault BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");

        using var refused = await writer.IngestAsync([WriterFixture.Leaf("a", "acme")], 1);
        using var notReady = await client.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        // Before, /readyz answered 200 ready while every batch was refused.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.Equal("application/problem+json", notReady.Content.Headers.ContentType!.MediaType);
        var problem = JsonDocument.Parse(await notReady.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("store_write_failing", problem.GetProperty("code").GetString());
        Assert.Contains("database or disk is full", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        ExecuteOnStore(writer, "DROP TRIGGER inject_fault");
        using var stored = await writer.IngestAsync([WriterFixture.Leaf("a", "acme")], 1);
        using var ready = await client.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready", JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Ingest_StoreWriteLockedByAnotherProcess_503IngestFailedAfterTheBusyTimeoutNotAfterTheEdgeGaveUp()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client();
        // Another process holds the store's write lock (sqlite3 with an open transaction, a backup tool). The documented
        // busy timeout is 5 s; Microsoft.Data.Sqlite retried every SQLITE_BUSY on top of it for its own 30 s command
        // timeout, so the writer answered nothing for 30 s and more: the edge's request (RequestTimeout 10 s) timed out,
        // /readyz said ready, and the writer logged nothing. 20 s here is well past 5 s and well short of 30 s.
        using var holder = new SqliteConnection($"Data Source={writer.StorePath};Pooling=False");
        holder.Open();
        using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            begin.ExecuteNonQuery();
        }

        using var edge = new HttpClient { BaseAddress = writer.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };
        using var content = new ByteArrayContent(WriterFixture.Leaf("locked", "acme").Append((byte)'\n').ToArray());
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Edge.Audit.Shipping.IngestProtocol.ContentType);
        content.Headers.Add(Edge.Audit.Shipping.IngestProtocol.LastSequenceHeader, "1");
        using var refused = await edge.PostAsync(Edge.Audit.Shipping.IngestProtocol.Path, content);
        using var notReady = await client.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("ingest_failed", JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.Equal("store_write_failing", JsonDocument.Parse(await notReady.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());

        using (var rollback = holder.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        using var stored = await writer.IngestAsync([WriterFixture.Leaf("locked", "acme")], 1);
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        Assert.Equal(["locked"], StoredIds(writer));
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    [InlineData("GZIP")] // codings are case-insensitive (RFC 9110 §8.4.1): was 415
    [InlineData("Br")]
    [InlineData("x-gzip")] // the same as gzip (RFC 9110 §8.4.1.3): was 415
    public async Task Ingest_CompressedBatch_IsStoredLikeAPlainOne(string encoding)
    {
        await using var writer = await WriterFixture.StartAsync();
        var body = Ndjson(Enumerable.Range(0, 20).Select(i => WriterFixture.Leaf($"z{i}", "acme")));

        using var response = await PostEncodedAsync(writer, Compress(body, encoding), encoding, 20);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(20, ScalarOnStore(writer, "SELECT COUNT(*) FROM records"));
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    public async Task Ingest_CompressedBodyExpandingPastTheCap_Returns413ProblemAndStoresNothing(string encoding)
    {
        await using var writer = await WriterFixture.StartAsync(extraArgs: ["--Writer:MaxIngestBytes=65536"]);
        // A zip bomb in small: 2 MiB of newlines compress to a few KiB, well under the cap before decompression.
        var bomb = Compress([.. WriterFixture.Leaf("first", "acme"), .. Enumerable.Repeat((byte)'\n', 2 * 1024 * 1024)], encoding);
        Assert.True(bomb.Length < 65536);

        using var response = await PostEncodedAsync(writer, bomb, encoding, 1);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("batch_too_large", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Equal(0, ScalarOnStore(writer, "SELECT COUNT(*) FROM records"));
    }

    [Theory]
    [InlineData(200, HttpStatusCode.OK, 200)]
    [InlineData(400, HttpStatusCode.RequestEntityTooLarge, 0)]
    public async Task Ingest_ChunkedBodyWithoutContentLength_IsReadWholeUpToTheCapAndRefusedPastIt(int records, HttpStatusCode status, long stored)
    {
        // The body is read in growing pooled buffers (from 64 KiB) because no Content-Length sizes it.
        await using var writer = await WriterFixture.StartAsync(extraArgs: ["--Writer:MaxIngestBytes=100000"]);
        var body = Ndjson(Enumerable.Range(0, records).Select(i => WriterFixture.Leaf($"chunk{i}", "acme")));
        Assert.Equal(status == HttpStatusCode.OK, body.Length <= 100_000);
        Assert.True(body.Length > 64 * 1024, "the body must outgrow the first buffer");
        using var client = writer.Client();
        using var content = new StreamContent(new NonSeekableStream(body));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Edge.Audit.Shipping.IngestProtocol.ContentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, Edge.Audit.Shipping.IngestProtocol.Path) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Add(Edge.Audit.Shipping.IngestProtocol.LastSequenceHeader, records.ToString(System.Globalization.CultureInfo.InvariantCulture));

        using var response = await client.SendAsync(request);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal(stored, ScalarOnStore(writer, "SELECT COUNT(*) FROM records"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Ingest_BatchAboveKestrelsDefaultBodyLimitButWithinMaxIngestBytes_IsStored(bool chunked)
    {
        // The default Writer:MaxIngestBytes (32 MiB) is above Kestrel's own default body limit (30,000,000 bytes).
        await using var writer = await WriterFixture.StartAsync();
        var path = "/" + new string('p', 60_000);
        var body = Ndjson(Enumerable.Range(0, 510).Select(i => WriterFixture.Leaf($"big{i}", "acme", path: path)));
        Assert.InRange(body.Length, 30_000_001, 32 * 1024 * 1024);
        using var client = writer.Client();
        using HttpContent content = chunked ? new StreamContent(new NonSeekableStream(body)) : new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Edge.Audit.Shipping.IngestProtocol.ContentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, Edge.Audit.Shipping.IngestProtocol.Path) { Content = content };
        request.Headers.TransferEncodingChunked = chunked;
        request.Headers.Add(Edge.Audit.Shipping.IngestProtocol.LastSequenceHeader, "510");

        using var response = await client.SendAsync(request);

        // Before, Kestrel's limit threw from the body read: 500 internal_error, which the edge's shipper retries as it is,
        // for ever, where a 413 would have made it send smaller batches.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(510, ScalarOnStore(writer, "SELECT COUNT(*) FROM records"));
    }

    [Fact]
    public async Task Ingest_CompressedBodyOfEmptyMembersPastTheCap_Returns413Problem()
    {
        // Empty gzip members expand to nothing, so the decompressed cap alone never ends such a body.
        await using var writer = await WriterFixture.StartAsync(extraArgs: ["--Writer:MaxIngestBytes=1000"]);
        byte[] member = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // RFC 1952, no data
        var body = Enumerable.Repeat(member, 3_500).SelectMany(m => m).ToArray();
        using var client = writer.Client();
        using var content = new StreamContent(new NonSeekableStream(body));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Edge.Audit.Shipping.IngestProtocol.ContentType);
        content.Headers.ContentEncoding.Add("gzip");
        using var request = new HttpRequestMessage(HttpMethod.Post, Edge.Audit.Shipping.IngestProtocol.Path) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Add(Edge.Audit.Shipping.IngestProtocol.LastSequenceHeader, "1");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("batch_too_large", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
    }

    /// <summary>A body whose length the client cannot know up front, so it is sent chunked.</summary>
    private sealed class NonSeekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }

    [Theory]
    [InlineData("gzip", HttpStatusCode.BadRequest, "invalid_encoding")]
    [InlineData("deflate", HttpStatusCode.UnsupportedMediaType, "unsupported_encoding")]
    public async Task Ingest_CorruptOrUnknownEncoding_ReturnsProblemAndStoresNothing(string encoding, HttpStatusCode status, string code)
    {
        await using var writer = await WriterFixture.StartAsync();

        using var response = await PostEncodedAsync(writer, Ndjson([WriterFixture.Leaf("plain", "acme")]), encoding, 1);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal(code, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Equal(0, ScalarOnStore(writer, "SELECT COUNT(*) FROM records"));
    }

    private static byte[] Ndjson(IEnumerable<byte[]> leaves) => leaves.SelectMany(l => l.Append((byte)'\n')).ToArray();

    private static byte[] Compress(byte[] body, string encoding)
    {
        using var output = new MemoryStream();
        using (Stream compressor = encoding.ToLowerInvariant() is "gzip" or "x-gzip"
                   ? new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Fastest)
                   : new System.IO.Compression.BrotliStream(output, System.IO.Compression.CompressionLevel.Fastest))
        {
            compressor.Write(body);
        }

        return output.ToArray();
    }

    private static async Task<HttpResponseMessage> PostEncodedAsync(WriterFixture writer, byte[] body, string encoding, long lastSequence)
    {
        using var client = writer.Client();
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Edge.Audit.Shipping.IngestProtocol.ContentType);
        content.Headers.ContentEncoding.Add(encoding);
        using var request = new HttpRequestMessage(HttpMethod.Post, Edge.Audit.Shipping.IngestProtocol.Path) { Content = content };
        request.Headers.Add(Edge.Audit.Shipping.IngestProtocol.LastSequenceHeader, lastSequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return await client.SendAsync(request);
    }

    private static void ExecuteOnStore(WriterFixture writer, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={writer.StorePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static long ScalarOnStore(WriterFixture writer, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={writer.StorePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    private static List<string> StoredIds(WriterFixture writer)
    {
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        return store.ReadLeaves().Select(l => JsonDocument.Parse(l.Bytes).RootElement.GetProperty("id").GetString()!).ToList();
    }

    [Fact]
    public async Task Ingest_CrlfLinesAndPaddedRecords_StoresEachLeafWithoutTheSurroundingWhitespace()
    {
        await using var writer = await WriterFixture.StartAsync();
        var leaves = new[] { WriterFixture.Leaf("crlf", "acme"), WriterFixture.Leaf("padded", "acme") };
        var body = leaves[0].Concat("\r\n"u8.ToArray()).Concat(" \t"u8.ToArray()).Concat(leaves[1]).Concat(" \r\n"u8.ToArray()).ToArray();

        using var response = await PostEncodedAsync(writer, body, "identity", 2);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        foreach (var leaf in store.ReadLeaves())
        {
            Assert.Equal((byte)'{', leaf.Bytes[0]);
            Assert.Equal((byte)'}', leaf.Bytes[^1]);
        }

        Assert.Equal(["crlf", "padded"], StoredIds(writer));
    }

    [Fact]
    public async Task Ingest_CarriageReturnBetweenMembers_Returns400InvalidRecordAndStoresNothing()
    {
        // Committed before: the export line then held a CR, and a verifier reading the export as text lines split the
        // record in two and hashed other bytes (an independent Python verifier in text mode did).
        await using var writer = await WriterFixture.StartAsync();
        var leaf = WriterFixture.Leaf("cr", "acme");
        var withCr = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(leaf).Replace(",\"id\":", ",\r\"id\":", StringComparison.Ordinal));
        Assert.NotEqual(leaf, withCr);

        await AssertSecondLineRefusedAsync(writer, withCr, "Line 2: a carriage return");
    }

    [Theory]
    [InlineData("erased")]
    [InlineData("pruned")]
    public async Task Ingest_RecordWithAWriterOnlyDecision_Returns400InvalidRecordAndStoresNothing(string decision)
    {
        // Only the writer's own subject.erased record says "erased", and only its retention batches say "pruned"; under
        // another type a sender's record was committed and listed among the erasures (decision=erased) or prunes that
        // compliance reviews read, naming whatever it chose.
        await using var writer = await WriterFixture.StartAsync();
        var forged = WriterFixture.Leaf("forged", "acme", decision: decision, principal: "dpo");

        await AssertSecondLineRefusedAsync(writer, forged, "Line 2: this record type (or decision erased or pruned)");
    }

    [Theory]
    [InlineData("\"../../x\"")]
    [InlineData("\"acme:corp\"")]
    [InlineData("\"ac me\"")]
    [InlineData("\"..\"")]
    [InlineData("\"\"")]
    [InlineData("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"")] // 65 characters
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("[\"acme\"]")]
    public async Task Ingest_RecordWhoseTenantIsNotATenantId_Returns400InvalidRecordAndStoresNothing(string tenantJson)
    {
        // Before: stored, indexed under a tenant no reader filter (tenant= takes tenant ids only), no tenant-scoped
        // auditor or eraser and no Writer:Retention:Tenants entry can name; a non-string tenant was indexed as none while
        // the leaf said otherwise.
        await using var writer = await WriterFixture.StartAsync();
        var leaf = WithMember(WriterFixture.Leaf("bad", "acme"), "\"tenant\":\"acme\"", "\"tenant\":" + tenantJson);

        await AssertSecondLineRefusedAsync(writer, leaf, "Line 2: tenant ");
    }

    [Theory]
    [InlineData(null)] // no tenant step on the route: the record has no tenant member
    [InlineData("acme")]
    [InlineData("Acme.EU_west-1")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 64 characters, the longest the edge takes
    public async Task Ingest_RecordWithATenantTheEdgeCanWrite_IsStored(string? tenant)
    {
        await using var writer = await WriterFixture.StartAsync();

        using var response = await writer.IngestAsync([WriterFixture.Leaf("t1", tenant!)], 1);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, writer.Services.GetRequiredService<AuditLog>().Size);
    }

    [Theory]
    [InlineData("\"banKey\":5")]
    [InlineData("\"banKey\":{\"key\":\"203.0.113.7\"}")]
    [InlineData("\"banKey\":null")]
    [InlineData("\"banKey\":[\"203.0.113.7\"]")]
    [InlineData("\"banKey\":true")]
    public async Task Ingest_SubjectMemberThatIsNotAString_Returns400InvalidRecordAndStoresNothing(string member)
    {
        // Only string members are sealed with the subject: before, any other member was dropped from the committed leaf
        // (and from what the read API shows) while the edge was told its record was stored.
        await using var writer = await WriterFixture.StartAsync();
        var leaf = WithMember(WriterFixture.Leaf("detail", "acme"), "\"clientIp\":\"127.0.0.1\"", "\"clientIp\":\"127.0.0.1\"," + member);

        await AssertSecondLineRefusedAsync(writer, leaf, "Line 2: data.subject");
    }

    [Theory]
    [InlineData("\"principal\":5,\"clientIp\":\"127.0.0.1\"")]
    [InlineData("\"principal\":\"bob\",\"clientIp\":[\"127.0.0.1\"]")]
    [InlineData("\"banKey\":\"203.0.113.7\"")] // a detail without a principal or client IP has no key to be sealed under
    public async Task Ingest_SubjectTheWriterCannotSealWhole_Returns400InvalidRecordAndStoresNothing(string members)
    {
        await using var writer = await WriterFixture.StartAsync();
        var leaf = WithMember(WriterFixture.Leaf("whole", "acme", principal: "bob"), "\"principal\":\"bob\",\"clientIp\":\"127.0.0.1\"", members);

        await AssertSecondLineRefusedAsync(writer, leaf, "Line 2: data.subject");
    }

    [Fact]
    public async Task Ingest_SubjectThatIsNotAnObject_Returns400InvalidRecordAndStoresNothing()
    {
        // Before: replaced by {"protection":"none"}, so the principal it named was dropped from the committed leaf.
        await using var writer = await WriterFixture.StartAsync();
        var leaf = Encoding.UTF8.GetBytes(Regex.Replace(Encoding.UTF8.GetString(WriterFixture.Leaf("flat", "acme", principal: "bob")), "\"subject\":\\{[^}]*\\}", "\"subject\":\"bob\""));

        await AssertSecondLineRefusedAsync(writer, leaf, "Line 2: data.subject");
    }

    [Fact]
    public async Task Ingest_SubjectWithStringDetails_IsStoredAndReadBackWithThem()
    {
        await using var writer = await WriterFixture.StartAsync();
        var leaf = WithMember(WriterFixture.Leaf("ban", "acme"), "\"clientIp\":\"127.0.0.1\"", "\"clientIp\":\"127.0.0.1\",\"banKey\":\"127.0.0.1\"");

        using var response = await writer.IngestAsync([leaf], 1);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        var record = JsonDocument.Parse(await auditor.GetStringAsync("/audit/records")).RootElement.GetProperty("records")[0];

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("127.0.0.1", record.GetProperty("record").GetProperty("data").GetProperty("subject").GetProperty("banKey").GetString());
    }

    [Fact]
    public async Task Ingest_RecordOverMaxRecordBytes_Returns413RecordTooLargeAndStoresNothing()
    {
        // Before: no per-record cap, only the batch's; a few records of 30 MB each were stored, and one page of
        // /audit/records?limit=1000 would have had to hold them all.
        await using var writer = await WriterFixture.StartAsync(extraArgs: ["--Writer:MaxRecordBytes=4096"]);
        var fits = WriterFixture.Leaf("fits", "acme", path: "/" + new string('p', 3000));
        var over = WriterFixture.Leaf("over", "acme", path: "/" + new string('p', 4096));
        Assert.InRange(fits.Length, 3000, 4096);

        using var response = await writer.IngestAsync([fits, over], 2);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("record_too_large", problem.GetProperty("code").GetString());
        Assert.StartsWith("Line 2: ", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, writer.Services.GetRequiredService<AuditLog>().Size);
        using var alone = await writer.IngestAsync([fits], 1);
        Assert.Equal(HttpStatusCode.OK, alone.StatusCode);
    }

    [Fact]
    public async Task Ingest_RecordOverTheDefaultCap_Returns413RecordTooLarge()
    {
        await using var writer = await WriterFixture.StartAsync();
        var over = WriterFixture.Leaf("over", "acme", path: "/" + new string('p', 1024 * 1024));

        using var response = await writer.IngestAsync([over], 1);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("record_too_large", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Equal(0, writer.Services.GetRequiredService<AuditLog>().Size);
    }

    private static byte[] WithMember(byte[] leaf, string from, string to)
    {
        var text = Encoding.UTF8.GetString(leaf);
        Assert.Contains(from, text, StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(text.Replace(from, to, StringComparison.Ordinal));
    }

    /// <summary>Sends a good record and then <paramref name="refused"/>: 400 invalid_record about line 2, nothing stored.</summary>
    private static async Task AssertSecondLineRefusedAsync(WriterFixture writer, byte[] refused, string detailStart)
    {
        using var response = await writer.IngestAsync([WriterFixture.Leaf("ok", "acme"), refused], 2);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("invalid_record", problem.GetProperty("code").GetString());
        Assert.StartsWith(detailStart, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        Assert.Equal(0, store.Count());
    }

    [Fact]
    public async Task Ingest_InvalidRecord_Returns400ProblemAndStoresNothing()
    {
        await using var writer = await WriterFixture.StartAsync();

        using var response = await writer.IngestAsync([WriterFixture.Leaf("ok", "acme"), "{\"not\":\"an event\"}"u8.ToArray()], 2);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("invalid_record", problem.GetProperty("code").GetString());
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        Assert.Equal(0, store.Count());
    }

    [Theory]
    [InlineData("\"id\":\"")]
    [InlineData("\"path\":\"")]
    public async Task Ingest_RecordWithInvalidUtf8_Returns400InvalidRecordAndStoresNothing(string member)
    {
        // Before: invalid UTF-8 in the id threw out of the parse (500, and the edge retried the batch for ever); in the
        // path it was committed, and the CSV export failed on the record from then on.
        await using var writer = await WriterFixture.StartAsync();
        var leaf = WriterFixture.Leaf("bad", "acme");
        var at = leaf.AsSpan().IndexOf(Encoding.UTF8.GetBytes(member)) + Encoding.UTF8.GetByteCount(member);
        leaf = [.. leaf[..at], 0xC3, 0x28, .. leaf[at..]];

        using var response = await writer.IngestAsync([WriterFixture.Leaf("ok", "acme"), leaf], 2);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("invalid_record", problem.GetProperty("code").GetString());
        Assert.StartsWith("Line 2: A record's strings must be valid UTF-8", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        Assert.Equal(0, store.Count());
    }

    [Theory]
    [InlineData("text/plain", 415)]
    [InlineData("application/x-www-form-urlencoded", 415)]
    [InlineData(null, 415)]
    [InlineData("application/x-ndjson; charset=utf-8", 200)]
    [InlineData("APPLICATION/X-NDJSON", 200)]
    [InlineData("application/x-ndjson; charset=UTF-8", 200)]
    [InlineData("application/x-ndjson; charset=\"utf-8\"", 200)]
    [InlineData("application/x-ndjson; charset=iso-8859-1", 415)] // before: 200, the bytes read as UTF-8 whatever they were
    [InlineData("application/x-ndjson; charset=utf-16", 415)]
    public async Task Ingest_ContentType_OnlyNdjsonIsTaken(string? contentType, int status)
    {
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client();
        using var content = new ByteArrayContent([.. WriterFixture.Leaf("typed", "acme"), (byte)'\n']);
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, Edge.Audit.Shipping.IngestProtocol.Path) { Content = content };
        request.Headers.Add(Edge.Audit.Shipping.IngestProtocol.LastSequenceHeader, "1");
        using var response = await client.SendAsync(request);

        // Before, a text/plain (or form) body was parsed as records and stored like the shipper's.
        Assert.Equal(status, (int)response.StatusCode);
        if (status == 415)
        {
            Assert.Equal("unsupported_media_type", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
            Assert.Equal(0, writer.Services.GetRequiredService<AuditLog>().Size);
        }
    }

    [Fact]
    public async Task Ingest_MissingSequenceHeader_Returns400Problem()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client();

        using var response = await client.PostAsync(Edge.Audit.Shipping.IngestProtocol.Path, new ByteArrayContent(WriterFixture.Leaf("a", "acme")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("missing_sequence", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingest_WithIngestTokenConfigured_RefusesMissingOrWrongTokenAndAcceptsTheRightOne()
    {
        var variable = "EDGE_TEST_INGEST_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "ingest-token-0123456789");
        await using var writer = await WriterFixture.StartAsync(extraArgs: [$"--Writer:IngestToken=env:{variable}"]);

        using var missing = await writer.IngestAsync([WriterFixture.Leaf("a", "acme")], 1);
        using var wrong = await writer.IngestAsync([WriterFixture.Leaf("a", "acme")], 1, token: "ingest-token-0123456780");
        using var right = await writer.IngestAsync([WriterFixture.Leaf("a", "acme")], 1, token: "ingest-token-0123456789");

        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Contains("ingest_unauthenticated", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("Bearer realm=\"edge-audit-ingest\"", Assert.Single(missing.Headers.WwwAuthenticate).ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Single(wrong.Headers.WwwAuthenticate);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        Assert.Equal(1, store.Count());
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("rebind.attacker.test:8443")]
    [InlineData("127.1")]
    public async Task Ingest_NoTokenAndAHostNameAPageCouldRebind_Returns403IngestLocalOnlyAndStoresNothing(string host)
    {
        // A page in a browser on this machine that points its own DNS name at 127.0.0.1 reaches the writer from loopback,
        // same-origin; only its Host gives it away. Before, a token-less writer signed whatever it sent into the log.
        await using var writer = await WriterFixture.StartAsync();

        using var response = await writer.IngestAsync([WriterFixture.Leaf("forged", "acme")], 1, host: host);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("ingest_local_only", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        Assert.Equal(0, store.Count());
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("LOCALHOST:9902")]
    [InlineData("127.0.0.1:9902")]
    [InlineData("[::1]:9902")]
    public async Task Ingest_NoTokenFromLoopbackNamingThisMachineLiterally_IsStored(string host)
    {
        await using var writer = await WriterFixture.StartAsync();

        using var response = await writer.IngestAsync([WriterFixture.Leaf("local", "acme")], 1, host: host);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        Assert.Equal(1, store.Count());
    }

    [Fact]
    public async Task Ingest_WithIngestTokenAndADnsHostName_IsStored()
    {
        // With a token the Host is not what protects ingest: edges may reach the writer by any name.
        var variable = "EDGE_TEST_INGEST_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "ingest-token-0123456789");
        await using var writer = await WriterFixture.StartAsync(extraArgs: [$"--Writer:IngestToken=env:{variable}"]);

        using var response = await writer.IngestAsync([WriterFixture.Leaf("a", "acme")], 1, token: "ingest-token-0123456789", host: "audit-writer.internal:9902");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
