using Tally.Metering;

namespace Tally.Cli.EventLog;

/// <summary>
/// The ids of a log's events, by event position: the text in blocks of a million characters, and per event a
/// reference (block, offset, length) and the id's hash, worked out while the file is parsed in parallel so that
/// duplicate marking only compares.
/// </summary>
internal sealed class EventIdText : IEventIds
{
    private const int BlockBits = 20;
    private const int BlockSize = 1 << BlockBits;
    private const int LengthBits = 9; // ids are at most EventValidation.MaxFieldLength (256) characters
    private const long None = -1;

    private readonly List<char[]> _blocks = [];
    private int _used = BlockSize; // characters used in the last block; full until the first id opens one
    private readonly List<long> _refs = [];
    private readonly List<int> _hashes = [];

    public void Add(ReadOnlySpan<char> id)
    {
        if (id.IsEmpty)
        {
            _refs.Add(None);
            _hashes.Add(0);
            return;
        }
        if (id.Length >= 1 << LengthBits)
        {
            throw new ArgumentException($"An id of {id.Length} characters is longer than validation allows.", nameof(id));
        }
        if (_used + id.Length > BlockSize)
        {
            _blocks.Add(new char[BlockSize]);
            _used = 0;
        }
        id.CopyTo(_blocks[^1].AsSpan(_used));
        _refs.Add(((long)(_blocks.Count - 1) << (BlockBits + LengthBits)) | ((long)_used << LengthBits) | (long)id.Length);
        _hashes.Add(string.GetHashCode(id, StringComparison.Ordinal));
        _used += id.Length;
    }

    /// <summary>Appends the ids of a later part of the same log; its blocks are taken over, not copied.</summary>
    public void Append(EventIdText later)
    {
        var blockShift = (long)_blocks.Count << (BlockBits + LengthBits);
        _blocks.AddRange(later._blocks);
        _used = later._blocks.Count > 0 ? later._used : _used;
        _refs.EnsureCapacity(_refs.Count + later._refs.Count);
        foreach (var reference in later._refs)
        {
            _refs.Add(reference == None ? None : reference + blockShift);
        }
        _hashes.AddRange(later._hashes);
    }

    public bool HasId(int index) => _refs[index] != None;

    public int HashOf(int index) => _hashes[index];

    public bool SameId(int a, int b) => Span(a).SequenceEqual(Span(b));

    public string? TextOf(int index) => HasId(index) ? new string(Span(index)) : null;

    private ReadOnlySpan<char> Span(int index)
    {
        var reference = _refs[index];
        var block = (int)(reference >> (BlockBits + LengthBits));
        var offset = (int)((reference >> LengthBits) & (BlockSize - 1));
        var length = (int)(reference & ((1 << LengthBits) - 1));
        return _blocks[block].AsSpan(offset, length);
    }
}
