using Tally.Storage;

namespace Tally.Cluster;

/// <summary>
/// A tenant's HTTP request as the node that received it hands it to the tenant's grain: everything the owner's pipeline
/// reads, and the caller the receiving node authenticated (the owner trusts it: grain calls travel between the nodes
/// only, never from a client).
/// </summary>
[GenerateSerializer, Immutable]
public sealed class ForwardedRequest
{
    [Id(0)] public required string Method { get; init; }
    [Id(1)] public required string Scheme { get; init; }
    [Id(2)] public required string Host { get; init; }
    [Id(3)] public required string PathBase { get; init; }
    [Id(4)] public required string Path { get; init; }
    [Id(5)] public required string QueryString { get; init; }
    /// <summary>Each header's name and values, in the order received.</summary>
    [Id(6)] public required string[][] Headers { get; init; }
    [Id(7)] public required byte[] Body { get; init; }
    /// <summary>The client's address as the receiving node saw it (after its trusted proxies).</summary>
    [Id(8)] public string? RemoteIp { get; init; }
    [Id(9)] public required string KeyId { get; init; }
    [Id(10)] public required string Tenant { get; init; }
    [Id(11)] public required ApiRole Role { get; init; }
}

/// <summary>The owner's answer, whole: status, headers and body, for the receiving node to write back.</summary>
[GenerateSerializer, Immutable]
public sealed class ForwardedResponse
{
    [Id(0)] public required int Status { get; init; }
    [Id(1)] public required string[][] Headers { get; init; }
    [Id(2)] public required byte[] Body { get; init; }
}
