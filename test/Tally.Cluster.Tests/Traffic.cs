using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tally.Cluster.Tests;

/// <summary>
/// A client fleet against the cluster: <c>workers</c> loops, each posting batches of new events (ids unique to the run)
/// to the nodes in turn. A batch the cluster does not acknowledge (an error status, a dropped connection, a time-out)
/// is sent again, unchanged, to the next node until one acknowledges it: what a client of a load-balanced cluster does.
/// Records every acknowledged event with the decision it was answered.
/// </summary>
public sealed class Traffic(ClusterNodes nodes, TenantKeys tenant, int workers = 6, int batch = 5, int users = 40)
{
    private readonly ConcurrentDictionary<string, string> _acknowledged = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private long _refused;
    private long _sent;

    /// <summary>Event id → decision, for every event the cluster acknowledged with a 200.</summary>
    public IReadOnlyDictionary<string, string> Acknowledged => _acknowledged;

    public long Acknowledgements => _acknowledged.Count;

    /// <summary>Attempts that got no acknowledgement (and were sent again).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Nodes the fleet may send to now (a test takes a node out while it is down, as a load balancer's health check would).</summary>
    public Func<int, bool> Usable { get; set; } = _ => true;

    public void Start()
    {
        for (var w = 0; w < workers; w++)
        {
            var worker = w;
            _loops.Add(Task.Run(() => Loop(worker)));
        }
    }

    /// <summary>Stops taking new batches; a batch in flight is still sent until acknowledged (or <paramref name="limit"/> passes).</summary>
    public async Task StopAsync(TimeSpan limit)
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops).WaitAsync(limit);
    }

    /// <summary>Waits until <paramref name="more"/> more events are acknowledged than now.</summary>
    public Task MoreAsync(long more, TimeSpan? timeout = null)
    {
        var target = Acknowledgements + more;
        return Eventually.Until(() => Acknowledgements >= target, $"{more} more acknowledged events (at {Acknowledgements}, refused {Refused})",
            timeout ?? TimeSpan.FromSeconds(90));
    }

    private async Task Loop(int worker)
    {
        var clients = Enumerable.Range(0, nodes.Count).Select(i =>
        {
            var c = nodes.Client(i, tenant.Ingest);
            c.Timeout = TimeSpan.FromSeconds(10);
            return c;
        }).ToArray();
        var random = new Random(worker);
        var node = worker % nodes.Count;
        for (var n = 0; !_stop.IsCancellationRequested; n++)
        {
            var events = Enumerable.Range(0, batch).Select(i =>
            {
                var user = $"user{random.Next(users)}";
                return new { id = $"w{worker}-{n}-{i}", user, device = user + "-laptop", app = $"app{random.Next(4)}", action = "select" };
            }).ToArray();
            // The same batch, unchanged, until one node acknowledges it; a minute without an answer fails the run.
            var waiting = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                node = (node + 1) % nodes.Count;
                if (!Usable(node))
                {
                    continue;
                }
                Interlocked.Increment(ref _sent);
                try
                {
                    using var response = await clients[node].PostAsJsonAsync("/api/v1/events", events);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        var answers = JsonSerializer.Deserialize<JsonElement>(await response.Content.ReadAsStringAsync());
                        foreach (var answer in answers.EnumerateArray())
                        {
                            _acknowledged[answer.GetProperty("id").GetString()!] = answer.GetProperty("decision").GetString()!;
                        }
                        break;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                {
                    // No answer: unknown whether it was applied; the resend with the same ids settles it.
                }
                Interlocked.Increment(ref _refused);
                if (waiting.Elapsed > TimeSpan.FromMinutes(1))
                {
                    throw new TimeoutException($"worker {worker}: batch {n} not acknowledged by any node for a minute");
                }
                await Task.Delay(100);
            }
        }
        foreach (var c in clients)
        {
            c.Dispose();
        }
    }
}
