using Npgsql;

namespace Tally.Cluster.Tests;

/// <summary>What the shared ledger holds for a tenant, read with SQL: the judge of what the cluster acknowledged.</summary>
public sealed record Ledger(IReadOnlyDictionary<string, string> Decisions, long Events, long PoolMinutes, long UnitMinutes)
{
    public static Ledger Read(ClusterNodes nodes, string tenant)
    {
        using var connection = nodes.Open();
        var decisions = new Dictionary<string, string>(StringComparer.Ordinal);
        long events = 0;
        // An event's first decision is carried in its own row (schema v8) or, when it has several, in decisions.
        using (var command = new NpgsqlCommand("""
            SELECT e.event_id, COALESCE(e.decision_kind, (SELECT d.kind FROM decisions d WHERE d.event_seq = e.seq ORDER BY d.idx LIMIT 1), 'none')
            FROM events e WHERE e.tenant = @tenant;
            """, connection))
        {
            command.Parameters.AddWithValue("tenant", tenant);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                events++;
                Assert.True(decisions.TryAdd(reader.GetString(0), reader.GetString(1)), $"event {reader.GetString(0)} is in the ledger twice");
            }
        }
        return new Ledger(decisions, events,
            Scalar(connection, "SELECT COALESCE(SUM(pool_minutes), 0) FROM usage_periods WHERE tenant = @tenant;", tenant),
            Scalar(connection, "SELECT COALESCE(SUM(minutes), 0) FROM units WHERE tenant = @tenant AND license_usage = 'time';", tenant));
    }

    private static long Scalar(NpgsqlConnection connection, string sql, string tenant)
    {
        using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("tenant", tenant);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Every acknowledged event is in the ledger once, with the decision it was answered (or answered <c>duplicate</c>:
    /// a resend of a batch whose first answer was lost); the pool is the sum of its units' minutes.
    /// </summary>
    public void AssertHolds(Traffic traffic, string because)
    {
        var missing = traffic.Acknowledged.Keys.Where(id => !Decisions.ContainsKey(id)).ToList();
        Assert.True(missing.Count == 0, $"{because}: {missing.Count} acknowledged events are not in the ledger, e.g. {string.Join(", ", missing.Take(5))}");
        var changed = traffic.Acknowledged.Where(a => a.Value != "duplicate" && a.Value != Decisions[a.Key]).ToList();
        Assert.True(changed.Count == 0, $"{because}: {changed.Count} events were answered otherwise than recorded, e.g. "
            + string.Join(", ", changed.Take(5).Select(c => $"{c.Key}: answered {c.Value}, recorded {Decisions[c.Key]}")));
        Assert.True(PoolMinutes == UnitMinutes, $"{because}: the pool says {PoolMinutes} minutes, its units {UnitMinutes}");
        Assert.True(UnitMinutes > 0, $"{because}: no unit was charged at all");
    }
}
