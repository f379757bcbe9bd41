namespace Tally.Metering;

/// <summary>
/// A multiset of 64-bit event-id hashes: the meter's memory of accepted ids without the ids themselves. Open addressing
/// with linear probing in one <c>ulong[]</c>: no object per id. It grows by half when three quarters full, so once grown
/// at least half its slots are used: at most 16 bytes per id. Two ids with the same hash take a slot each, so
/// forgetting one (<see cref="Remove"/>) never forgets the other. Slot value 0 marks an empty slot: a hash of 0 is kept
/// as 1, one more collision, which callers settle exactly anyway.
/// </summary>
internal sealed class IdHashSet
{
    private const int MinimumSlots = 16;

    private ulong[] _slots = [];
    private int _growAt;

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
        for (var i = Home(hash, slots.Length); ; i = Next(i, slots.Length))
        {
            var slot = slots[i];
            if (slot == hash)
            {
                return true;
            }
            if (slot == 0)
            {
                return false;
            }
        }
    }

    /// <summary>Adds <paramref name="hash"/> unless it is present: one probe sequence for the usual case, a new id.</summary>
    /// <returns>True when it was present (nothing added).</returns>
    public bool AddIfAbsent(ulong hash)
    {
        if (Count >= _growAt)
        {
            Grow();
        }
        hash = Stored(hash);
        var slots = _slots;
        var i = Home(hash, slots.Length);
        for (; slots[i] != 0; i = Next(i, slots.Length))
        {
            if (slots[i] == hash)
            {
                return true;
            }
        }
        slots[i] = hash;
        Count++;
        return false;
    }

    /// <summary>Adds one more instance of <paramref name="hash"/>, present or not (a second id with the same hash).</summary>
    public void Add(ulong hash)
    {
        if (Count >= _growAt)
        {
            Grow();
        }
        Insert(_slots, Stored(hash));
        Count++;
    }

    /// <summary>Removes one instance of <paramref name="hash"/>; false when there is none.</summary>
    public bool Remove(ulong hash)
    {
        if (Count == 0)
        {
            return false;
        }
        hash = Stored(hash);
        var slots = _slots;
        var hole = Home(hash, slots.Length);
        for (; slots[hole] != hash; hole = Next(hole, slots.Length))
        {
            if (slots[hole] == 0)
            {
                return false;
            }
        }
        // Backward-shift deletion: pull later entries of the run into the hole when their home is not between the hole
        // and them, so every entry stays reachable from its home without tombstones.
        for (var j = Next(hole, slots.Length); slots[j] != 0; j = Next(j, slots.Length))
        {
            var home = Home(slots[j], slots.Length);
            var reachableWithoutHole = hole <= j ? home > hole && home <= j : home > hole || home <= j;
            if (!reachableWithoutHole)
            {
                slots[hole] = slots[j];
                hole = j;
            }
        }
        slots[hole] = 0;
        Count--;
        return true;
    }

    private void Grow()
    {
        var old = _slots;
        var slots = new ulong[Math.Max(MinimumSlots, old.Length + (old.Length / 2))];
        foreach (var hash in old)
        {
            if (hash != 0)
            {
                Insert(slots, hash);
            }
        }
        _slots = slots;
        _growAt = (int)(slots.Length * 3L / 4);
    }

    private static void Insert(ulong[] slots, ulong stored)
    {
        var i = Home(stored, slots.Length);
        while (slots[i] != 0)
        {
            i = Next(i, slots.Length);
        }
        slots[i] = stored;
    }

    private static ulong Stored(ulong hash) => hash == 0 ? 1 : hash;

    // The high half of hash × length maps the hash onto any table length with one multiplication (no power of two
    // needed, so the table can grow by half rather than double).
    private static int Home(ulong hash, int length) => (int)Math.BigMul(hash, (ulong)length, out _);

    private static int Next(int i, int length) => i + 1 == length ? 0 : i + 1;
}
