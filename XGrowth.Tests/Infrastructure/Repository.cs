namespace XGrowth.Tests.Infrastructure;

/// <summary>Where the repository's files are (XGrowth.sln's folder), found from the test's output folder.</summary>
internal static class Repository
{
    public static string? TryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "XGrowth.sln")))
            {
                return directory.FullName;
            }
        }

        return null;
    }

    public static string Root() =>
        TryRoot() ?? throw new InvalidOperationException("The repository root (XGrowth.sln) was not found above " + AppContext.BaseDirectory);
}
