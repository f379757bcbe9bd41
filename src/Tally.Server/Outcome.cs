using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Tally.Server;

/// <summary>
/// The server's one way to say "a value, or the problem+json answer why not" (docs/architecture.md, "Value or error"):
/// what every endpoint helper that reads, parses or validates returns, sync or async alike. Exactly one of
/// <see cref="Value"/> and <see cref="Problem"/> is set; <see cref="IsOk"/> tells which, and the compiler knows it.
/// A check that yields no value returns <c>ProblemHttpResult?</c> instead (null: it passed).
/// </summary>
public readonly record struct Outcome<T>
{
    private Outcome(T? value, ProblemHttpResult? problem) => (Value, Problem) = (value, problem);

    public T? Value { get; }

    public ProblemHttpResult? Problem { get; }

    [MemberNotNullWhen(true, nameof(Value))]
    [MemberNotNullWhen(false, nameof(Problem))]
    public bool IsOk => Problem is null;

    /// <summary>A value; for interface types, which C# gives no implicit conversion.</summary>
    public static Outcome<T> Ok(T value) => new(value, null);

    public static implicit operator Outcome<T>(T value) => new(value, null);

    public static implicit operator Outcome<T>(ProblemHttpResult problem) => new(default, problem ?? throw new ArgumentNullException(nameof(problem)));
}
