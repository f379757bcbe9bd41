using System.Text;
using Tally.Metering;

namespace Tally.Cli.EventLog;

/// <summary>
/// Resolves names given as ASCII bytes to the ids of one <see cref="SymbolTable"/>, so the CSV reader can intern a
/// field without widening it to UTF-16 and hashing it with the randomised string hash: a month has a few hundred apps
/// and some thousands of users that repeat millions of times. A name is handed to the table (as text) only on its
/// first sight here, so the table hands out exactly the ids it would have given the same names read as text.
/// Open addressing over one array of entries, the names' bytes kept in one growing arena; one instance per chunk and
/// table, used by one thread.
/// </summary>
internal sealed class AsciiSymbols(SymbolTable table)
{
    private readonly SymbolTable _table = table;
    private Entry[] _entries = new Entry[256];
    private int _count;
    private byte[] _arena = new byte[4096];
    private int _arenaUsed;

    private readonly record struct Entry(int Hash, int Start, int Length, int Id);

    /// <summary>The table's id for <paramref name="name"/> (printable ASCII, at most <see cref="EventValidation.MaxFieldLength"/> bytes); 0 when empty.</summary>
    public int Intern(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty)
        {
            return 0;
        }
        var hash = Hash(name);
        var mask = _entries.Length - 1;
        for (var slot = hash & mask; ; slot = (slot + 1) & mask)
        {
            var entry = _entries[slot];
            if (entry.Id == 0)
            {
                return Add(name, hash, slot);
            }
            if (entry.Hash == hash && entry.Length == name.Length && _arena.AsSpan(entry.Start, entry.Length).SequenceEqual(name))
            {
                return entry.Id;
            }
        }
    }

    private int Add(ReadOnlySpan<byte> name, int hash, int slot)
    {
        Span<char> text = stackalloc char[name.Length];
        Encoding.ASCII.GetChars(name, text);
        var id = _table.Intern(text);
        if (_arenaUsed + name.Length > _arena.Length)
        {
            Array.Resize(ref _arena, Math.Max(_arena.Length * 2, _arenaUsed + name.Length));
        }
        name.CopyTo(_arena.AsSpan(_arenaUsed));
        _entries[slot] = new Entry(hash, _arenaUsed, name.Length, id);
        _arenaUsed += name.Length;
        if (++_count * 2 > _entries.Length)
        {
            Grow();
        }
        return id;
    }

    private void Grow()
    {
        var old = _entries;
        _entries = new Entry[old.Length * 2];
        var mask = _entries.Length - 1;
        foreach (var entry in old)
        {
            if (entry.Id == 0)
            {
                continue;
            }
            var slot = entry.Hash & mask;
            while (_entries[slot].Id != 0)
            {
                slot = (slot + 1) & mask;
            }
            _entries[slot] = entry;
        }
    }

    /// <summary>
    /// FNV-1a, spread by a final multiply so the low bits used for the slot depend on every byte. Names come from one
    /// file and stay in this process, so a fixed (unrandomised) hash is enough.
    /// </summary>
    private static int Hash(ReadOnlySpan<byte> name)
    {
        var hash = 2166136261u;
        foreach (var b in name)
        {
            hash = (hash ^ b) * 16777619u;
        }
        return (int)((hash * 0x9E3779B1u) >> 1);
    }
}
