using System.Diagnostics.CodeAnalysis;

namespace Tally.Metering;

/// <summary>
/// The code base's one way to say "a value, or the reason why not" (docs/architecture.md, "Value or error"). Exactly
/// one of <see cref="Value"/> and <see cref="Error"/> is set; <see cref="IsOk"/> tells which, and the compiler knows
/// it. The core's errors are its own records or sentences (<see cref="EventError"/>, a <c>string</c>); the server's are
/// problem+json answers, so an endpoint returns <see cref="Error"/> as it is. A check that yields no value returns
/// its error or null instead: the same idea without a value.
/// </summary>
/// <remarks>
/// A struct, so the hot path (<see cref="EventValidation.Validate"/>, once per event) allocates nothing for it; it
/// works in async methods, which cannot have <c>out</c> parameters, so sync and async code say it the same way.
/// </remarks>
public readonly record struct Outcome<T, TError> where TError : class
{
    private Outcome(T? value, TError? error) => (Value, Error) = (value, error);

    public T? Value { get; }

    public TError? Error { get; }

    [MemberNotNullWhen(true, nameof(Value))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsOk => Error is null;

    /// <summary>A value; for interface types, which C# gives no implicit conversion.</summary>
    public static Outcome<T, TError> Ok(T value) => new(value, null);

    /// <summary>An error; for when <typeparamref name="T"/> and <typeparamref name="TError"/> could be confused.</summary>
    public static Outcome<T, TError> Fail(TError error) => new(default, error ?? throw new ArgumentNullException(nameof(error)));

    public static implicit operator Outcome<T, TError>(T value) => new(value, null);

    public static implicit operator Outcome<T, TError>(TError error) => Fail(error);
}
