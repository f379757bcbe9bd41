using System.Reflection;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Tally.Storage;

namespace Tally.Server.Tests;

/// <summary>
/// The server's real ledger with a test's hook run after each call returns (method name, arguments, result). A hook that
/// blocks holds a request at an exact point (it has read the ledger and not yet acted on it) while the test sends
/// another request: races become reproducible without sleeping.
/// </summary>
public class LedgerHook : DispatchProxy
{
    private ILedgerStore _inner = null!;
    private Action<string, object?[], object?> _after = null!;

    /// <summary>Wraps the ledger the server registers (its own factory, so the real store is opened as usual).</summary>
    public static void Install(WebApplicationBuilder builder, Action<string, object?[], object?> after)
    {
        var original = builder.Services.Last(d => d.ServiceType == typeof(ILedgerStore));
        var factory = original.ImplementationFactory ?? throw new InvalidOperationException("The server registers its ledger with a factory.");
        builder.Services.Remove(original);
        builder.Services.AddSingleton(sp =>
        {
            var proxy = Create<ILedgerStore, LedgerHook>();
            var hook = (LedgerHook)(object)proxy;
            hook._inner = (ILedgerStore)factory(sp);
            hook._after = after;
            return proxy;
        });
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        object? result;
        try
        {
            result = targetMethod!.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
        _after(targetMethod.Name, args ?? [], result);
        return result;
    }
}

/// <summary>One point a request can be held at: the first call that matches, after arming, signals and waits for release.</summary>
public sealed class HoldPoint
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ManualResetEventSlim _released = new();
    private Func<string, object?[], object?, bool>? _match;

    /// <summary>Completes when a matching call has returned from the ledger and is being held.</summary>
    public Task Reached => _reached.Task;

    public void Arm(Func<string, object?[], object?, bool> match) => Volatile.Write(ref _match, match);

    public void Release() => _released.Set();

    /// <summary>The ledger hook: holds the first matching call (on its own thread-pool thread) until <see cref="Release"/>.</summary>
    public void After(string method, object?[] args, object? result)
    {
        var match = Volatile.Read(ref _match);
        if (match is not null && match(method, args, result) && Interlocked.CompareExchange(ref _match, null, match) == match)
        {
            _reached.SetResult();
            if (!_released.Wait(TimeSpan.FromSeconds(30)))
            {
                throw new TimeoutException("The held ledger call was never released.");
            }
        }
    }
}
