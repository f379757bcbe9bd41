using System.Collections;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Tally.Server.Tests.Monitoring;

namespace Tally.Server.Tests.Contract;

/// <summary>
/// One contract: every answer of Tally's own routes is the Tally.Contract type its endpoint declares (the type the
/// OpenAPI document describes, and the CLI and clients deserialize), name for name; and the names are the ones the
/// server answered before the contract existed (<c>api-names.txt</c>, captured from that server by <see cref="ApiAnswers"/>).
/// </summary>
public sealed class ContractTests
{
    /// <summary>Beside this file in the source tree: a change of shape shows in review as a change of this file.</summary>
    private static string SnapshotFile([CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "api-names.txt");

    [Fact]
    public async Task LiveAnswers_NameForName_TheContractTypeTheEndpointDeclares_AndTheSnapshot()
    {
        await using var listener = await WebhookListener.StartAsync();
        await using var server = await TestServer.StartAsync(null, null, null, AlertTests.AllowPrivateTargets);
        var answers = await ApiAnswers.CaptureAsync(server, listener);
        var endpoints = server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        var snapshot = File.ReadAllLines(SnapshotFile()).Where(l => l.Length > 0).ToLookup(l => l[..l.LastIndexOf(' ')], l => l[(l.LastIndexOf(' ') + 1)..]);
        var failures = new List<string>();
        foreach (var (operation, json) in answers)
        {
            var type = DeclaredAnswer(endpoints, operation);
            var live = ApiAnswers.Names(json, "groupCapMinutes", "users[].reasons");  // maps: their keys are data
            var contract = ContractNames(type, "", nullableAbove: false);
            if (!IsContract(type))
            {
                failures.Add($"{operation}: declares {type}, not a Tally.Contract type");
            }
            failures.AddRange(live.Where(n => !contract.ContainsKey(n)).Select(n => $"{operation}: answered '{n}', which {type.Name} does not have"));
            // A member that can never be null is always written: one missing means the answer is not the declared type.
            failures.AddRange(contract.Where(c => !c.Value && ObjectPresent(live, c.Key) && !live.Contains(c.Key))
                .Select(c => $"{operation}: {type.Name}.{c.Key} is never null yet was not answered"));
            var before = snapshot[operation].ToHashSet(StringComparer.Ordinal);
            failures.AddRange(before.Except(live).Select(n => $"{operation}: '{n}' was answered before the contract and is not now"));
            failures.AddRange(live.Except(before).Select(n => $"{operation}: '{n}' is new since the snapshot (update api-names.txt if that is intended)"));
            // The contract type reads its own answer back: the CLI and clients deserialize exactly this.
            Assert.NotNull(JsonSerializer.Deserialize(json, type, JsonBody.Options));
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Equal(snapshot.Select(g => g.Key).Order(StringComparer.Ordinal), answers.Keys);
    }

    /// <summary>The 2xx answer type the endpoint declares (<c>Ok&lt;T&gt;</c>, <c>Created&lt;T&gt;</c> in its <c>Results&lt;…&gt;</c>).</summary>
    private static Type DeclaredAnswer(List<RouteEndpoint> endpoints, string operation)
    {
        var parts = operation.Split(' ');
        var endpoint = endpoints.Where(e => "/" + e.RoutePattern.RawText!.Trim('/') == parts[1]
                && e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods.Contains(parts[0]) == true)
            .ToList();
        Assert.True(endpoint.Count == 1, $"{operation}: {endpoint.Count} endpoints");
        var declared = endpoint[0].Metadata.GetOrderedMetadata<IProducesResponseTypeMetadata>()
            .Where(m => m.StatusCode is >= 200 and < 300 && m.Type is not null && m.Type != typeof(void)).Select(m => m.Type!).Distinct().ToList();
        Assert.True(declared.Count == 1, $"{operation} declares {declared.Count} success types: {string.Join(", ", declared)}");
        return declared[0];
    }

    private static bool IsContract(Type type) =>
        type.Namespace == "Tally.Contract" || (ElementOf(type) is { } element && IsContract(element));

    private static bool ObjectPresent(SortedSet<string> live, string path) =>
        path.LastIndexOf('.') is var dot && dot < 0 ? !path.StartsWith("[]", StringComparison.Ordinal) || live.Any(n => n.StartsWith("[].", StringComparison.Ordinal))
            : live.Any(n => n.StartsWith(path[..dot] + ".", StringComparison.Ordinal));

    /// <summary>Every JSON name <paramref name="type"/> can write, as a path, and whether it may be absent (null somewhere on the way).</summary>
    private static Dictionary<string, bool> ContractNames(Type type, string path, bool nullableAbove)
    {
        var names = new Dictionary<string, bool>(StringComparer.Ordinal);
        if (ElementOf(type) is { } element)
        {
            foreach (var (name, optional) in ContractNames(element, path + "[]", nullableAbove))
            {
                names[name] = optional;
            }
            return names;
        }
        if (type.Namespace != "Tally.Contract")
        {
            return names;
        }
        var nullability = new NullabilityInfoContext();
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var name = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(property.Name);
            var child = path.Length == 0 ? name : $"{path}.{name}";
            var optional = nullableAbove || nullability.Create(property).ReadState == NullabilityState.Nullable;
            names[child] = optional;
            foreach (var (nested, nestedOptional) in ContractNames(Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType, child, optional))
            {
                names[nested] = nestedOptional;
            }
        }
        return names;
    }

    /// <summary>The element type of a list (not of a string or a dictionary, whose keys are data).</summary>
    private static Type? ElementOf(Type type) =>
        type == typeof(string) || type.GetInterfaces().Append(type).Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)) ? null
        : type.IsArray ? type.GetElementType()
        : typeof(IEnumerable).IsAssignableFrom(type) ? type.GetInterfaces().Append(type).First(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>)).GetGenericArguments()[0]
        : null;

    [Fact]
    public async Task OpenApi_EveryOperation_HasA2xxSchema_AndKeyedOnesRequireTheBearerScheme()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client(null);
        var document = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json"))!;
        var scheme = document["components"]?["securitySchemes"]?["bearer"];
        Assert.Equal("http", scheme?["type"]?.GetValue<string>());
        Assert.Equal("bearer", scheme?["scheme"]?.GetValue<string>());

        var failures = new List<string>();
        var checkedOperations = 0;
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                var name = $"{method.ToUpperInvariant()} {path}";
                var secured = operation!["security"]?.AsArray().Any(r => r!.AsObject().ContainsKey("bearer")) == true;
                if (path.StartsWith("/health/", StringComparison.Ordinal) || path.StartsWith("/dashboard/", StringComparison.Ordinal))
                {
                    if (secured)
                    {
                        failures.Add($"{name} is anonymous but the document asks for a key");
                    }
                }
                else if (path.StartsWith("/api/", StringComparison.Ordinal) && !secured)
                {
                    failures.Add($"{name} needs a key but has no bearer security requirement");
                }
                if (!path.StartsWith("/api/", StringComparison.Ordinal) && !path.StartsWith("/dashboard/session", StringComparison.Ordinal))
                {
                    continue;
                }
                checkedOperations++;
                var success = operation["responses"]!.AsObject().Where(r => r.Key.StartsWith('2')).ToList();
                // 204 has no body to describe; any other success names its JSON schema (or text/csv for an export).
                var described = success.Any(r => r.Key == "204" || r.Value?["content"]?.AsObject()
                    .Any(c => (c.Key.StartsWith("application/json", StringComparison.Ordinal) || c.Key.StartsWith("text/csv", StringComparison.Ordinal))
                        && c.Value?["schema"] is not null) == true);
                if (!described)
                {
                    failures.Add($"{name} has no 2xx response with a JSON schema");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        // The reports that answer ?format=csv say so beside their JSON schema.
        foreach (var report in new[] { "/api/v1/usage/summary", "/api/v1/usage/users", "/api/v1/alerts/history", "/api/v1/advice/seats" })
        {
            var content = document["paths"]![report]!["get"]!["responses"]!["200"]!["content"]!.AsObject();
            Assert.True(content.ContainsKey("text/csv") && content.ContainsKey("application/json"), $"{report}: {string.Join(", ", content.Select(c => c.Key))}");
        }
        Assert.True(checkedOperations >= 30, $"only {checkedOperations} operations under /api/ and /dashboard/session were found");
    }
}
