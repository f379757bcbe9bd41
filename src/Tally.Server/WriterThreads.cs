using System.Collections.Concurrent;

namespace Tally.Server;

/// <summary>
/// The threads every tenant's writer runs on: as many as the machine has cores (or <see cref="TallyOptions.WriterThreads"/>),
/// however many tenants there are. A writer with work queued is scheduled here once; a thread takes it, runs one pass
/// (one group: apply, commit, answer) and puts it back at the end of the line when more is queued, so busy tenants
/// share the threads in turn and an idle tenant costs no thread at all. A writer is in the line at most once, so at
/// most one thread runs it at a time: the single-writer rule holds without a lock.
/// </summary>
/// <remarks>
/// Dedicated threads, not the thread pool: on a busy pool (many connections on few cores) a pass would wait in line
/// behind the very requests it is meant to answer, and every group commit would be delayed by that queue.
/// </remarks>
public sealed class WriterThreads : IDisposable
{
    private readonly BlockingCollection<IWriterTurn> _ready = new(new ConcurrentQueue<IWriterTurn>());
    private readonly Thread[] _threads;

    public WriterThreads(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _threads = [.. Enumerable.Range(0, count).Select(i => new Thread(Run) { IsBackground = true, Name = $"tally-writer-{i}" })];
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    /// <summary>How many threads run writers.</summary>
    public int Count => _threads.Length;

    /// <summary>Puts <paramref name="turn"/> in line (a writer's pass, or a group's commit); a writer is never in line twice.</summary>
    internal void Schedule(IWriterTurn turn) => _ready.Add(turn);

    private void Run()
    {
        foreach (var turn in _ready.GetConsumingEnumerable())
        {
            turn.Run();
        }
    }

    /// <summary>Stops taking writers once the line is empty; dispose the writers first, so nothing is left in it.</summary>
    public void Dispose()
    {
        _ready.CompleteAdding();
        foreach (var thread in _threads)
        {
            thread.Join();
        }
        _ready.Dispose();
    }
}

/// <summary>Work a writer thread runs: one pass of a tenant's writer, or the commit of a group it metered.</summary>
internal interface IWriterTurn
{
    void Run();
}
