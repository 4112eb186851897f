using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Edge.Audit.Storage;

public sealed partial class AuditStore
{
    /// <summary>
    /// Rows per multi-row INSERT. Each execution of the insert opens a cursor on the table and each of its indexes,
    /// positions it from the root and closes it again; with one row per execution that was a large share of SQLite's
    /// time per record in perf. Only records whose id <see cref="AppendBatch.StoredOf"/> found absent take this path.
    /// </summary>
    internal const int RowsPerInsert = 32;

    private const int RecordColumns = 10;

    private sqlite3_stmt? _rawInsertRows;
    private sqlite3_stmt? _rawLinkRows;

    // OR IGNORE, not ON CONFLICT DO NOTHING: no constraint can abort the statement half way, so SQLite needs no statement
    // journal for it; a row it ignores would leave a gap in the indexes, so the batch checks the count and fails instead.
    private sqlite3_stmt RawInsertRows => _rawInsertRows ??= PrepareRaw(
        "INSERT OR IGNORE INTO records (idx, record_id, time_ms, tenant, principal, route, decision, reason, leaf, leaf_hash) VALUES "
        + RowsOf(RecordColumns));

    private sqlite3_stmt RawLinkRows => _rawLinkRows ??= PrepareRaw("INSERT OR IGNORE INTO recent_record_subjects (idx, subject) VALUES " + RowsOf(2));

    private static string RowsOf(int columns)
    {
        var sql = new StringBuilder();
        for (var row = 0; row < RowsPerInsert; row++)
        {
            sql.Append(row == 0 ? "(" : ", (");
            for (var column = 1; column <= columns; column++)
            {
                sql.Append(column == 1 ? "?" : ", ?").Append(((row * columns) + column).ToString(CultureInfo.InvariantCulture));
            }

            sql.Append(')');
        }

        return sql.ToString();
    }

    private void DisposeRowStatements()
    {
        _rawInsertRows?.Dispose();
        _rawLinkRows?.Dispose();
    }

    public sealed partial class AppendBatch
    {
        // Ids StoredOf found absent and not yet added: such a record cannot conflict, so it can wait for a full
        // multi-row insert. Any other id is inserted alone, which answers whether it was new.
        private readonly HashSet<string> _knownAbsent = new(StringComparer.Ordinal);
        private readonly List<(long Index, PendingLeaf Leaf)> _pendingRows = new(RowsPerInsert);
        private readonly List<(long Index, long Subject)> _pendingLinks = new(RowsPerInsert);

        private void NoteAbsent(IReadOnlyCollection<string> recordIds, HashSet<string> stored)
        {
            foreach (var id in recordIds)
            {
                if (!stored.Contains(id))
                {
                    _knownAbsent.Add(id);
                }
            }
        }

        /// <summary>Queues a record StoredOf found absent (true), to be inserted with the next full set of rows.</summary>
        private bool TryQueue(PendingLeaf leaf)
        {
            if (!_knownAbsent.Remove(leaf.Summary.Id))
            {
                return false;
            }

            _pendingRows.Add((_nextIndex, leaf));
            if (leaf.SubjectId is { } subject)
            {
                _pendingLinks.Add((_nextIndex, subject));
                _links++;
            }

            _appended.Add(leaf.Hash);
            _nextIndex++;
            if (_pendingRows.Count == RowsPerInsert)
            {
                InsertQueuedRows();
            }

            if (_pendingLinks.Count == RowsPerInsert)
            {
                InsertQueuedLinks();
            }

            return true;
        }

        /// <summary>Inserts what <see cref="TryQueue"/> holds; before anything that reads records or ends the batch.</summary>
        private void InsertQueued()
        {
            InsertQueuedRows();
            InsertQueuedLinks();
        }

        private void InsertQueuedRows()
        {
            if (_pendingRows.Count == 0)
            {
                return;
            }

            var db = _store._writer.Handle!;
            if (_pendingRows.Count == RowsPerInsert)
            {
                var insert = _store.RawInsertRows;
                ExecuteRows(insert, db, () =>
                {
                    for (var row = 0; row < _pendingRows.Count; row++)
                    {
                        BindRecord(insert, row * RecordColumns, _pendingRows[row].Index, _pendingRows[row].Leaf, db);
                    }
                });
            }
            else
            {
                foreach (var (index, leaf) in _pendingRows)
                {
                    if (!InsertRecord(index, leaf))
                    {
                        throw Unexpected();
                    }
                }
            }

            _pendingRows.Clear();
        }

        private void InsertQueuedLinks()
        {
            if (_pendingLinks.Count == 0)
            {
                return;
            }

            var db = _store._writer.Handle!;
            if (_pendingLinks.Count == RowsPerInsert)
            {
                var link = _store.RawLinkRows;
                ExecuteRows(link, db, () =>
                {
                    for (var row = 0; row < _pendingLinks.Count; row++)
                    {
                        Check(raw.sqlite3_bind_int64(link, (row * 2) + 1, _pendingLinks[row].Index), db);
                        Check(raw.sqlite3_bind_int64(link, (row * 2) + 2, _pendingLinks[row].Subject), db);
                    }
                });
            }
            else
            {
                foreach (var (index, subject) in _pendingLinks)
                {
                    InsertLink(index, subject);
                }
            }

            _pendingLinks.Clear();
        }

        private static void ExecuteRows(sqlite3_stmt statement, sqlite3 db, Action bind)
        {
            int rc;
            try
            {
                bind();
                rc = raw.sqlite3_step(statement);
            }
            finally
            {
                raw.sqlite3_reset(statement);
            }

            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, db);
            }

            if (raw.sqlite3_changes(db) != RowsPerInsert)
            {
                throw Unexpected();
            }
        }

        // A DbException, so that ingest rolls the batch back and answers 503 like any other store failure.
        private static SqliteException Unexpected() =>
            new("A record StoredOf found absent was not inserted; the batch is rolled back.", raw.SQLITE_CONSTRAINT);

        /// <summary>Binds one record's ten columns from parameter <paramref name="offset"/> + 1 on.</summary>
        private static void BindRecord(sqlite3_stmt insert, int offset, long index, PendingLeaf leaf, sqlite3 db)
        {
            var summary = leaf.Summary;
            Check(raw.sqlite3_bind_int64(insert, offset + 1, index), db);
            BindText(insert, offset + 2, summary.Id, db);
            Check(raw.sqlite3_bind_int64(insert, offset + 3, summary.Time.ToUnixTimeMilliseconds()), db);
            BindText(insert, offset + 4, summary.Tenant, db);
            BindText(insert, offset + 5, summary.Principal, db);
            BindText(insert, offset + 6, summary.Route, db);
            BindText(insert, offset + 7, summary.Decision, db);
            BindText(insert, offset + 8, summary.Reason, db);
            Check(raw.sqlite3_bind_blob(insert, offset + 9, leaf.Bytes), db);
            Check(raw.sqlite3_bind_blob(insert, offset + 10, leaf.Hash), db);
        }
    }
}
