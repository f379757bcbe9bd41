using System.Diagnostics;

namespace Tally.Metering;

/// <summary>
/// The meter's memory of accepted ids (R10): hashes in one <see cref="IdHashSet"/>, for ever or for a time window.
/// With a window the ids are filed in generations by the time they were accepted, each spanning at most a sixteenth of
/// the window, and a generation is forgotten whole once its latest id is older than the window. So an id inside the
/// window is always remembered, an id is forgotten at most a sixteenth of the window after it left it, and the only
/// per-id cost is the id's slot: its generation rides in the slot's low 8 bits. One table rather than a table per
/// generation keeps a lookup to one probe sequence; forgetting a generation is one pass over the table, once per
/// sixteenth of the window.
/// </summary>
internal sealed class AcceptedIds
{
    /// <summary>Generations per window: how much longer than the window an id may be kept (a sixteenth).</summary>
    public const int GenerationsPerWindow = 16;

    // Live generations are told apart by their tag (1 to 255 in turn: 0 would match empty slots), so at most 255 may be
    // live. In time order there are at most GenerationsPerWindow + 2; more would need ids added without forgetting over
    // many windows, and then the newest generation is stretched (kept longer, never forgotten early) instead of a tag
    // reused.
    private const int MaxLiveGenerations = 64;

    private readonly IdHashSet _hashes;
    private readonly long _windowTicks;
    private readonly long _generationTicks;
    // Oldest first.
    private readonly Queue<Generation> _generations = new();
    // The queue's last, which takes the ids being accepted; null when the queue is empty.
    private Generation? _newest;
    private long _nextSequence;

    /// <param name="window">How long an id is kept at least; null: for ever.</param>
    public AcceptedIds(TimeSpan? window)
    {
        _windowTicks = window is { Ticks: > 0 } w ? w.Ticks : 0;
        _generationTicks = Math.Max(1, _windowTicks / GenerationsPerWindow);
        _hashes = new IdHashSet(tagged: _windowTicks != 0);
    }

    /// <summary>Ids remembered now.</summary>
    public int Count => _hashes.Count;

    /// <summary>Ids accepted and forgotten so far.</summary>
    public long Forgotten { get; private set; }

    /// <summary>Bytes the hashes take: the whole per-id cost (the generations cost a few objects per window).</summary>
    public long Bytes => _hashes.Bytes;

    public bool Contains(ulong hash) => _hashes.Contains(hash);

    /// <summary>Adds <paramref name="hash"/>, accepted at <paramref name="ticks"/>, unless it is remembered.</summary>
    /// <returns>True when it was remembered (nothing added).</returns>
    public bool AddIfAbsent(ulong hash, long ticks)
    {
        if (_windowTicks == 0)
        {
            return _hashes.AddIfAbsent(hash);
        }
        if (_hashes.AddIfAbsent(hash, TagFor(ticks)))
        {
            return true;
        }
        Filed(ticks);
        return false;
    }

    /// <summary>Adds one more instance of <paramref name="hash"/>, accepted at <paramref name="ticks"/>.</summary>
    public void Add(ulong hash, long ticks)
    {
        if (_windowTicks == 0)
        {
            _hashes.Add(hash);
            return;
        }
        _hashes.Add(hash, TagFor(ticks));
        Filed(ticks);
    }

    /// <summary>
    /// Forgets every generation whose ids were all accepted before <paramref name="cutoff"/> (no-op without a window):
    /// an id at or after it stays. Returns how many ids were forgotten.
    /// </summary>
    public int ForgetBefore(long cutoff)
    {
        var forgotten = 0;
        while (_generations.TryPeek(out var oldest) && oldest.LatestTicks < cutoff)
        {
            var removed = _hashes.RemoveTag(oldest.Tag);
            Debug.Assert(removed == oldest.Ids, "a generation's tag marks exactly its ids");
            forgotten += removed;
            _generations.Dequeue();
        }
        if (_generations.Count == 0)
        {
            _newest = null;
        }
        Forgotten += forgotten;
        return forgotten;
    }

    // An id accepted at `ticks` goes into the newest generation, or opens the next one when the newest has spanned its
    // share of the window. The tag is known before the id is added, the generation opened only once it is (Filed), so
    // a duplicate opens nothing and the id costs one probe sequence.
    private bool OpensGeneration(long ticks) =>
        _newest is not { } newest || (ticks >= newest.StartTicks + _generationTicks && _generations.Count < MaxLiveGenerations);

    private byte TagFor(long ticks) => OpensGeneration(ticks) ? TagOf(_nextSequence) : _newest!.Tag;

    private static byte TagOf(long sequence) => (byte)((sequence % byte.MaxValue) + 1);

    private void Filed(long ticks)
    {
        if (OpensGeneration(ticks))
        {
            _newest = new Generation(TagOf(_nextSequence++), ticks);
            _generations.Enqueue(_newest);
        }
        _newest!.Ids++;
        _newest.LatestTicks = Math.Max(_newest.LatestTicks, ticks);
    }

    /// <summary>Ids accepted from <see cref="StartTicks"/> for less than one generation's span, filed under <see cref="Tag"/>.</summary>
    private sealed class Generation(byte tag, long startTicks)
    {
        public byte Tag { get; } = tag;
        public long StartTicks { get; } = startTicks;
        public long LatestTicks { get; set; } = startTicks;
        public int Ids { get; set; }
    }
}
