using Microsoft.Data.Sqlite;
using Tally.Contract;

namespace Tally.Client;

/// <summary>
/// The client's durable memory (an embedded SQLite file): events Tally has not yet accepted, in the order they were
/// tracked, with their ids and client times; and what the client decided offline, until Tally has the report. Every
/// change is one transaction, so a crash of the application keeps either all of a batch or none of it. One connection,
/// used under a lock: the sender and offline access checks are its only writers.
/// </summary>
internal sealed class LocalBuffer : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly object _gate = new();
    private long _count;
    private int _offlineRecords;

    public LocalBuffer(string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = full, Pooling = false }.ToString());
        _db.Open();
        if (!OperatingSystem.IsWindows())
        {
            // It names users and apps: readable by the application's own account only (SQLite gives its -wal and -shm files the same mode).
            File.SetUnixFileMode(full, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        // WAL with FULL sync: an accepted append survives a crash of the process and of the machine.
        Execute("""
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            CREATE TABLE IF NOT EXISTS events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, user TEXT, device TEXT, app TEXT, action TEXT NOT NULL, time TEXT);
            CREATE TABLE IF NOT EXISTS offline (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, event_id TEXT, user TEXT, device TEXT, app TEXT, action TEXT,
                time_ticks INTEGER NOT NULL, minutes INTEGER NOT NULL DEFAULT 0, count INTEGER NOT NULL DEFAULT 1);
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            """);
        using var count = Command("SELECT COUNT(*) FROM events");
        _count = (long)count.ExecuteScalar()!;
        using var offline = Command("SELECT COUNT(*) FROM offline");
        _offlineRecords = (int)(long)offline.ExecuteScalar()!;
    }

    /// <summary>Events waiting for Tally.</summary>
    public long Count { get { lock (_gate) { return _count; } } }

    /// <summary>
    /// Appends <paramref name="events"/> after what is buffered. Past <paramref name="max"/> events, <paramref name="policy"/>
    /// drops the newest or the oldest; the drop is recorded for the offline report. Returns the events dropped.
    /// </summary>
    public long Append(IReadOnlyList<EventDto> events, long max, BufferFullPolicy policy, DateTimeOffset now)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            var room = Math.Max(0, max - _count);
            var keep = policy == BufferFullPolicy.DropNewest ? events.Take((int)Math.Min(room, events.Count)).ToList() : events.TakeLast((int)Math.Min(max, events.Count)).ToList();
            long dropped = events.Count - keep.Count;
            if (policy == BufferFullPolicy.DropOldest && keep.Count > room)
            {
                var evict = keep.Count - room;
                using var delete = Command("DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT $n)", tx);
                delete.Parameters.AddWithValue("$n", evict);
                dropped += delete.ExecuteNonQuery();
                _count -= evict;
            }
            using var insert = Command("INSERT INTO events (id, user, device, app, action, time) VALUES ($id, $user, $device, $app, $action, $time)", tx);
            var id = insert.Parameters.Add("$id", SqliteType.Text);
            var user = insert.Parameters.Add("$user", SqliteType.Text);
            var device = insert.Parameters.Add("$device", SqliteType.Text);
            var app = insert.Parameters.Add("$app", SqliteType.Text);
            var action = insert.Parameters.Add("$action", SqliteType.Text);
            var time = insert.Parameters.Add("$time", SqliteType.Text);
            foreach (var e in keep)
            {
                id.Value = e.Id;
                user.Value = (object?)e.User ?? DBNull.Value;
                device.Value = (object?)e.Device ?? DBNull.Value;
                app.Value = (object?)e.App ?? DBNull.Value;
                action.Value = e.Action;
                time.Value = (object?)e.Time ?? DBNull.Value;
                insert.ExecuteNonQuery();
            }
            if (dropped > 0)
            {
                AddOffline(tx, "dropped", null, now, 0, dropped);
            }
            tx.Commit();
            _count += keep.Count;
            return dropped;
        }
    }

    /// <summary>The oldest <paramref name="n"/> buffered events, oldest first.</summary>
    public IReadOnlyList<(long Seq, EventDto Event)> Peek(int n)
    {
        lock (_gate)
        {
            using var select = Command("SELECT seq, id, user, device, app, action, time FROM events ORDER BY seq LIMIT $n");
            select.Parameters.AddWithValue("$n", n);
            using var reader = select.ExecuteReader();
            var rows = new List<(long, EventDto)>();
            while (reader.Read())
            {
                rows.Add((reader.GetInt64(0), new EventDto(reader.GetString(1), Text(reader, 2), Text(reader, 3), Text(reader, 4), reader.GetString(5), Text(reader, 6))));
            }
            return rows;
        }
    }

    /// <summary>Forgets the oldest buffered events, through <paramref name="lastSeq"/>: Tally has them all (the usual drain).</summary>
    public void RemoveThrough(long lastSeq)
    {
        lock (_gate)
        {
            using var delete = Command("DELETE FROM events WHERE seq <= $last");
            delete.Parameters.AddWithValue("$last", lastSeq);
            _count -= delete.ExecuteNonQuery();
        }
    }

    /// <summary>Forgets the buffered events <paramref name="seqs"/>: Tally has them (or refused one for good), others stay.</summary>
    public void Remove(IReadOnlyCollection<long> seqs)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            using var delete = Command("DELETE FROM events WHERE seq = $seq", tx);
            var seq = delete.Parameters.Add("$seq", SqliteType.Integer);
            var removed = 0;
            foreach (var s in seqs)
            {
                seq.Value = s;
                removed += delete.ExecuteNonQuery();
            }
            tx.Commit();
            _count -= removed;
        }
    }

    /// <summary>Records an access check allowed offline (<paramref name="minutes"/> of grace, 0 when covered by a local unit).</summary>
    public void AddGrant(EventDto e, DateTimeOffset at, int minutes)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            AddOffline(tx, "grant", e, at, minutes, 1);
            tx.Commit();
        }
    }

    /// <summary>Records an access check denied offline.</summary>
    public void AddDenied(DateTimeOffset at)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            AddOffline(tx, "denied", null, at, 0, 1);
            tx.Commit();
        }
    }

    /// <summary>The grants not yet reported, oldest first (for the local units and the grace already used).</summary>
    public IReadOnlyList<OfflineGrant> Grants()
    {
        lock (_gate)
        {
            return ReadOffline(long.MaxValue).Grants;
        }
    }

    /// <summary>
    /// The report of everything decided offline so far, or null when there is nothing to report. Its id and extent are
    /// fixed the first time it is asked for and kept until <see cref="Reported"/>: a resend after a lost answer is the same
    /// report, which Tally keeps once; what is decided offline meanwhile goes in the next one.
    /// </summary>
    /// <remarks>A report takes at most <paramref name="maxGrants"/> grants; what follows them waits for the next report.</remarks>
    public (OfflineReport Report, long ThroughSeq)? PendingReport(string client, string policy, int budget, int maxGrants = int.MaxValue)
    {
        lock (_gate)
        {
            var id = Meta("report_id");
            var through = Meta("report_through") is { } t ? long.Parse(t, System.Globalization.CultureInfo.InvariantCulture) : 0;
            if (id is null)
            {
                using var max = Command("SELECT COALESCE(MAX(seq), 0) FROM offline");
                through = (long)max.ExecuteScalar()!;
                using var lastGrant = Command("SELECT seq FROM offline WHERE kind = 'grant' ORDER BY seq LIMIT 1 OFFSET $skip");
                lastGrant.Parameters.AddWithValue("$skip", Math.Max(0, maxGrants - 1));
                if (lastGrant.ExecuteScalar() is long cut)
                {
                    through = Math.Min(through, cut);
                }
                if (through == 0)
                {
                    return null;
                }
                id = Guid.NewGuid().ToString("N");
                using var tx = _db.BeginTransaction();
                SetMeta(tx, "report_id", id);
                SetMeta(tx, "report_through", through.ToString(System.Globalization.CultureInfo.InvariantCulture));
                SetMeta(tx, "report_client", client);
                SetMeta(tx, "report_policy", policy);
                SetMeta(tx, "report_budget", budget.ToString(System.Globalization.CultureInfo.InvariantCulture));
                tx.Commit();
            }
            var read = ReadOffline(through);
            var report = new OfflineReport(id, Meta("report_client") ?? client, Meta("report_policy") ?? policy,
                int.Parse(Meta("report_budget") ?? "0", System.Globalization.CultureInfo.InvariantCulture),
                read.From, read.To, read.Grants, read.Denied, read.Dropped);
            return (report, through);
        }
    }

    /// <summary>Tally has the report through <paramref name="throughSeq"/>: its records go, and the grace budget with them.</summary>
    public void Reported(long throughSeq)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            using var delete = Command("DELETE FROM offline WHERE seq <= $through", tx);
            delete.Parameters.AddWithValue("$through", throughSeq);
            var removed = delete.ExecuteNonQuery();
            using var forget = Command("DELETE FROM meta WHERE name LIKE 'report_%'", tx);
            forget.ExecuteNonQuery();
            tx.Commit();
            _offlineRecords -= removed;
        }
    }

    /// <summary>Offline records not yet reported (kept in memory: <c>Status</c> reads it often).</summary>
    public int OfflineRecords { get { lock (_gate) { return _offlineRecords; } } }

    public void Dispose()
    {
        lock (_gate)
        {
            _db.Dispose();
        }
    }

    private (IReadOnlyList<OfflineGrant> Grants, int Denied, long Dropped, DateTimeOffset? From, DateTimeOffset? To) ReadOffline(long through)
    {
        using var select = Command("SELECT kind, event_id, user, device, app, action, time_ticks, minutes, count FROM offline WHERE seq <= $through ORDER BY seq");
        select.Parameters.AddWithValue("$through", through);
        using var reader = select.ExecuteReader();
        var grants = new List<OfflineGrant>();
        int denied = 0;
        long dropped = 0;
        DateTimeOffset? from = null, to = null;
        while (reader.Read())
        {
            var at = new DateTimeOffset(reader.GetInt64(6), TimeSpan.Zero);
            from = from is null || at < from ? at : from;
            to = to is null || at > to ? at : to;
            switch (reader.GetString(0))
            {
                case "grant":
                    grants.Add(new OfflineGrant(Text(reader, 1), Text(reader, 2), Text(reader, 3), Text(reader, 4), Text(reader, 5), at, reader.GetInt32(7)));
                    break;
                case "denied":
                    denied += reader.GetInt32(8);
                    break;
                default:
                    dropped += reader.GetInt64(8);
                    break;
            }
        }
        return (grants, denied, dropped, from, to);
    }

    private void AddOffline(SqliteTransaction tx, string kind, EventDto? e, DateTimeOffset at, int minutes, long count)
    {
        using var insert = Command("""
            INSERT INTO offline (kind, event_id, user, device, app, action, time_ticks, minutes, count)
            VALUES ($kind, $id, $user, $device, $app, $action, $ticks, $minutes, $count)
            """, tx);
        insert.Parameters.AddWithValue("$kind", kind);
        insert.Parameters.AddWithValue("$id", (object?)e?.Id ?? DBNull.Value);
        insert.Parameters.AddWithValue("$user", (object?)e?.User ?? DBNull.Value);
        insert.Parameters.AddWithValue("$device", (object?)e?.Device ?? DBNull.Value);
        insert.Parameters.AddWithValue("$app", (object?)e?.App ?? DBNull.Value);
        insert.Parameters.AddWithValue("$action", (object?)e?.Action ?? DBNull.Value);
        insert.Parameters.AddWithValue("$ticks", at.UtcTicks);
        insert.Parameters.AddWithValue("$minutes", minutes);
        insert.Parameters.AddWithValue("$count", count);
        insert.ExecuteNonQuery();
        // Counted when the caller's transaction commits: every caller commits right after, under the same lock.
        _offlineRecords++;
    }

    private string? Meta(string name)
    {
        using var select = Command("SELECT value FROM meta WHERE name = $name");
        select.Parameters.AddWithValue("$name", name);
        return select.ExecuteScalar() as string;
    }

    private void SetMeta(SqliteTransaction tx, string name, string value)
    {
        using var upsert = Command("INSERT INTO meta (name, value) VALUES ($name, $value) ON CONFLICT (name) DO UPDATE SET value = excluded.value", tx);
        upsert.Parameters.AddWithValue("$name", name);
        upsert.Parameters.AddWithValue("$value", value);
        upsert.ExecuteNonQuery();
    }

    private void Execute(string sql)
    {
        using var command = Command(sql);
        command.ExecuteNonQuery();
    }

    private SqliteCommand Command(string sql, SqliteTransaction? tx = null)
    {
        var command = _db.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        return command;
    }

    private static string? Text(SqliteDataReader reader, int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
}
