namespace XGrowth.Data;

/// <summary>Groups of <see cref="ScheduledPostStatus"/> that several features decide on, named once.</summary>
public static class PostStatuses
{
    /// <summary>
    /// A post that will never be sent to X again: published, or cancelled (by the user, or dismissed). A failed, missed
    /// or unconfirmed post can still be retried, so it is not final; its media is still needed.
    /// </summary>
    public static readonly ScheduledPostStatus[] Final = [ScheduledPostStatus.Published, ScheduledPostStatus.Cancelled];

    /// <summary><see cref="Final"/> as an SQL list, for hand-written statements: <c>status IN ('published', 'cancelled')</c>.</summary>
    public const string FinalSql = "('published', 'cancelled')";
}
