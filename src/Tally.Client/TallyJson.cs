using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tally.Client;

/// <summary>Tally's JSON: web names (camelCase), absent members left out.</summary>
internal static class TallyJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
}
