using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using Npgsql;
using Tally.Contract;

namespace Tally.Cluster.Tests;

/// <summary>
/// A cluster of real <c>tally serve --cluster</c> processes on loopback, over one fresh schema of the shared throwaway
/// PostgreSQL: each node with its own HTTP and silo ports and data folder, all with the same bootstrap key, vendor key
/// and secrets key. A node can be killed (SIGKILL), frozen (SIGSTOP) and thawed (SIGCONT), stopped gracefully
/// (SIGTERM) and started again on the same ports. Disposing kills every node and drops the schema.
/// </summary>
public sealed class ClusterNodes : IAsyncDisposable
{
    public const string AdminKey = "cluster-test-bootstrap-key-0123456789abcdef";

    private readonly PostgresCluster _postgres;
    private readonly Node[] _nodes;

    private ClusterNodes(PostgresCluster postgres, string dir, string database, int count)
    {
        _postgres = postgres;
        Dir = dir;
        Database = database;
        Vendor = Vendor.Create(dir);
        Certificate = MakeCertificate(Path.Combine(dir, "cluster-cert"));
        _nodes = [.. Enumerable.Range(0, count).Select(i => new Node(i, Ports.Free(), Ports.Free(), Path.Combine(dir, $"node{i}")))];
    }

    public string Dir { get; }

    /// <summary>The connection string every node uses (its tables in a schema of their own).</summary>
    public string Database { get; }

    public Vendor Vendor { get; }

    /// <summary>The certificate and key every node presents to the others (made with <c>tally cluster-cert</c>).</summary>
    public (string Certificate, string Key) Certificate { get; }

    /// <summary>Runs <c>tally cluster-cert --out <paramref name="dir"/></c>: a new cluster certificate and its key.</summary>
    public static (string Certificate, string Key) MakeCertificate(string dir)
    {
        var made = TallyProcess.Run(null, "cluster-cert", "--out", dir);
        Assert.True(made.ExitCode == 0, made.Stderr);
        return (Path.Combine(dir, "cluster.crt"), Path.Combine(dir, "cluster.key"));
    }

    public int Count => _nodes.Length;

    /// <summary>Starts <paramref name="count"/> nodes together and waits until each is ready and sees all of them active.</summary>
    public static async Task<ClusterNodes> StartAsync(PostgresCluster postgres, int count = 3, params string[] extra)
    {
        var dir = Directory.CreateTempSubdirectory("tally-cluster-").FullName;
        var nodes = new ClusterNodes(postgres, dir, postgres.NewSchema("cluster"), count) { _extra = extra };
        try
        {
            // The first node creates the schema (and the cluster's row) before the others race for it.
            await nodes.StartNodeAsync(0);
            await Task.WhenAll(Enumerable.Range(1, count - 1).Select(nodes.StartNodeAsync));
            await nodes.WaitMembersAsync(count);
            return nodes;
        }
        catch
        {
            await nodes.DisposeAsync();
            throw;
        }
    }

    private string[] _extra = [];

    /// <summary><c>http://127.0.0.1:PORT</c> of node <paramref name="i"/>.</summary>
    public Uri Address(int i) => new(ServerProcess.Urls(_nodes[i].HttpPort));

    public HttpClient Client(int i, string? key) => ApiClients.For(Address(i), key);

    public bool IsRunning(int i) => _nodes[i].Server is { } s && !s.Process.HasExited;

    public int ProcessId(int i) => _nodes[i].Server?.Process.Id ?? 0;

    /// <summary>Everything node <paramref name="i"/> printed in all its starts so far.</summary>
    public string Output(int i) => string.Join('\n', _nodes[i].Earlier.Append(_nodes[i].Server?.Output ?? ""));

    public string AllOutput => string.Join("\n", Enumerable.Range(0, Count).Select(i => $"===== node {i} =====\n{Output(i)}"));

    public async Task<TenantKeys> CreateTenantAsync(string id, int via = 0)
    {
        using var admin = Client(via, AdminKey);
        return await ApiClients.CreateTenantAsync(admin, id);
    }

    public async Task StartNodeAsync(int i)
    {
        var node = _nodes[i];
        Directory.CreateDirectory(node.Data);
        for (var attempt = 1; ; attempt++)
        {
            var start = NodeStart(node, Certificate);
            try
            {
                node.Server = await ServerProcess.StartAsync(start, node.HttpPort);
                return;
            }
            catch (Exception e) when (attempt < 20 && (e.Message.Contains("already in use", StringComparison.Ordinal) || e.Message.Contains("tally serve exited (2)", StringComparison.Ordinal)))
            {
                // A killed node's sockets can outlive it by a moment: the same ports, again shortly.
                node.Earlier.Add(e.Message);
                await Task.Delay(250);
            }
        }
    }

    /// <summary>
    /// Starts one more node with <paramref name="certificate"/> instead of the cluster's, on fresh ports and without
    /// waiting for it: a stranger, which the nodes must not admit. Disposed by the caller.
    /// </summary>
    public (ServerProcess Server, int SiloPort) LaunchStranger((string Certificate, string Key) certificate)
    {
        var node = new Node(Count, Ports.Free(), Ports.Free(), Path.Combine(Dir, "stranger"));
        Directory.CreateDirectory(node.Data);
        return (ServerProcess.Launch(NodeStart(node, certificate), node.HttpPort), node.SiloPort);
    }

    private System.Diagnostics.ProcessStartInfo NodeStart(Node node, (string Certificate, string Key) certificate)
    {
        var start = TallyProcess.StartInfo([
            "serve", "--cluster", "--database", Database, "--urls", ServerProcess.Urls(node.HttpPort), "--data", node.Data,
            "--silo-port", node.SiloPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--advertise", "127.0.0.1",
            "--cluster-cert", certificate.Certificate, "--cluster-key", certificate.Key,
            "--public-key", Vendor.PublicKeyFile, "--Tally:SecretsKeyFile=" + Path.Combine(Dir, "secrets.key"), .. _extra]);
        start.Environment["TALLY_ADMIN_KEY"] = AdminKey;
        start.RedirectStandardInput = false;
        return start;
    }

    /// <summary>SIGKILL: no shutdown, no flush, no goodbye to the cluster.</summary>
    public void Kill9(int i)
    {
        if (_nodes[i].Server is not { } server)
        {
            return;
        }
        _nodes[i].Server = null;
        _nodes[i].Earlier.Add(server.Output);
        if (!server.Process.HasExited)
        {
            server.Process.Kill(entireProcessTree: true);
        }
        server.Process.WaitForExit();
        server.Dispose();
    }

    /// <summary>SIGTERM, then waits (up to <paramref name="limit"/>) for the graceful stop: the node leaves the cluster and its grains hand over.</summary>
    public async Task StopAsync(int i, TimeSpan limit)
    {
        if (_nodes[i].Server is not { } server)
        {
            return;
        }
        Assert.Equal(0, Signal(server.Process.Id, SigTerm));
        using var timeout = new CancellationTokenSource(limit);
        await server.Process.WaitForExitAsync(timeout.Token);
        _nodes[i].Server = null;
        _nodes[i].Earlier.Add(server.Output + $"\n(exited {server.Process.ExitCode})");
        server.Dispose();
    }

    /// <summary>SIGSTOP: the node freezes where it is, sockets open, as a long GC pause or a suspended VM would.</summary>
    public void Freeze(int i) => Assert.Equal(0, Signal(ProcessId(i), SigStop));

    /// <summary>SIGCONT: the frozen node carries on from where it stopped, unaware of what happened meanwhile.</summary>
    public void Thaw(int i) => Assert.Equal(0, Signal(ProcessId(i), SigCont));

    /// <summary>Waits until node <paramref name="via"/> (default: every running node) sees <paramref name="active"/> active members.</summary>
    public async Task WaitMembersAsync(int active, int? via = null, TimeSpan? timeout = null)
    {
        foreach (var i in via is { } one ? [one] : Enumerable.Range(0, Count).Where(IsRunning))
        {
            await Eventually.Until(async () => await HealthAsync(i),
                h => h?.Cluster is { Status: "active" } c && c.Members.Count(m => m.Status == "active") == active,
                $"node {i} to see {active} active nodes", timeout ?? TimeSpan.FromSeconds(60), h => JsonSerializer.Serialize(h));
        }
    }

    public async Task<HealthStatus?> HealthAsync(int i)
    {
        try
        {
            using var client = Client(i, null);
            client.Timeout = TimeSpan.FromSeconds(5);
            using var response = await client.GetAsync("/health/live");
            return response.StatusCode == HttpStatusCode.OK
                ? JsonSerializer.Deserialize<HealthStatus>(await response.Content.ReadAsStringAsync(), RealTally.Json)
                : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>The node whose process holds the tenant's ledger claim now (-1: none of them), and the claim's epoch.</summary>
    public (int Node, long Epoch) Owner(string tenant)
    {
        using var connection = Open();
        using var command = new NpgsqlCommand("SELECT owner, epoch FROM tenant_owners WHERE tenant = @tenant;", connection);
        command.Parameters.AddWithValue("tenant", tenant);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return (-1, 0);
        }
        var pid = int.Parse(reader.GetString(0).Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture);
        return (Enumerable.Range(0, Count).FirstOrDefault(i => ProcessId(i) == pid, -1), reader.GetInt64(1));
    }

    /// <summary>A connection to the cluster's schema, for checking the ledger directly.</summary>
    public NpgsqlConnection Open()
    {
        var connection = new NpgsqlConnection(Database);
        connection.Open();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < Count; i++)
        {
            if (IsRunning(i))
            {
                // A frozen process ignores everything but SIGKILL; thaw it first so its tree dies cleanly.
                Signal(ProcessId(i), SigCont);
            }
            Kill9(i);
        }
        await Task.Yield();
        try
        {
            _postgres.DropSchema(Database);
        }
        catch (NpgsqlException)
        {
            // A schema left behind in a throwaway cluster is harmless; throwing would hide the test's own failure.
        }
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private const int SigTerm = 15, SigStop = 19, SigCont = 18;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Signal(int pid, int signal);

    private sealed class Node(int index, int httpPort, int siloPort, string data)
    {
        public int Index { get; } = index;
        public int HttpPort { get; } = httpPort;
        public int SiloPort { get; } = siloPort;
        public string Data { get; } = data;
        public ServerProcess? Server { get; set; }
        public List<string> Earlier { get; } = [];
    }
}
