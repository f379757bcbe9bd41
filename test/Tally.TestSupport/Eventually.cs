using System.Diagnostics;

namespace Tally.TestSupport;

/// <summary>
/// Waits on a fact, not on time: polls a condition until it holds or a generous deadline passes, and then fails naming
/// what it waited for and what it saw last. The deadline only bounds a broken run; a passing run waits exactly as long
/// as the fact takes, so a slow, shared machine makes the tests slower, never wrong.
/// </summary>
public static class Eventually
{
    /// <summary>The default deadline: long enough for a loaded 2-core machine, short enough to fail a hung test.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    // Between probes: a probe is a cheap read (a counter, a folder listing, one loopback request).
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>Until <paramref name="condition"/> holds; fails with "Timed out after T waiting for WHAT".</summary>
    public static Task Until(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        Until(() => Task.FromResult(condition()), what, timeout);

    public static async Task Until(Func<Task<bool>> condition, string what, TimeSpan? timeout = null) =>
        await Until(condition, done => done, what, timeout, _ => "");

    /// <summary>
    /// Probes until <paramref name="done"/> holds for the probed value and returns that value; on time-out the message
    /// names <paramref name="what"/> and the last value seen (through <paramref name="describe"/>).
    /// </summary>
    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan? timeout = null,
        Func<T, string>? describe = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await probe();
            if (done(value))
            {
                return value;
            }
            if (clock.Elapsed > limit)
            {
                var last = (describe ?? (v => $"{v}"))(value);
                throw new TimeoutException($"Timed out after {limit.TotalSeconds:0.#} s waiting for {what}." + (last.Length > 0 ? $" Last seen: {last}" : ""));
            }
            await Task.Delay(PollInterval);
        }
    }
}
