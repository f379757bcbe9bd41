using System.Text;
using Tally.Metering;

namespace Tally.Cli.Generation;

/// <summary>The file formats <c>tally generate</c> writes and <c>tally meter</c> reads.</summary>
internal enum EventFormat
{
    Csv,
    Jsonl,
}

/// <summary>
/// Writes a <see cref="GeneratedMonth"/> as CSV (<c>time,user,device,app,action,id</c>) or JSON Lines with the same
/// field names. Every name is encoded to UTF-8 once up front and each line is assembled in a byte buffer, so writing
/// millions of events allocates nothing per event. JSON Lines leave out fields that are empty (a reload's user and
/// device, a heartbeat's or logout's app); CSV leaves them blank. Every name is one the generator made (a letter and
/// digits); each is checked once, here, to be a cell the shared <see cref="Tally.Server.CsvWriter"/> writes unchanged,
/// so this byte path writes exactly what that writer would, with its formula-injection rule, and never a name that
/// would need quoting.
/// </summary>
internal sealed class EventWriter
{
    private const int BufferSize = 1 << 16;
    // Longer than any line: names are at most a few dozen bytes.
    private const int MaxLine = 512;

    private readonly GeneratedMonth _month;
    private readonly byte[][] _users;
    private readonly byte[][] _apps;
    private readonly byte[][] _actions;
    private readonly byte[][] _dayPrefixes;
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _position;

    public EventWriter(GeneratedMonth month)
    {
        _month = month;
        var options = month.Options;
        _users = new byte[options.Users + 1][];
        _users[0] = [];
        for (var u = 1; u <= options.Users; u++)
        {
            Plain(month.UserName(u));
            Plain(month.DeviceName(u, byte.MaxValue));
            // Without the leading 'u': the device name reuses the digits.
            _users[u] = Encoding.ASCII.GetBytes(month.UserName(u)[1..]);
        }
        _apps = new byte[options.Apps + 1][];
        for (var a = 0; a <= options.Apps; a++)
        {
            _apps[a] = Encoding.ASCII.GetBytes(Plain(month.AppName(a)));
        }
        _actions = [.. MeterActions.All.Select(a => Encoding.ASCII.GetBytes(Plain(a.ToWire())))];
        var start = new DateTime(month.StartTicks, DateTimeKind.Utc);
        var days = (int)(start.AddMonths(options.Months) - start).TotalDays;
        _dayPrefixes = new byte[days][];
        for (var d = 0; d < days; d++)
        {
            _dayPrefixes[d] = Encoding.ASCII.GetBytes(start.AddDays(d).ToString("yyyy-MM-dd'T'", System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private static string Plain(string name) => Tally.Server.CsvWriter.IsPlain(name)
        ? name
        : throw new InvalidOperationException($"The generated name '{name}' would need CSV quoting or neutralising; generated names are a letter and digits.");

    public static void Write(GeneratedMonth month, Stream output, EventFormat format) => new EventWriter(month).WriteAll(output, format);

    private void WriteAll(Stream output, EventFormat format)
    {
        var events = _month.Events;
        if (format == EventFormat.Csv)
        {
            Append("time,user,device,app,action,id\n"u8);
        }
        for (var i = 0; i < events.Length; i++)
        {
            if (_position > BufferSize - MaxLine)
            {
                output.Write(_buffer, 0, _position);
                _position = 0;
            }
            if (format == EventFormat.Csv)
            {
                Csv(events[i], i);
            }
            else
            {
                Json(events[i], i);
            }
        }
        output.Write(_buffer, 0, _position);
        _position = 0;
        output.Flush();
    }

    private void Csv(in GeneratedEvent e, int index)
    {
        Time(e.Second);
        Append((byte)',');
        User(e.User);
        Append((byte)',');
        Device(e.User, e.Device);
        Append((byte)',');
        Append(_apps[e.App]);
        Append((byte)',');
        Append(_actions[(int)e.Action]);
        Append((byte)',');
        Id(index);
        Append((byte)'\n');
    }

    private void Json(in GeneratedEvent e, int index)
    {
        Append("{\"time\":\""u8);
        Time(e.Second);
        if (e.User != 0)
        {
            Append("\",\"user\":\""u8);
            User(e.User);
            Append("\",\"device\":\""u8);
            Device(e.User, e.Device);
        }
        if (e.App != 0)
        {
            Append("\",\"app\":\""u8);
            Append(_apps[e.App]);
        }
        Append("\",\"action\":\""u8);
        Append(_actions[(int)e.Action]);
        Append("\",\"id\":\""u8);
        Id(index);
        Append("\"}\n"u8);
    }

    private void Time(int second)
    {
        Append(_dayPrefixes[second / 86_400]);
        var inDay = second % 86_400;
        TwoDigits(inDay / 3600);
        Append((byte)':');
        TwoDigits(inDay / 60 % 60);
        Append((byte)':');
        TwoDigits(inDay % 60);
        Append((byte)'Z');
    }

    private void User(int user)
    {
        if (user != 0)
        {
            Append((byte)'u');
            Append(_users[user]);
        }
    }

    private void Device(int user, byte device)
    {
        if (user != 0)
        {
            Append((byte)'d');
            Append(_users[user]);
            Append((byte)'-');
            Append((byte)('1' + device));
        }
    }

    private void Id(int index)
    {
        Append((byte)'e');
        var width = _month.IdWidth;
        var value = index + 1;
        for (var i = _position + width - 1; i >= _position; i--)
        {
            _buffer[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
        _position += width;
    }

    private void TwoDigits(int value)
    {
        _buffer[_position] = (byte)('0' + (value / 10));
        _buffer[_position + 1] = (byte)('0' + (value % 10));
        _position += 2;
    }

    private void Append(byte b) => _buffer[_position++] = b;

    private void Append(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer.AsSpan(_position));
        _position += bytes.Length;
    }
}
