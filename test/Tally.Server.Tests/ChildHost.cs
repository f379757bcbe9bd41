namespace Tally.Server.Tests;

/// <summary>Entry point of this assembly: the test runner does not use it; the crash tests start it as a child server.</summary>
public static class ChildHost
{
    public static int Main(string[] args)
    {
        if (args is ["serve", .. var rest])
        {
            TallyServer.Build(rest).Run();
            return 0;
        }
        return 2;
    }
}
