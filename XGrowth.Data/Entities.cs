namespace XGrowth.Data;

/// <summary>A person signed up through Clerk. The id is Clerk's user id (<c>user_...</c>).</summary>
public sealed class User
{
    public required string Id { get; set; }

    /// <summary>The primary email address; null for phone-only users and before the first webhook.</summary>
    public string? Email { get; set; }

    public string? FirstName { get; set; }

    public string? LastName { get; set; }

    public string? Username { get; set; }

    public string? ImageUrl { get; set; }

    /// <summary>Clerk's <c>updated_at</c> of the profile stored here: an event older than this is stale.</summary>
    public DateTimeOffset? ClerkUpdatedAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>
    /// Set by <c>user.deleted</c>. The row stays as a tombstone (its profile erased) so that a late
    /// <c>user.created</c> or <c>user.updated</c> cannot bring the user back, and its tokens are refused.
    /// </summary>
    public DateTimeOffset? DeletedAt { get; set; }

    /// <summary>The user's IANA time zone (<c>PUT /api/me/settings</c>): the default posting schedule's zone.</summary>
    public string TimeZone { get; set; } = "UTC";

    public List<XAccount> XAccounts { get; set; } = [];
}

/// <summary>An X account a user has connected.</summary>
public sealed class XAccount
{
    public Guid Id { get; set; }

    public required string UserId { get; set; }

    public User? User { get; set; }

    /// <summary>X's stable user id.</summary>
    public required string XUserId { get; set; }

    public required string Username { get; set; }

    public XAccountStatus Status { get; set; } = XAccountStatus.Connected;

    /// <summary>The OAuth access token, encrypted with ASP.NET Core Data Protection (never stored in the clear).</summary>
    public string? AccessTokenProtected { get; set; }

    /// <summary>The OAuth refresh token, encrypted like the access token. Never replaced by an empty one.</summary>
    public string? RefreshTokenProtected { get; set; }

    public DateTimeOffset? AccessTokenExpiresAt { get; set; }

    public DateTimeOffset ConnectedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>
    /// The scopes X granted, space-separated, as its token answers say; null when not known (connected before they were
    /// kept). Media posts need <c>media.write</c>.
    /// </summary>
    public string? Scopes { get; set; }

    /// <summary>X answered 429 for this account: no post of it is tried before this time.</summary>
    public DateTimeOffset? RateLimitedUntil { get; set; }

    /// <summary>
    /// Every slot of the account's schedule from now up to this instant is known to be taken: the search for a free
    /// slot starts after it. Null when unknown (a post left its instant); the next placement then searches from now.
    /// </summary>
    public DateTimeOffset? QueueFilledThrough { get; set; }

    public PostingSchedule? Schedule { get; set; }

    public List<ScheduledPost> Posts { get; set; } = [];
}

/// <summary>
/// The weekly slots "add to queue" fills on one X account. An account without one uses the default (Mon–Fri 09:00,
/// 12:00 and 17:00 in its user's time zone).
/// </summary>
public sealed class PostingSchedule
{
    public Guid XAccountId { get; set; }

    public XAccount? XAccount { get; set; }

    /// <summary>The IANA time zone the slots' wall-clock times are in.</summary>
    public required string TimeZone { get; set; }

    /// <summary>The slots as minutes from Monday 00:00 (0..10079), ascending and distinct.</summary>
    public required int[] Slots { get; set; }

    /// <summary>A queued post leaves within this many minutes either side of its slot (0..15).</summary>
    public int JitterMinutes { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

public enum XAccountStatus
{
    Connected,
    NeedsReconnect,
    Disconnected,
}

/// <summary>A post to publish on an X account at a given time, or a draft (no time, never published).</summary>
public sealed class ScheduledPost
{
    public Guid Id { get; set; }

    public Guid XAccountId { get; set; }

    public XAccount? XAccount { get; set; }

    /// <summary>The texts, in order (position 0 first): a one-part post has one, a thread several (a reply chain on X).</summary>
    public List<PostPart> Parts { get; set; } = [];

    /// <summary>When the post leaves (for a queued post: its slot plus its jitter offset); null only for drafts.</summary>
    public DateTimeOffset? ScheduledAt { get; set; }

    public ScheduledPostStatus Status { get; set; } = ScheduledPostStatus.Scheduled;

    /// <summary>Placed by "add to queue" into a slot of its account's schedule (and moved with the queue), not at a time of its own.</summary>
    public bool Queued { get; set; }

    /// <summary>The queue slot the post holds (set exactly when <see cref="Queued"/>); no two live posts of an account share one.</summary>
    public DateTimeOffset? SlotAt { get; set; }

    /// <summary>
    /// The id X gave the post's first part (the thread's head, where its address on X points), written with that part's
    /// own id; each part's id is in <see cref="PostPart.XPostId"/>.
    /// </summary>
    public string? XPostId { get; set; }

    /// <summary>When the last part was published: the whole post is on X.</summary>
    public DateTimeOffset? PublishedAt { get; set; }

    /// <summary>Why the post failed or needs the user's attention, in words the user can act on.</summary>
    public string? Error { get; set; }

    /// <summary>Identifies the current publishing attempt: only the worker holding it may record its outcome.</summary>
    public Guid? AttemptId { get; set; }

    /// <summary>
    /// Publishing attempts so far that asked X something: a request that may have left, or an attempt that ended with
    /// an outcome. A claim recovered or given back before anything was asked of X does not count.
    /// </summary>
    public int Attempts { get; set; }

    /// <summary>Which worker holds the claim, and until when (it renews the lease while it holds it); an expired claim is recovered by any worker.</summary>
    public string? ClaimedBy { get; set; }

    public DateTimeOffset? LeaseUntil { get; set; }

    /// <summary>
    /// Set, and committed, just before a part's request to X leaves, and cleared with that part's X id when X confirms
    /// it. A claim that expires without it has no request in the air and goes back to <c>scheduled</c> (resuming at the
    /// first part without an X id); one with it may have been published and becomes <c>unconfirmed</c>.
    /// </summary>
    public DateTimeOffset? RequestSentAt { get; set; }

    /// <summary>The W3C trace context of the request that created the post: its publication links back to it.</summary>
    public string? CreationTraceParent { get; set; }

    /// <summary>Not to be tried before this time (a retry's back-off, or the account's rate limit reset).</summary>
    public DateTimeOffset? NotBefore { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>
    /// PostgreSQL's <c>xmin</c>: changes with every write of the row, so an edit that read an older version (for
    /// example before the worker claimed the post) fails instead of overwriting.
    /// </summary>
    public uint Version { get; set; }

    /// <summary>
    /// When this published post's next metrics reading is due (<see cref="PostMetricSchedule"/>); null before publishing,
    /// after the last reading, and once the post is gone from X.
    /// </summary>
    public DateTimeOffset? MetricsDueAt { get; set; }

    /// <summary>X no longer has the post (its metrics answer left it out): it is never read again.</summary>
    public DateTimeOffset? DeletedOnXAt { get; set; }

    public List<PostMetricReading> MetricReadings { get; set; } = [];
}

/// <summary>One part of a post: its text, and once on X, the id X gave it.</summary>
public sealed class PostPart
{
    public Guid PostId { get; set; }

    public ScheduledPost? Post { get; set; }

    /// <summary>0 for the first part; each later part is published as a reply to the one before.</summary>
    public int Position { get; set; }

    public required string Text { get; set; }

    /// <summary>Set, and committed, as soon as X confirms the part, before the next part is sent.</summary>
    public string? XPostId { get; set; }

    public DateTimeOffset? PublishedAt { get; set; }

    /// <summary>The part's images (up to 4) or its GIF, in the order they appear on X.</summary>
    public List<PostPartMedia> Media { get; set; } = [];
}

/// <summary>One media item attached to one part of a post, at a position among the part's media.</summary>
public sealed class PostPartMedia
{
    public Guid PostId { get; set; }

    /// <summary>The part's <see cref="PostPart.Position"/>.</summary>
    public int PartPosition { get; set; }

    public PostPart? Part { get; set; }

    /// <summary>0 for the part's first media item.</summary>
    public int Position { get; set; }

    public Guid MediaId { get; set; }

    public Media? Media { get; set; }
}

/// <summary>
/// An uploaded image or GIF, owned by one user: its metadata only. The bytes are in <see cref="MediaChunk"/> rows
/// (table <c>media_contents</c>), so that reading posts and media metadata never reads them.
/// </summary>
public sealed class Media
{
    public Guid Id { get; set; }

    public required string UserId { get; set; }

    public User? User { get; set; }

    public MediaType Type { get; set; }

    /// <summary>Read from the bytes when uploaded: image/jpeg, image/png, image/webp or image/gif.</summary>
    public required string ContentType { get; set; }

    public long Bytes { get; set; }

    public int Width { get; set; }

    public int Height { get; set; }

    /// <summary>Sent to X as the media's alt text (at most 1,000 characters).</summary>
    public string? AltText { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Set when the contents were removed (every post using the media final for 30 days); the metadata stays.</summary>
    public DateTimeOffset? ContentRemovedAt { get; set; }
}

public enum MediaType
{
    Image,
    Gif,
}

/// <summary>
/// One piece of a media item's bytes, in order (<see cref="Size"/> bytes each, the last one shorter): the worker
/// streams them to X piece by piece, and a GIF's pieces are its chunked upload's segments.
/// </summary>
public sealed class MediaChunk
{
    /// <summary>1 MiB: small enough that 50 uploads at once hold little memory, large enough for few round trips.</summary>
    public const int Size = 1024 * 1024;

    public Guid MediaId { get; set; }

    /// <summary>0 for the first piece.</summary>
    public int Index { get; set; }

    public required byte[] Data { get; set; }
}

public enum ScheduledPostStatus
{
    Draft,
    Scheduled,
    Publishing,
    Published,
    Failed,
    Missed,
    Unconfirmed,
    Cancelled,
}

/// <summary>
/// A started "connect an X account" flow: the OAuth <c>state</c> (stored as its SHA-256, so a database read cannot
/// complete a flow) and the PKCE verifier, bound to the user, valid once and for a few minutes.
/// </summary>
public sealed class XOAuthState
{
    public required string StateHash { get; set; }

    public required string UserId { get; set; }

    /// <summary>The PKCE code verifier, encrypted with Data Protection.</summary>
    public required string CodeVerifierProtected { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? UsedAt { get; set; }
}

/// <summary>A Clerk webhook message already handled, by its <c>svix-id</c>: a redelivery of it changes nothing.</summary>
public sealed class ClerkWebhookDelivery
{
    public required string SvixId { get; set; }

    public required string EventType { get; set; }

    public DateTimeOffset ReceivedAt { get; set; }
}
