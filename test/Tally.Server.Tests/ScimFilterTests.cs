using Tally.Server.Qlik;

namespace Tally.Server.Tests;

/// <summary>The SCIM filter subset of Qlik's licenses API: what it reads, and the position and reason of what it refuses.</summary>
public sealed class ScimFilterTests
{
    private static readonly Dictionary<string, string[]> Attributes = new() { ["subject"] = ["eq", "co", "sw"], ["excess"] = ["eq"] };

    private static IReadOnlyList<ScimClause> Parse(string filter)
    {
        var parsed = ScimFilter.Parse(filter, Attributes);
        Assert.True(parsed.IsOk, parsed.Error);
        return parsed.Value;
    }

    private static string Refuse(string filter)
    {
        var parsed = ScimFilter.Parse(filter, Attributes);
        Assert.False(parsed.IsOk);
        Assert.Null(parsed.Value);
        return parsed.Error;
    }

    [Fact]
    public void TryParse_AndParenthesesAndCase_EveryClauseInOrder()
    {
        var clauses = Parse("((SUBJECT Sw \"qlik\\\\\") AND excess eq true) and subject co \"a \\\"b\\\" (c)\"");
        Assert.Equal([("subject", "sw", "qlik\\"), ("excess", "eq", "true"), ("subject", "co", "a \"b\" (c)")],
            clauses.Select(c => (c.Attribute, c.Operator, c.Value)));
        Assert.Equal(14, clauses[0].Position);
    }

    [Theory]
    [InlineData("", "at 1: expected an attribute name, found the end of the filter")]
    [InlineData("subject", "at 8: expected an operator (eq, co, sw), found the end of the filter")]
    [InlineData("subject eq", "at 11: expected a value, found the end of the filter")]
    [InlineData("subject eq \"a\" extra", "at 16: expected 'and' or the end of the filter, found 'extra'")]
    [InlineData("subject eq \"a\" or subject eq \"b\"", "at 16: 'or' is not supported; join comparisons with 'and'")]
    [InlineData("not (subject eq \"a\")", "at 1: 'not' is not supported")]
    [InlineData("(subject eq \"a\"", "at 16: expected ')', found the end of the filter")]
    [InlineData("subject eq a", "at 12: expected a quoted value (\"...\"), true or false, found 'a'")]
    [InlineData("excess gt true", "at 8: 'gt' is not an operator excess accepts (eq)")]
    [InlineData("name eq \"a\"", "at 1: unknown attribute 'name'; filterable: subject, excess")]
    [InlineData("subject eq \"open", "at 12: the quoted value is not closed")]
    [InlineData("(((((((((subject eq \"a\")))))))))", "at 9: parentheses nest deeper than 8")]
    public void TryParse_Malformed_RefusedWithPositionAndReason(string filter, string error) => Assert.Equal(error, Refuse(filter));

    [Fact]
    public void TryParse_TooLong_RefusedBeforeReading() =>
        Assert.Equal($"is 1001 characters; at most {ScimFilter.MaxLength} are accepted", Refuse(new string('(', 1001)));
}
