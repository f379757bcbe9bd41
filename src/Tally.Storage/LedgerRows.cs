using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Tally.Storage;

/// <summary>
/// A batch of ledger entries as three JSON arrays of rows (events, decisions, units), for stores that insert a whole
/// batch in one statement. Decisions and units name their event by its index in the batch.
/// </summary>
internal static class LedgerRows
{
    public static (string Events, string Decisions, string? Units) Json(IReadOnlyList<LedgerEntry> entries)
    {
        var events = new ArrayBufferWriter<byte>(entries.Count * 112);
        var decisions = new ArrayBufferWriter<byte>(entries.Count * 112);
        var units = new ArrayBufferWriter<byte>(256);
        var anyUnit = false;
        using (var e = new Utf8JsonWriter(events))
        using (var d = new Utf8JsonWriter(decisions))
        using (var u = new Utf8JsonWriter(units))
        {
            e.WriteStartArray();
            d.WriteStartArray();
            u.WriteStartArray();
            for (var i = 0; i < entries.Count; i++)
            {
                var entry = entries[i];
                e.WriteStartArray();
                e.WriteStringValue(entry.EventId);
                e.WriteNumberValue(entry.TimeTicks);
                e.WriteStringValue(entry.ClientTime);
                e.WriteStringValue(entry.User);
                e.WriteStringValue(entry.Device);
                e.WriteStringValue(entry.App);
                e.WriteStringValue(entry.Action);
                e.WriteEndArray();
                for (var j = 0; j < entry.Decisions.Count; j++)
                {
                    var x = entry.Decisions[j];
                    d.WriteStartArray();
                    d.WriteNumberValue(i);
                    d.WriteNumberValue(j);
                    d.WriteStringValue(x.Kind);
                    d.WriteStringValue(x.Reason);
                    d.WriteStringValue(x.User);
                    d.WriteStringValue(x.App);
                    d.WriteStringValue(x.Period);
                    d.WriteNumberValue(x.UnitStartTicks);
                    d.WriteNumberValue(x.UnitEndTicks);
                    d.WriteNumberValue(x.RetryAfterTicks);
                    d.WriteNumberValue(x.Minutes);
                    d.WriteEndArray();
                }
                foreach (var x in entry.Units)
                {
                    anyUnit = true;
                    u.WriteStartArray();
                    u.WriteNumberValue(i);
                    u.WriteStringValue(x.User);
                    u.WriteStringValue(x.Device);
                    u.WriteStringValue(x.App);
                    u.WriteStringValue(x.Period);
                    u.WriteNumberValue(x.StartTicks);
                    u.WriteNumberValue(x.EndTicks);
                    u.WriteNumberValue(x.Minutes);
                    u.WriteStringValue(x.LicenseUsage);
                    u.WriteStringValue(x.Allotment);
                    u.WriteEndArray();
                }
            }
            e.WriteEndArray();
            d.WriteEndArray();
            u.WriteEndArray();
        }
        return (Encoding.UTF8.GetString(events.WrittenSpan), Encoding.UTF8.GetString(decisions.WrittenSpan), anyUnit ? Encoding.UTF8.GetString(units.WrittenSpan) : null);
    }
}
