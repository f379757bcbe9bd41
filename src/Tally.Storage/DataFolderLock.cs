using System.Globalization;
using System.Text;

namespace Tally.Storage;

/// <summary>
/// The ledger cannot be used for a reason the operator has to fix (another server holds the data folder, the folder or
/// the database cannot be written, the schema is newer than this Tally). The message names the cause and what to do;
/// <c>tally serve</c> prints it without a stack trace and exits non-zero.
/// </summary>
public sealed class LedgerOpenException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Exclusive use of a SQLite data folder for the life of the process. Each server keeps its tenants' meters in memory
/// and trusts that it is the only writer, so two servers on one folder would each charge the same users' units. The
/// lock is the operating system's (<c>DATA/tally.lock</c> opened with <see cref="FileShare.None"/>: an exclusive
/// <c>flock</c> on Linux and macOS, a sharing lock on Windows), so it ends with the process however the process ends,
/// kill -9 included; no stale-file heuristic ever has to guess whether an owner is still alive.
/// <para>
/// The holder writes who it is (pid, host, start time) into the lock file, for an operator's <c>cat</c>, and into
/// <c>DATA/tally.lock.owner</c>, for a second server: a file held with <see cref="FileShare.None"/> cannot be opened by
/// another .NET process even to read it. Neither file is deleted on exit (deleting a lock file lets two processes lock
/// two different files of the same name), and a leftover owner file means nothing without the lock.
/// </para>
/// </summary>
public sealed class DataFolderLock : IDisposable
{
    public const string LockFileName = "tally.lock";
    public const string OwnerFileName = "tally.lock.owner";

    private readonly FileStream _held;

    private DataFolderLock(FileStream held, string folder, string owner)
    {
        _held = held;
        Folder = folder;
        Owner = owner;
    }

    /// <summary>The folder held, as a full path.</summary>
    public string Folder { get; }

    /// <summary>This process as the lock files name it: <c>pid 123 on host web-1, started 2026-03-10T09:00:00Z</c>.</summary>
    public string Owner { get; }

    /// <summary>
    /// Creates <paramref name="folder"/> if needed and takes it, or throws <see cref="LedgerOpenException"/>: when another
    /// process holds it (naming that process), when the folder cannot be written (naming the folder and the error), or
    /// when the file system does not enforce the lock (so it would protect nothing).
    /// </summary>
    public static DataFolderLock Acquire(string folder, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        var full = Path.GetFullPath(folder);
        var lockPath = Path.Combine(full, LockFileName);
        var ownerPath = Path.Combine(full, OwnerFileName);
        FileStream held;
        try
        {
            Directory.CreateDirectory(full);
            held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (HeldByAnother(e))
        {
            throw new LedgerOpenException(
                $"The data folder {full} is in use by another Tally server ({ReadOwner(ownerPath)}). Two servers on one folder would each charge "
                + "the same users' units: stop the other server first, or give this one its own --data folder.", e);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw NotWritable(full, e);
        }
        try
        {
            var owner = string.Create(CultureInfo.InvariantCulture,
                $"pid {Environment.ProcessId} on host {Environment.MachineName}, started {time.GetUtcNow().UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}");
            EnsureEnforced(lockPath, full);
            var line = Encoding.UTF8.GetBytes(owner + "\n");
            held.SetLength(0);
            held.Write(line);
            held.Flush(flushToDisk: true);
            // Written whole, then renamed over the old one: a second server never reads half of it.
            var temporary = ownerPath + ".tmp";
            File.WriteAllBytes(temporary, line);
            File.Move(temporary, ownerPath, overwrite: true);
            return new DataFolderLock(held, full, owner);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            held.Dispose();
            throw NotWritable(full, e);
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A second exclusive open of the same file must fail while we hold it. Where it does not (a file system without
    /// locks, or DOTNET_SYSTEM_IO_DISABLEFILELOCKING set), a second server would start too: refuse rather than pretend.
    /// </summary>
    private static void EnsureEnforced(string lockPath, string folder)
    {
        try
        {
            using var probe = new FileStream(lockPath, FileMode.Open, FileAccess.Read, FileShare.None);
        }
        catch (IOException e) when (HeldByAnother(e))
        {
            return;
        }
        throw new LedgerOpenException(
            $"The data folder {folder} does not enforce file locks (a network or FUSE file system, or DOTNET_SYSTEM_IO_DISABLEFILELOCKING is set), "
            + "so Tally cannot make sure it is the only server writing there. Keep --data on a local disk, or unset that variable.");
    }

    /// <summary>"Someone else holds it" as the OS says it: EWOULDBLOCK from flock, or a Windows sharing or lock violation.</summary>
    private static bool HeldByAnother(IOException e) => OperatingSystem.IsWindows()
        ? (e.HResult & 0xFFFF) is 32 or 33
        : e.HResult == (OperatingSystem.IsLinux() ? 11 : 35);

    private static LedgerOpenException NotWritable(string folder, Exception e) =>
        new($"The data folder {folder} is not writable ({e.Message}). Tally writes its ledger there and cannot serve from a read-only folder: "
            + "fix the folder's permissions or mount, or choose another --data.", e);

    /// <summary>The holder's line from the owner file, cleaned for a terminal; a placeholder if it cannot be read.</summary>
    private static string ReadOwner(string ownerPath)
    {
        try
        {
            var text = File.ReadAllText(ownerPath).Trim();
            var clean = new string([.. text.Take(200).Where(c => !char.IsControl(c))]);
            return clean.Length > 0 ? clean : "its owner file is empty";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "it has not written " + OwnerFileName + " yet";
        }
    }

    public void Dispose() => _held.Dispose();
}
