namespace Tally.Metering;

/// <summary>How units are keyed (R2).</summary>
public enum CountingMode : byte
{
    /// <summary>Key = (user, device): all apps on one device share units. Client-managed deployments.</summary>
    Device,
    /// <summary>Key = (user, app): each open app has its own units. Cloud deployments.</summary>
    App,
}

/// <summary>
/// A meter key: an interned user and, by mode, an interned device or app (R2). Packed into one long
/// so that per-key state lives in a dictionary with a cheap, allocation-free key.
/// </summary>
public readonly record struct MeterKey(int User, int Scope)
{
    public static MeterKey None => default;

    public long Packed => ((long)User << 32) | (uint)Scope;

    public static MeterKey FromPacked(long packed) => new((int)(packed >> 32), (int)packed);
}
