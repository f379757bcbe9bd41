using System.Diagnostics;
using Npgsql;

namespace Tally.TestSupport;

/// <summary>
/// A real PostgreSQL server for tests: the one <c>TALLY_TEST_POSTGRES</c> names (a connection string whose user may
/// create schemas), otherwise a throwaway cluster started here with <c>initdb</c> and <c>pg_ctl</c> in a temp folder on
/// a free loopback port (as the <c>postgres</c> OS user when running as root), stopped and deleted on dispose.
/// Each caller gets its own schema, so no test sees another's rows.
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    public const string EnvironmentVariable = "TALLY_TEST_POSTGRES";

    private readonly string? _dir;
    private readonly string? _bin;
    private readonly string _adminConnectionString;
    private int _schemas;

    public PostgresCluster()
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } given)
        {
            _adminConnectionString = given;
            return;
        }
        _bin = FindBinaries();
        _dir = Directory.CreateTempSubdirectory("tally-pg-").FullName;
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            Run(null, "chown", "-R", "postgres:postgres", _dir);
        }
        var data = Path.Combine(_dir, "data");
        Port = Ports.Free();
        Run(asRoot ? "postgres" : null, Path.Combine(_bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync");
        // fsync off: a test cluster in a temp folder need not survive power loss; the server under test is what gets killed.
        Run(asRoot ? "postgres" : null, Path.Combine(_bin, "pg_ctl"), "-D", data, "-l", Path.Combine(_dir, "server.log"), "-w", "-t", "60",
            "-o", $"-p {Port} -c listen_addresses=127.0.0.1 -k {_dir} -c fsync=off -c max_connections=200", "start");
        _adminConnectionString = $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false;Timeout=30";
    }

    /// <summary>The loopback port of the throwaway cluster (0 when an external server is used).</summary>
    public int Port { get; }

    /// <summary>A connection string whose tables live in a fresh, empty schema.</summary>
    public string NewSchema(string prefix = "t")
    {
        var name = $"{prefix}_{Environment.ProcessId}_{Interlocked.Increment(ref _schemas)}_{Guid.NewGuid():N}"[..40].ToLowerInvariant();
        using (var connection = new NpgsqlConnection(_adminConnectionString))
        {
            connection.Open();
            using var command = new NpgsqlCommand($"CREATE SCHEMA \"{name}\";", connection);
            command.ExecuteNonQuery();
        }
        return new NpgsqlConnectionStringBuilder(_adminConnectionString) { SearchPath = name, Pooling = true }.ConnectionString;
    }

    /// <summary>Drops a schema made by <see cref="NewSchema"/> with everything in it.</summary>
    public void DropSchema(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).SearchPath!;
        NpgsqlConnection.ClearAllPools();
        using var connection = new NpgsqlConnection(_adminConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{name}\" CASCADE;", connection);
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        NpgsqlConnection.ClearAllPools();
        if (_dir is null || _bin is null)
        {
            return;
        }
        try
        {
            Run(Environment.UserName == "root" ? "postgres" : null, Path.Combine(_bin, "pg_ctl"), "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop");
        }
        finally
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    /// <summary>The folder with initdb and pg_ctl: on PATH, or Debian's /usr/lib/postgresql/N/bin (newest first).</summary>
    public static string FindBinaries()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
            {
                return dir;
            }
        }
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            var found = Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var major) ? major : 0)
                .FirstOrDefault();
            if (found is not null)
            {
                return found;
            }
        }
        throw new InvalidOperationException($"PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or under /usr/lib/postgresql/*/bin. Run scripts/install-deps, or set {EnvironmentVariable} to a connection string.");
    }


    private static void Run(string? asUser, string file, params string[] args)
    {
        var start = new ProcessStartInfo(asUser is null ? file : "runuser")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asUser is not null)
        {
            foreach (var a in new[] { "-u", asUser, "--", file })
            {
                start.ArgumentList.Add(a);
            }
        }
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        }
    }
}
