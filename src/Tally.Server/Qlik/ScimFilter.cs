using System.Text;
using Tally.Metering;

namespace Tally.Server.Qlik;

/// <summary>One comparison of a SCIM filter: <c>attribute op value</c>, the attribute as the caller spelled it in the allowed set.</summary>
public sealed record ScimClause(string Attribute, string Operator, string Value, int Position);

/// <summary>
/// The part of SCIM filtering (RFC 7644 §3.4.2.2) Qlik's licenses API uses: comparisons joined by <c>and</c>, with
/// optional parentheses. Attribute names and operators are case-insensitive; values are quoted strings (with
/// <c>\"</c> and <c>\\</c> escapes) or <c>true</c>/<c>false</c>. <c>or</c> and <c>not</c> are refused by name rather
/// than misread. Errors name the 1-based character position and the reason.
/// </summary>
public static class ScimFilter
{
    public const int MaxLength = 1000;

    /// <summary>Parses <paramref name="text"/>, or says where and why not; <paramref name="operators"/> maps each allowed attribute to its allowed operators.</summary>
    public static Outcome<IReadOnlyList<ScimClause>, string> Parse(string text, IReadOnlyDictionary<string, string[]> operators)
    {
        if (text.Length > MaxLength)
        {
            return $"is {text.Length} characters; at most {MaxLength} are accepted";
        }
        var parser = new Parser(text, operators);
        var result = new List<ScimClause>();
        if (parser.Expression(result, depth: 0) is { } error)
        {
            return error;
        }
        parser.SkipSpace();
        if (!parser.AtEnd)
        {
            return parser.Unexpected("'and' or the end of the filter");
        }
        return result.Count == 0 ? "is empty" : Outcome<IReadOnlyList<ScimClause>, string>.Ok(result);
    }

    private sealed class Parser(string text, IReadOnlyDictionary<string, string[]> operators)
    {
        private const int MaxDepth = 8;
        private int _at;

        public bool AtEnd => _at >= text.Length;

        public void SkipSpace()
        {
            while (_at < text.Length && char.IsWhiteSpace(text[_at]))
            {
                _at++;
            }
        }

        public string Unexpected(string expected)
        {
            SkipSpace();
            return AtEnd ? $"at {text.Length + 1}: expected {expected}, found the end of the filter"
                : $"at {_at + 1}: expected {expected}, found '{Shorten(Word())}'";
        }

        private static string Shorten(string s) => s.Length > 30 ? s[..30] + "…" : s;

        /// <summary>The word starting here (up to a space or parenthesis), without consuming it.</summary>
        private string Word()
        {
            var end = _at;
            while (end < text.Length && !char.IsWhiteSpace(text[end]) && text[end] is not ('(' or ')'))
            {
                end++;
            }
            return end == _at ? text[_at].ToString() : text[_at..end];
        }

        /// <summary>Appends the clauses of one expression to <paramref name="into"/>; returns the error, or null.</summary>
        public string? Expression(List<ScimClause> into, int depth)
        {
            if (Term(into, depth) is { } error)
            {
                return error;
            }
            while (true)
            {
                SkipSpace();
                var word = AtEnd ? "" : Word();
                if (word.Equals("and", StringComparison.OrdinalIgnoreCase))
                {
                    _at += 3;
                    if (Term(into, depth) is { } next)
                    {
                        return next;
                    }
                    continue;
                }
                if (word.Equals("or", StringComparison.OrdinalIgnoreCase))
                {
                    return $"at {_at + 1}: 'or' is not supported; join comparisons with 'and'";
                }
                return null;
            }
        }

        private string? Term(List<ScimClause> into, int depth)
        {
            SkipSpace();
            if (!AtEnd && text[_at] == '(')
            {
                if (depth >= MaxDepth)
                {
                    return $"at {_at + 1}: parentheses nest deeper than {MaxDepth}";
                }
                _at++;
                if (Expression(into, depth + 1) is { } inner)
                {
                    return inner;
                }
                SkipSpace();
                if (AtEnd || text[_at] != ')')
                {
                    return Unexpected("')'");
                }
                _at++;
                return null;
            }
            if (AtEnd)
            {
                return Unexpected("an attribute name");
            }
            var start = _at;
            var attribute = Word();
            if (attribute.Equals("not", StringComparison.OrdinalIgnoreCase))
            {
                return $"at {start + 1}: 'not' is not supported";
            }
            var known = operators.Keys.FirstOrDefault(k => k.Equals(attribute, StringComparison.OrdinalIgnoreCase));
            if (known is null)
            {
                return $"at {start + 1}: unknown attribute '{Shorten(attribute)}'; filterable: {string.Join(", ", operators.Keys)}";
            }
            _at += attribute.Length;
            SkipSpace();
            var allowed = operators[known];
            if (AtEnd)
            {
                return Unexpected($"an operator ({string.Join(", ", allowed)})");
            }
            var opAt = _at;
            var op = Word().ToLowerInvariant();
            if (!allowed.Contains(op))
            {
                return $"at {opAt + 1}: '{Shorten(Word())}' is not an operator {known} accepts ({string.Join(", ", allowed)})";
            }
            _at += op.Length;
            SkipSpace();
            var valueAt = _at;
            var value = Value();
            if (!value.IsOk)
            {
                return value.Error;
            }
            into.Add(new ScimClause(known, op, value.Value, valueAt + 1));
            return null;
        }

        /// <summary>A quoted string (with its escapes undone), true or false.</summary>
        private Outcome<string, string> Value()
        {
            if (AtEnd)
            {
                return Outcome<string, string>.Fail(Unexpected("a value"));
            }
            if (text[_at] != '"')
            {
                var word = Word();
                if (word is "true" or "false")
                {
                    _at += word.Length;
                    return Outcome<string, string>.Ok(word);
                }
                return Outcome<string, string>.Fail($"at {_at + 1}: expected a quoted value (\"...\"), true or false, found '{Shorten(word)}'");
            }
            var start = _at;
            var builder = new StringBuilder();
            for (_at++; _at < text.Length; _at++)
            {
                var c = text[_at];
                if (c == '\\' && _at + 1 < text.Length && text[_at + 1] is '"' or '\\')
                {
                    builder.Append(text[++_at]);
                }
                else if (c == '"')
                {
                    _at++;
                    return Outcome<string, string>.Ok(builder.ToString());
                }
                else
                {
                    builder.Append(c);
                }
            }
            return Outcome<string, string>.Fail($"at {start + 1}: the quoted value is not closed");
        }
    }
}
