using Tally.Cli.Generation;
using Tally.Metering;
using Tally.Server.Demo;

namespace Tally.Cli;

/// <summary>The demo's history: the deterministic event generator run for the demo cast, one seed per month.</summary>
public static class DemoHistory
{
    // The plan gives users 1–7 seats or a cap; the evenings below go to the capacity users after them.
    private const int FirstPlainCapacityUser = 8;

    public static IEnumerable<HistoricalEvent> Month(Period month)
    {
        var options = new GeneratorOptions
        {
            Events = DemoSetup.EventsPerMonth,
            Users = DemoSetup.Users,
            Apps = DemoSetup.Apps,
            Month = month,
            Seed = (ulong)((month.Year * 100) + month.Month),
        };
        var generated = new EventGenerator(options).Generate();
        var prefix = "demo-" + month.ToString() + "-";
        var worked = Enumerable.Range(0, generated.Events.Length).Select(i =>
        {
            var e = generated.Events[i];
            return new HistoricalEvent(prefix + generated.IdOf(i), generated.TicksOf(e), generated.UserName(e.User),
                generated.DeviceName(e.User, e.Device), generated.AppName(e.App), e.Action);
        });
        return InTimeOrder(worked, LeftOpen(month, generated, prefix + "open-"));
    }

    /// <summary>
    /// Evenings on which two of the cast leave a dashboard open (R14): each working day at 17:40 UTC two capacity users
    /// open the day's app on their office PC, which then sends only heartbeats until 20:05, while the app reloads on
    /// schedule at 18:00, 19:00 and 20:00. The 19:00 and 20:00 reloads charge them idle, so the demo's panel "minutes
    /// charged by reloads to idle users" has something to show; in the generator's own logs reloads rarely find anyone.
    /// </summary>
    private static IEnumerable<HistoricalEvent> LeftOpen(Period month, GeneratedMonth generated, string prefix)
    {
        var plain = DemoSetup.Users - FirstPlainCapacityUser + 1;
        for (var day = new DateTime(month.Year, month.Month, 1, 0, 0, 0, DateTimeKind.Utc); day.Month == month.Month; day = day.AddDays(1))
        {
            if (day.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday)
            {
                continue;
            }
            var first = FirstPlainCapacityUser + (day.Day * 7 % plain);
            var second = FirstPlainCapacityUser + ((day.Day * 11 + 16) % plain);
            var users = first == second ? [first] : new[] { first, second };
            var app = generated.AppName(1 + (day.Day % DemoSetup.Apps));
            var id = prefix + day.ToString("dd", System.Globalization.CultureInfo.InvariantCulture) + "-";
            var evening = day.AddHours(17).AddMinutes(40).Ticks;
            var n = 0;
            foreach (var user in users)
            {
                yield return new HistoricalEvent(id + n++, evening, generated.UserName(user), "office-pc", app, MeterAction.OpenApp);
            }
            for (var minute = 5; minute <= 145; minute += 5)
            {
                var t = evening + (minute * TimeSpan.TicksPerMinute);
                foreach (var user in users)
                {
                    yield return new HistoricalEvent(id + n++, t, generated.UserName(user), "office-pc", "", MeterAction.Heartbeat);
                }
                if (minute % 60 == 20)
                {
                    yield return new HistoricalEvent(id + n++, t, "", "", app, MeterAction.ScheduledReload);
                }
            }
        }
    }

    /// <summary>Two time-ordered sequences as one, <paramref name="a"/>'s first on equal instants.</summary>
    private static IEnumerable<HistoricalEvent> InTimeOrder(IEnumerable<HistoricalEvent> a, IEnumerable<HistoricalEvent> b)
    {
        using var left = a.GetEnumerator();
        using var right = b.GetEnumerator();
        var (hasLeft, hasRight) = (left.MoveNext(), right.MoveNext());
        while (hasLeft || hasRight)
        {
            if (hasLeft && (!hasRight || left.Current.TimeTicks <= right.Current.TimeTicks))
            {
                yield return left.Current;
                hasLeft = left.MoveNext();
            }
            else
            {
                yield return right.Current;
                hasRight = right.MoveNext();
            }
        }
    }
}
