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
            AddNone();
            return;
        }
        var text = Reserve(id.Length);
        id.CopyTo(text);
        AddReserved(text);
    }

    /// <summary>Adds an id given as ASCII bytes (the CSV fast path); the same text and hash as the id added as characters.</summary>
    public void AddAscii(ReadOnlySpan<byte> id)
    {
        if (id.IsEmpty)
        {
            AddNone();
            return;
        }
        var text = Reserve(id.Length);
        System.Text.Encoding.ASCII.GetChars(id, text);
        AddReserved(text);
    }

    /// <summary>Room for about <paramref name="count"/> ids in all, so a large chunk's lists are not grown (and copied) by doubling.</summary>
    public void EnsureCapacity(int count)
    {
        _refs.EnsureCapacity(count);
        _hashes.EnsureCapacity(count);
    }

    private void AddNone()
    {
        _refs.Add(None);
        _hashes.Add(0);
    }

    /// <summary>The next <paramref name="length"/> characters of the last block, opening a new block when it is full.</summary>
    private Span<char> Reserve(int length)
    {
        if (length >= 1 << LengthBits)
        {
            throw new ArgumentException($"An id of {length} characters is longer than validation allows.", nameof(length));
        }
        if (_used + length > BlockSize)
        {
            _blocks.Add(new char[BlockSize]);
            _used = 0;
        }
        return _blocks[^1].AsSpan(_used, length);
    }

    /// <summary>Records the id just written into <see cref="Reserve"/>'s span.</summary>
    private void AddReserved(ReadOnlySpan<char> text)
    {
        _refs.Add(((long)(_blocks.Count - 1) << (BlockBits + LengthBits)) | ((long)_used << LengthBits) | (long)text.Length);
        _hashes.Add(string.GetHashCode(text, StringComparison.Ordinal));
        _used += text.Length;
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

    /// <summary>
    /// The same ids as a struct, for <see cref="Replay"/>: generic code over a class argument is shared and reaches
    /// every call through the interface, while a struct argument gets code of its own with these calls inlined
    /// (duplicate marking makes three of them per event).
    /// </summary>
    public readonly struct View(EventIdText text) : IEventIds
    {
        public bool HasId(int index) => text.HasId(index);

        public int HashOf(int index) => text.HashOf(index);

        public bool SameId(int a, int b) => text.SameId(a, b);
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
