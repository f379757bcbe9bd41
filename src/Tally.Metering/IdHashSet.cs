using System.Numerics;

namespace Tally.Metering;

/// <summary>
/// A multiset of 64-bit event-id hashes: the meter's memory of accepted ids without the ids themselves. Open addressing
/// with linear probing in one <c>ulong[]</c>: no object per id. It grows by half when three quarters full, so once grown
/// at least half its slots are used: at most 16 bytes per id. Two ids with the same hash take a slot each, so
/// forgetting one (<see cref="Remove"/>) never forgets the other. Slot value 0 marks an empty slot: a hash of 0 is kept
/// as 1, one more collision, which callers settle exactly anyway.
/// <para>
/// A tagged set (<see cref="Tagged"/>, for ids kept for a time window) keeps the low 56 bits of each hash in the high
/// bits of its slot and an 8-bit tag, the id's generation, in the low 8, so a whole generation can be forgotten at once
/// (<see cref="RemoveTag"/>) with no per-id timestamp: still 8 bytes a slot. Lookups compare the 56 bits only. It grows
/// by 40 %: at most 14.9 bytes per id it holds.
/// </para>
/// </summary>
internal sealed class IdHashSet
{
    private const int MinimumSlots = 16;
    private const int TagBits = 8;

    private ulong[] _slots = [];
    private int _growAt;
    // How far a hash is shifted up in its slot to make room for the tag (0 untagged), and the slot's bits it then holds.
    private readonly int _hashShift;
    private readonly ulong _hashMask;

    /// <param name="tagged">Keep an 8-bit tag with each hash (<see cref="RemoveTag"/>), at the cost of 8 bits of hash.</param>
    public IdHashSet(bool tagged = false)
    {
        _hashShift = tagged ? TagBits : 0;
        _hashMask = ~0UL << _hashShift;
    }

    public bool Tagged => _hashShift != 0;

    public int Count { get; private set; }

    /// <summary>Bytes the slots take: the set's whole per-id cost.</summary>
    public long Bytes => _slots.LongLength * sizeof(ulong);

    public bool Contains(ulong hash)
    {
        if (Count == 0)
        {
            return false;
        }
        hash = Stored(hash);
        var slots = _slots;
        var mask = _hashMask;
        for (var i = Home(hash, slots.Length); ; i = Next(i, slots.Length))
        {
            var slot = slots[i];
            if ((slot & mask) == hash)
            {
                return true;
            }
            if (slot == 0)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Adds <paramref name="hash"/>, filed under <paramref name="tag"/> in a tagged set, unless it is present: one probe
    /// sequence for the usual case, a new id.
    /// </summary>
    /// <returns>True when it was present (nothing added).</returns>
    public bool AddIfAbsent(ulong hash, byte tag = 0)
    {
        if (Count >= _growAt)
        {
            Grow();
        }
        hash = Stored(hash);
        var slots = _slots;
        var mask = _hashMask;
        var i = Home(hash, slots.Length);
        for (; slots[i] != 0; i = Next(i, slots.Length))
        {
            if ((slots[i] & mask) == hash)
            {
                return true;
            }
        }
        slots[i] = WithTag(hash, tag);
        Count++;
        return false;
    }

    /// <summary>
    /// Adds one more instance of <paramref name="hash"/>, present or not (a second id with the same hash), filed under
    /// <paramref name="tag"/> in a tagged set.
    /// </summary>
    public void Add(ulong hash, byte tag = 0)
    {
        if (Count >= _growAt)
        {
            Grow();
        }
        Insert(_slots, WithTag(Stored(hash), tag));
        Count++;
    }

    /// <summary>Removes one instance of <paramref name="hash"/> (of any tag); false when there is none.</summary>
    public bool Remove(ulong hash)
    {
        if (Count == 0)
        {
            return false;
        }
        hash = Stored(hash);
        var slots = _slots;
        var hole = Home(hash, slots.Length);
        for (; (slots[hole] & _hashMask) != hash; hole = Next(hole, slots.Length))
        {
            if (slots[hole] == 0)
            {
                return false;
            }
        }
        RemoveAt(hole);
        return true;
    }

    /// <summary>
    /// Removes every hash filed under <paramref name="tag"/>: one pass over the table, no allocation. Returns how many.
    /// </summary>
    public int RemoveTag(byte tag)
    {
        if (!Tagged)
        {
            throw new InvalidOperationException("Only a tagged set files hashes under tags.");
        }
        if (Count == 0)
        {
            return 0;
        }
        var slots = _slots;
        // Start just after an empty slot (there is one: the table is at most three quarters full). Removing shifts later
        // entries of a run back into the hole, never past the empty slot that ends the run, so in one forward pass from
        // a run's start every entry is seen at least once, and one shifted into the current position is looked at again.
        var start = 0;
        while (slots[start] != 0)
        {
            start++;
        }
        var removed = 0;
        var i = Next(start, slots.Length);
        // Most slots hold other generations: a block of them with no slot of this tag is passed over in a few vector
        // instructions (tag 0 always finds the empty slots, so it goes slot by slot).
        var width = Vector<ulong>.Count;
        var tagBits = new Vector<ulong>(byte.MaxValue);
        var tagged = new Vector<ulong>(tag);
        for (var seen = 0; seen < slots.Length - 1;)
        {
            if (Vector.IsHardwareAccelerated && i + width <= slots.Length && seen + width <= slots.Length - 1
                && !Vector.EqualsAny(new Vector<ulong>(slots, i) & tagBits, tagged))
            {
                i = i + width == slots.Length ? 0 : i + width;
                seen += width;
                continue;
            }
            var slot = slots[i];
            if (slot != 0 && (byte)slot == tag)
            {
                RemoveAt(i);
                removed++;
                continue;
            }
            i = Next(i, slots.Length);
            seen++;
        }
        return removed;
    }

    // Backward-shift deletion: pull later entries of the run into the hole when their home is not between the hole
    // and them, so every entry stays reachable from its home without tombstones.
    private void RemoveAt(int hole)
    {
        var slots = _slots;
        for (var j = Next(hole, slots.Length); slots[j] != 0; j = Next(j, slots.Length))
        {
            var home = Home(slots[j] & _hashMask, slots.Length);
            var reachableWithoutHole = hole <= j ? home > hole && home <= j : home > hole || home <= j;
            if (!reachableWithoutHole)
            {
                slots[hole] = slots[j];
                hole = j;
            }
        }
        slots[hole] = 0;
        Count--;
    }

    private void Grow()
    {
        var old = _slots;
        // A tagged set also holds, for a while, the generation just past its window: a sixteenth more ids at steady
        // traffic (AcceptedIds). Growing it by 40 % rather than half leaves it 0.75 / 1.4 full just after it grew, at
        // most 14.9 B per id held, so at most 16 B per id inside the window even then.
        var grown = Tagged ? old.Length + (old.Length * 2 / 5) : old.Length + (old.Length / 2);
        var slots = new ulong[Math.Max(MinimumSlots, grown)];
        foreach (var slot in old)
        {
            if (slot != 0)
            {
                Insert(slots, slot);
            }
        }
        _slots = slots;
        _growAt = (int)(slots.Length * 3L / 4);
    }

    private void Insert(ulong[] slots, ulong slot)
    {
        var i = Home(slot & _hashMask, slots.Length);
        while (slots[i] != 0)
        {
            i = Next(i, slots.Length);
        }
        slots[i] = slot;
    }

    // The hash as its slot holds it, above the tag's bits, never 0 (0 marks an empty slot): a 0 becomes the lowest kept
    // bit, one more collision, which callers settle exactly anyway. Shifting up keeps the low bits, so hashes that
    // differ only there (tests force small ones) stay apart; the home is taken from the high bits, which a real hash
    // fills evenly either way.
    private ulong Stored(ulong hash) => (hash << _hashShift) is 0 ? 1UL << _hashShift : hash << _hashShift;

    private ulong WithTag(ulong stored, byte tag) => Tagged ? stored | tag : stored;

    // The high half of hash × length maps the hash onto any table length with one multiplication (no power of two
    // needed, so the table can grow by half rather than double). Tags are masked off first: an id's home never depends
    // on its generation.
    private static int Home(ulong hash, int length) => (int)Math.BigMul(hash, (ulong)length, out _);

    private static int Next(int i, int length) => i + 1 == length ? 0 : i + 1;
}
