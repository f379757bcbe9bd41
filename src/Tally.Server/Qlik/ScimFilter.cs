using System.Text;

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

    /// <summary>Parses <paramref name="text"/>; <paramref name="operators"/> maps each allowed attribute to its allowed operators.</summary>
    public static bool TryParse(string text, IReadOnlyDictionary<string, string[]> operators, out IReadOnlyList<ScimClause> clauses, out string error)
    {
        clauses = [];
        if (text.Length > MaxLength)
        {
            error = $"is {text.Length} characters; at most {MaxLength} are accepted";
            return false;
        }
        var parser = new Parser(text, operators);
        var result = new List<ScimClause>();
        if (!parser.Expression(result, depth: 0, out error))
        {
            return false;
        }
        parser.SkipSpace();
        if (!parser.AtEnd)
        {
            error = parser.Unexpected("'and' or the end of the filter");
            return false;
        }
        if (result.Count == 0)
        {
            error = "is empty";
            return false;
        }
        clauses = result;
        return true;
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

        public bool Expression(List<ScimClause> into, int depth, out string error)
        {
            if (!Term(into, depth, out error))
            {
                return false;
            }
            while (true)
            {
                SkipSpace();
                var word = AtEnd ? "" : Word();
                if (word.Equals("and", StringComparison.OrdinalIgnoreCase))
                {
                    _at += 3;
                    if (!Term(into, depth, out error))
                    {
                        return false;
                    }
                    continue;
                }
                if (word.Equals("or", StringComparison.OrdinalIgnoreCase))
                {
                    error = $"at {_at + 1}: 'or' is not supported; join comparisons with 'and'";
                    return false;
                }
                error = "";
                return true;
            }
        }

        private bool Term(List<ScimClause> into, int depth, out string error)
        {
            SkipSpace();
            if (!AtEnd && text[_at] == '(')
            {
                if (depth >= MaxDepth)
                {
                    error = $"at {_at + 1}: parentheses nest deeper than {MaxDepth}";
                    return false;
                }
                _at++;
                if (!Expression(into, depth + 1, out error))
                {
                    return false;
                }
                SkipSpace();
                if (AtEnd || text[_at] != ')')
                {
                    error = Unexpected("')'");
                    return false;
                }
                _at++;
                return true;
            }
            if (AtEnd)
            {
                error = Unexpected("an attribute name");
                return false;
            }
            var start = _at;
            var attribute = Word();
            if (attribute.Equals("not", StringComparison.OrdinalIgnoreCase))
            {
                error = $"at {start + 1}: 'not' is not supported";
                return false;
            }
            var known = operators.Keys.FirstOrDefault(k => k.Equals(attribute, StringComparison.OrdinalIgnoreCase));
            if (known is null)
            {
                error = $"at {start + 1}: unknown attribute '{Shorten(attribute)}'; filterable: {string.Join(", ", operators.Keys)}";
                return false;
            }
            _at += attribute.Length;
            SkipSpace();
            var allowed = operators[known];
            if (AtEnd)
            {
                error = Unexpected($"an operator ({string.Join(", ", allowed)})");
                return false;
            }
            var opAt = _at;
            var op = Word().ToLowerInvariant();
            if (!allowed.Contains(op))
            {
                error = $"at {opAt + 1}: '{Shorten(Word())}' is not an operator {known} accepts ({string.Join(", ", allowed)})";
                return false;
            }
            _at += op.Length;
            SkipSpace();
            var valueAt = _at;
            if (!Value(out var value, out error))
            {
                return false;
            }
            into.Add(new ScimClause(known, op, value, valueAt + 1));
            return true;
        }

        private bool Value(out string value, out string error)
        {
            value = "";
            if (AtEnd)
            {
                error = Unexpected("a value");
                return false;
            }
            if (text[_at] != '"')
            {
                var word = Word();
                if (word is "true" or "false")
                {
                    value = word;
                    _at += word.Length;
                    error = "";
                    return true;
                }
                error = $"at {_at + 1}: expected a quoted value (\"...\"), true or false, found '{Shorten(word)}'";
                return false;
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
                    value = builder.ToString();
                    error = "";
                    return true;
                }
                else
                {
                    builder.Append(c);
                }
            }
            error = $"at {start + 1}: the quoted value is not closed";
            return false;
        }
    }
}
