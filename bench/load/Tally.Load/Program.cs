using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

// The load driver: a separate process that drives a running server over loopback with many connections.
//   setup  --url U --admin-key K --license FILE [--tenants N]   (several fronts: tenant i made through front i mod fronts)
//          creates tenant "load" (or load-1..load-N), installs the license, prints an ingest key (one a line, in order)
//   ingest --url U --key K [--connections 16] [--batch 1000] [--users 10000] [--seconds 10] [--warmup 2] [--pid P] [--label L]
//   access --url U --key K [--connections 64] [--users 10000] [--seconds 10] [--warmup 2] [--pid P] [--label L]
//          [--path /health/live --method GET]                  the same drive against another endpoint (profiling)
//          several fronts: --url U1,U2 (or --url repeated), the connections split between them; several tenants:
//          --keys-file F (keys one a line, as setup --tenants prints them), requests round robin over the tenants
//   failover --url U1,U2 --keys-file F --victims 1,5 --pid P [--signal KILL|STOP] [--before 3] [--every 50] [--limit 60]
//          steady access for every tenant through the fronts U (not P's), then the signal to P: for each victim (line
//          of F, 1-based: tenant load-i) the time from the signal to its first 2xx; prints median and max (Failover.cs)
//   keys   --url U --key K [--count 100000] [--pid P] [--label L]   one event for each of COUNT new users: live meter keys
//   tenants --url U --admin-key K --pid P [--count 10000] [--busy 100] [--asleep-after 30] [--seconds 10] [--label L]
//          COUNT tenants with one event each, then access decisions for BUSY of them while the rest sleep; prints the
//          server's threads and resident memory awake and asleep, and the busy tenants' latency
//   read-key --url U --admin-key K                      prints a read key of tenant "load" (what an observer's source uses)
//   walk --url U --key K [--query Q] [--label L]          walks /api/v1/licenses/consumption?limit=200[&Q] following links.next
//   pull --url U --admin-key K --source-url S --source-key K [--tenant obs] [--label L]
//          creates TENANT with a qlik-cloud source on S and times one POST /api/v1/sources/{id}/pull
//   client, client-outage                                 Tally.Client against hand-written loops (ClientRuns.cs)
// Each run prints one Markdown table row: label, requests/s, events/s, p50/p99/p99.9 ms, errors, server VmHWM/VmRSS;
// walk and pull print: label, records, seconds, records/s.
var options = Options.Parse(args);
return args.FirstOrDefault() switch
{
    "setup" => await Setup(options),
    "failover" => await Failover.Run(options),
    "ingest" => await Drive(options, ingest: true),
    "access" => await Drive(options, ingest: false),
    "keys" => await Keys(options),
    "tenants" => await ManyTenants(options),
    "header" => Header(),
    "failover-header" => FailoverHeader(),
    "read-key" => await ReadKey(options),
    "walk" => await Walk(options),
    "pull" => await Pull(options),
    "client" => await ClientRuns.Throughput(options),
    "client-outage" => await ClientRuns.Outage(options),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Tally.Load setup|ingest|access|keys|header [--url U] [--key K] ... (see bench/load/README in docs/performance.md)");
    return 2;
}

static int Header()
{
    Console.WriteLine("| run | requests/s | events/s | p50 ms | p99 ms | p99.9 ms | errors | server VmHWM MB | server VmRSS MB |");
    Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    return 0;
}

static int FailoverHeader()
{
    Failover.Header();
    return 0;
}

static HttpClient Client(Options o, int connections, string? key) => LoadClient.For(o.Url, connections, key);

static async Task<int> Setup(Options o)
{
    // Tenant i is created through front i mod fronts: a tenant's first requests are what places its owner in a
    // cluster, and tenants all made through one front were all found owned by that front's node.
    var admins = o.Urls.Select(u => LoadClient.For(u, 4, o.Require("admin-key"))).ToArray();
    var license = (await File.ReadAllTextAsync(o.Require("license"))).Trim();
    // One tenant named "load" unless asked for several: run.sh and the other scripts know that name.
    var count = o.Int("tenants", 0);
    string[] ids = count == 0 ? ["load"] : [.. Enumerable.Range(1, count).Select(i => $"load-{i}")];
    try
    {
        for (var i = 0; i < ids.Length; i++)
        {
            if (await SetupTenant(admins[i % admins.Length], ids[i], license) is not { } key)
            {
                return 1;
            }
            Console.WriteLine(key);
        }
        return 0;
    }
    finally
    {
        foreach (var admin in admins)
        {
            admin.Dispose();
        }
    }
}

// Creates the tenant, installs the license with the tenant's own admin key, returns an ingest key (null: refused).
static async Task<string?> SetupTenant(HttpClient admin, string id, string license)
{
    (await admin.PostAsync("/api/v1/tenants", Json(new { id, name = "Load test" }))).EnsureSuccessStatusCode();
    Task<string> Key(string role) => TenantKey(admin, id, role);
    var ingestKey = await Key("ingest");
    using var tenantAdmin = LoadClient.For(admin.BaseAddress!.ToString(), 4, await Key("admin"));
    var put = await tenantAdmin.PutAsync("/api/v1/license", Json(new { key = license }));
    if (!put.IsSuccessStatusCode)
    {
        Console.Error.WriteLine($"license refused for {id}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        return null;
    }
    return ingestKey;
}

static async Task<string> TenantKey(HttpClient admin, string tenant, string role)
{
    var response = await admin.PostAsync($"/api/v1/tenants/{tenant}/api-keys", Json(new { role }));
    response.EnsureSuccessStatusCode();
    using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    return doc.RootElement.GetProperty("key").GetString()!;
}

static async Task<int> ReadKey(Options o)
{
    using var admin = Client(o, 1, o.Require("admin-key"));
    Console.WriteLine(await TenantKey(admin, "load", "read"));
    return 0;
}

// What an import pays the source alone: every consumption page, one after another as the pull reads them, nothing stored.
static async Task<int> Walk(Options o)
{
    using var client = Client(o, 1, o.Require("key"));
    var query = o.Get("query") is { Length: > 0 } q ? "&" + q : "";
    var next = $"/api/v1/licenses/consumption?limit=200{query}";
    var (records, pages) = (0L, 0);
    var clock = Stopwatch.StartNew();
    while (next is not null)
    {
        using var doc = JsonDocument.Parse(await client.GetStringAsync(next));
        records += doc.RootElement.GetProperty("data").GetArrayLength();
        pages++;
        next = doc.RootElement.TryGetProperty("links", out var links) && links.TryGetProperty("next", out var link)
            && link.ValueKind == JsonValueKind.Object && link.GetProperty("href").GetString() is { Length: > 0 } href ? href : null;
    }
    PrintRecords(o.Get("label") ?? "walk", records, clock.Elapsed.TotalSeconds, $"{pages} pages");
    return records > 0 ? 0 : 1;
}

static async Task<int> Pull(Options o)
{
    var tenant = o.Get("tenant") ?? "obs";
    using var admin = Client(o, 1, o.Require("admin-key"));
    (await admin.PostAsync("/api/v1/tenants", Json(new { id = tenant, name = "Import" }))).EnsureSuccessStatusCode();
    using var tenantAdmin = Client(o, 1, await TenantKey(admin, tenant, "admin"));
    tenantAdmin.Timeout = TimeSpan.FromMinutes(30);
    var added = await tenantAdmin.PostAsync("/api/v1/sources",
        Json(new { id = "source", kind = "qlik-cloud", url = o.Require("source-url"), apiKey = o.Require("source-key") }));
    if (!added.IsSuccessStatusCode)
    {
        Console.Error.WriteLine($"source refused: {(int)added.StatusCode} {await added.Content.ReadAsStringAsync()}");
        return 1;
    }
    var clock = Stopwatch.StartNew();
    using var response = await tenantAdmin.PostAsync("/api/v1/sources/source/pull", null);
    var seconds = clock.Elapsed.TotalSeconds;
    using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    if (!response.IsSuccessStatusCode || doc.RootElement.TryGetProperty("failure", out var failure) && failure.ValueKind != JsonValueKind.Null)
    {
        Console.Error.WriteLine($"pull failed: {(int)response.StatusCode} {doc.RootElement}");
        return 1;
    }
    PrintRecords(o.Get("label") ?? "pull", doc.RootElement.GetProperty("added").GetInt64(), seconds,
        $"{doc.RootElement.GetProperty("repeated").GetInt64()} repeated");
    return 0;
}

static void PrintRecords(string run, long records, double seconds, string note) =>
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {run} | {records:N0} | {seconds:0.00} | {records / seconds:N0} | {note} |"));

static StringContent Json(object value) => new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

static async Task<int> Drive(Options o, bool ingest)
{
    var connections = o.Int("connections", ingest ? 16 : 64);
    var batch = ingest ? o.Int("batch", 1000) : 1;
    var users = o.Int("users", 10_000);
    var seconds = o.Int("seconds", 10);
    var warmup = o.Int("warmup", 2);
    var path = o.Get("path") ?? (ingest ? "/api/v1/events" : "/api/v1/access");
    var get = o.Get("method") == "GET";
    var run = o.Get("label") ?? (ingest ? "ingest" : "access");
    var prefix = $"{run.Replace(' ', '-')}-{Environment.ProcessId}-";
    // One pool per front, the connections split between them; worker w always uses front w mod fronts.
    var tenantKeys = o.Keys();
    var urls = o.Urls;
    var clients = urls.Select(u => LoadClient.For(u, (connections + urls.Length - 1) / urls.Length, tenantKeys.Length == 1 ? tenantKeys[0] : null)).ToArray();
    long sequence = 0, requests = 0;
    var clock = Stopwatch.StartNew();
    var measureFrom = TimeSpan.FromSeconds(warmup);
    var stopAt = TimeSpan.FromSeconds(warmup + seconds);
    var perWorker = new List<long>[connections];
    var errors = 0L;
    string? firstError = null;

    async Task Worker(int w)
    {
        var client = clients[w % clients.Length];
        var latencies = perWorker[w] = new List<long>(1 << 16);
        var body = new StringBuilder(batch * 80);
        while (clock.Elapsed < stopAt)
        {
            body.Clear();
            if (ingest)
            {
                body.Append('[');
            }
            for (var i = 0; i < batch; i++)
            {
                var n = Interlocked.Increment(ref sequence);
                var user = (n * 7919) % users;
                body.Append(i == 0 ? "" : ",").Append("{\"id\":\"").Append(prefix).Append(n)
                    .Append("\",\"user\":\"user-").Append(user).Append("\",\"app\":\"app-").Append(user % 50).Append("\",\"action\":\"select\"}");
            }
            if (ingest)
            {
                body.Append(']');
            }
            using var request = new HttpRequestMessage(get ? HttpMethod.Get : HttpMethod.Post, path);
            if (!get)
            {
                request.Content = new StringContent(body.ToString(), Encoding.UTF8, "application/json");
            }
            // Several tenants: each request carries the next tenant's key, round robin (one key: the client's default).
            if (tenantKeys.Length > 1)
            {
                var t = (int)(Interlocked.Increment(ref requests) % tenantKeys.Length);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tenantKeys[t]);
            }
            var started = clock.Elapsed;
            try
            {
                using var response = await client.SendAsync(request);
                var bytes = await response.Content.ReadAsByteArrayAsync();
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref errors);
                    firstError ??= $"{(int)response.StatusCode} {Encoding.UTF8.GetString(bytes)}";
                    continue;
                }
            }
            catch (HttpRequestException e)
            {
                Interlocked.Increment(ref errors);
                firstError ??= e.Message;
                continue;
            }
            var ended = clock.Elapsed;
            if (started >= measureFrom && ended <= stopAt)
            {
                latencies.Add((ended - started).Ticks);
            }
        }
    }

    await Task.WhenAll(Enumerable.Range(0, connections).Select(w => Task.Run(() => Worker(w))));
    foreach (var client in clients)
    {
        client.Dispose();
    }
    var all = perWorker.SelectMany(l => l).ToArray();
    Array.Sort(all);
    Report(o, run, all, seconds, batch, errors);
    if (firstError is not null)
    {
        Console.Error.WriteLine($"{run}: first error: {firstError}");
    }
    return errors == 0 && all.Length > 0 ? 0 : 1;
}

static async Task<int> Keys(Options o)
{
    var count = o.Int("count", 100_000);
    var run = o.Get("label") ?? "keys";
    using var client = Client(o, 4, o.Require("key"));
    var clock = Stopwatch.StartNew();
    var latencies = new List<long>();
    long errors = 0;
    for (var start = 0; start < count; start += 1000)
    {
        var body = new StringBuilder("[");
        for (var i = start; i < Math.Min(count, start + 1000); i++)
        {
            body.Append(i == start ? "" : ",").Append("{\"id\":\"k-").Append(i).Append("\",\"user\":\"key-user-").Append(i)
                .Append("\",\"device\":\"pc-").Append(i).Append("\",\"app\":\"app-").Append(i % 50).Append("\",\"action\":\"open-app\"}");
        }
        body.Append(']');
        var started = clock.Elapsed;
        using var response = await client.PostAsync("/api/v1/events", new StringContent(body.ToString(), Encoding.UTF8, "application/json"));
        _ = await response.Content.ReadAsByteArrayAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            errors++;
        }
        latencies.Add((clock.Elapsed - started).Ticks);
    }
    var seconds = clock.Elapsed.TotalSeconds;
    // Let the server settle (a GC after the burst) before reading its resident size.
    await Task.Delay(2000);
    var sorted = latencies.ToArray();
    Array.Sort(sorted);
    Report(o, $"{run} ({count:N0} live keys, {seconds:0.0} s)", sorted, seconds, 1000, errors);
    return errors == 0 ? 0 : 1;
}

static async Task<int> ManyTenants(Options o)
{
    var count = o.Int("count", 10_000);
    var busy = o.Int("busy", count / 100);
    var pid = int.Parse(o.Require("pid"), CultureInfo.InvariantCulture);
    var run = o.Get("label") ?? "tenants";
    using var admin = Client(o, 8, o.Require("admin-key"));
    var keys = new string[count];
    var before = ServerProcess(pid);
    var clock = Stopwatch.StartNew();
    // Tenants and their ingest keys, eight requests at a time.
    await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, cancel) =>
    {
        var id = $"t{i:D5}";
        (await admin.PostAsync("/api/v1/tenants", Json(new { id, name = id }), cancel)).EnsureSuccessStatusCode();
        var response = await admin.PostAsync($"/api/v1/tenants/{id}/api-keys", Json(new { role = "ingest" }), cancel);
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancel));
        keys[i] = doc.RootElement.GetProperty("key").GetString()!;
    });
    var created = clock.Elapsed;
    // One event each: every tenant's meter is awake.
    await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, cancel) =>
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = Json(new[] { new { id = "first", user = "ann", app = "a", action = "open-app" } }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", keys[i]);
        (await admin.SendAsync(request, cancel)).EnsureSuccessStatusCode();
    });
    await Task.Delay(2000);
    var awake = ServerProcess(pid);
    Console.Error.WriteLine($"{run}: {count:N0} tenants created in {created.TotalSeconds:0} s");
    // The server was started with a short Tally:SleepIdleTenantsAfter: wait for the idle ones to sleep.
    await Task.Delay(TimeSpan.FromSeconds(o.Int("asleep-after", 30)));
    var asleep = ServerProcess(pid);

    // Access decisions for the busy tenants, round robin, while the others sleep.
    var connections = o.Int("connections", 64);
    var seconds = o.Int("seconds", 10);
    var warmup = o.Int("warmup", 2);
    using var client = Client(o, connections, null);
    var latencies = new List<long>[connections];
    long errors = 0, sequence = 0;
    var timer = Stopwatch.StartNew();
    var measureFrom = TimeSpan.FromSeconds(warmup);
    var stopAt = TimeSpan.FromSeconds(warmup + seconds);
    await Task.WhenAll(Enumerable.Range(0, connections).Select(w => Task.Run(async () =>
    {
        var mine = latencies[w] = new List<long>(1 << 16);
        while (timer.Elapsed < stopAt)
        {
            var n = Interlocked.Increment(ref sequence);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/access")
            {
                Content = new StringContent($"{{\"id\":\"a{n}\",\"user\":\"user-{n % 1000}\",\"app\":\"app\",\"action\":\"select\"}}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", keys[(int)(n % busy)]);
            var started = timer.Elapsed;
            using var response = await client.SendAsync(request);
            _ = await response.Content.ReadAsByteArrayAsync();
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Interlocked.Increment(ref errors);
                continue;
            }
            if (started >= measureFrom && timer.Elapsed <= stopAt)
            {
                mine.Add((timer.Elapsed - started).Ticks);
            }
        }
    })));
    var loaded = ServerProcess(pid);
    var all = latencies.SelectMany(l => l).ToArray();
    Array.Sort(all);
    Report(o, $"{run}: access on {busy:N0} busy of {count:N0} tenants", all, seconds, 1, errors);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {run}: server threads / RSS MB | before: {before.Threads} / {before.RssMb:0} | all {count:N0} awake: {awake.Threads} / {awake.RssMb:0} | idle asleep: {asleep.Threads} / {asleep.RssMb:0} | under busy load: {loaded.Threads} / {loaded.RssMb:0} | RSS per tenant asleep: {(asleep.RssMb - before.RssMb) * 1024 / count:0.0} KB | | |"));
    return errors == 0 && all.Length > 0 ? 0 : 1;
}

// Threads and resident set of the server process, from the kernel.
static (int Threads, double RssMb) ServerProcess(int pid)
{
    int threads = 0;
    double rss = double.NaN;
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith("Threads:", StringComparison.Ordinal))
        {
            threads = int.Parse(line.Split(':')[1].Trim(), CultureInfo.InvariantCulture);
        }
        else if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
        {
            rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
    }
    return (threads, rss);
}

static void Report(Options o, string run, long[] sortedTicks, double seconds, int batch, long errors)
{
    double Percentile(double p) => sortedTicks.Length == 0 ? double.NaN
        : sortedTicks[Math.Min(sortedTicks.Length - 1, (int)Math.Ceiling(p * sortedTicks.Length) - 1)] / (double)TimeSpan.TicksPerMillisecond;
    var rps = sortedTicks.Length / seconds;
    var (hwm, rss) = o.Get("pid") is { } pid ? ServerMemory(int.Parse(pid, CultureInfo.InvariantCulture)) : (double.NaN, double.NaN);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {run} | {rps:N0} | {rps * batch:N0} | {Percentile(0.50):0.00} | {Percentile(0.99):0.00} | {Percentile(0.999):0.00} | {errors} | {hwm:0} | {rss:0} |"));
}

// Peak and current resident set of the server process, from the kernel (what the machine actually gave it).
static (double HwmMb, double RssMb) ServerMemory(int pid)
{
    double hwm = double.NaN, rss = double.NaN;
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
        {
            hwm = Kb(line) / 1024.0;
        }
        else if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
        {
            rss = Kb(line) / 1024.0;
        }
    }
    return (hwm, rss);

    static long Kb(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}

internal sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public static Options Parse(string[] args)
    {
        var options = new Options();
        for (var i = 1; i + 1 < args.Length; i += 2)
        {
            // An option given twice keeps both values, comma-separated: --url A --url B is --url A,B.
            var name = args[i].TrimStart('-');
            options._values[name] = options._values.TryGetValue(name, out var earlier) ? $"{earlier},{args[i + 1]}" : args[i + 1];
        }
        options.Urls = (options.Get("url") ?? "http://127.0.0.1:5080").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        options.Url = options.Urls[0];
        return options;
    }

    /// <summary>The first front: setup and the single-front modes use it.</summary>
    public string Url { get; private set; } = "";

    /// <summary>Every front given with --url, in order.</summary>
    public string[] Urls { get; private set; } = [];

    /// <summary>The tenants' keys: the lines of --keys-file, else --key alone, else none (an endpoint without a key).</summary>
    public string[] Keys() => Get("keys-file") is { } file
        ? [.. File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0)]
        : Get("key") is { } key ? [key] : [];

    public string? Get(string name) => _values.GetValueOrDefault(name);

    public string Require(string name) => Get(name) ?? throw new ArgumentException($"--{name} is required");

    public int Int(string name, int fallback) => Get(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
}
