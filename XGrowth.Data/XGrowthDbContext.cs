using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace XGrowth.Data;

/// <summary>
/// The one data model the API and the worker share. Tables and columns are snake_case
/// (<see cref="DatabaseRegistration.UseXGrowthDatabase"/>).
/// </summary>
public sealed class XGrowthDbContext(DbContextOptions<XGrowthDbContext> options) : DbContext(options), IDataProtectionKeyContext
{
    /// <summary>The posts whose queue slot and time count: queued, and neither a draft nor cancelled.</summary>
    public const string LiveQueued = "queued AND status NOT IN ('draft', 'cancelled')";

    public DbSet<User> Users => Set<User>();

    public DbSet<XAccount> XAccounts => Set<XAccount>();

    public DbSet<ScheduledPost> ScheduledPosts => Set<ScheduledPost>();

    public DbSet<PostingSchedule> PostingSchedules => Set<PostingSchedule>();

    public DbSet<PostPart> PostParts => Set<PostPart>();

    public DbSet<PostPartMedia> PostPartMedia => Set<PostPartMedia>();

    public DbSet<Media> Media => Set<Media>();

    public DbSet<MediaChunk> MediaChunks => Set<MediaChunk>();

    public DbSet<ClerkWebhookDelivery> ClerkWebhookDeliveries => Set<ClerkWebhookDelivery>();

    public DbSet<XOAuthState> XOAuthStates => Set<XOAuthState>();

    public DbSet<FollowerSnapshot> FollowerSnapshots => Set<FollowerSnapshot>();

    public DbSet<PostMetricReading> PostMetricReadings => Set<PostMetricReading>();

    public DbSet<AnalyticsAccount> AnalyticsAccounts => Set<AnalyticsAccount>();

    public DbSet<AnalyticsReadBudget> AnalyticsReadBudgets => Set<AnalyticsReadBudget>();

    /// <summary>The Data Protection key ring, shared by every API and worker replica, so each can read the others' tokens.</summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    // user_events (live updates) and pending_post_counts (for the pending-post limits) are not in the model: triggers
    // write them and hand-written SQL reads them (see the UserEvents and PendingPostCounts migrations).

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<User>(user =>
        {
            user.ToTable("users");
            user.Property(u => u.Id).HasMaxLength(255);
            user.HasIndex(u => u.Email);
            user.Property(u => u.TimeZone).HasMaxLength(64).HasDefaultValue("UTC");
        });

        modelBuilder.Entity<XAccount>(account =>
        {
            account.ToTable("x_accounts");
            account.Property(a => a.XUserId).HasMaxLength(64);
            account.Property(a => a.Username).HasMaxLength(64);
            account.Property(a => a.Status).HasConversion<SnakeCaseEnumConverter<XAccountStatus>>().HasMaxLength(32);
            account.HasIndex(a => new { a.UserId, a.XUserId }).IsUnique();
            account.HasOne(a => a.User).WithMany(u => u.XAccounts).HasForeignKey(a => a.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<ScheduledPost>(post =>
        {
            post.ToTable("scheduled_posts");
            post.Property(p => p.Version).IsRowVersion();
            post.Property(p => p.XPostId).HasMaxLength(64);
            post.Property(p => p.Status).HasConversion<SnakeCaseEnumConverter<ScheduledPostStatus>>().HasMaxLength(32);
            post.HasIndex(p => new { p.XAccountId, p.ScheduledAt });
            // The queue's rules, kept by the database whatever the code does: no two live posts of an account hold the
            // same slot or leave at the same instant from the queue; a draft has no time; a post is queued exactly when
            // it holds a slot.
            post.HasIndex(p => new { p.XAccountId, p.SlotAt }, "ux_scheduled_posts_queue_slot").HasDatabaseName("ux_scheduled_posts_queue_slot").IsUnique().HasFilter(LiveQueued);
            post.HasIndex(p => new { p.XAccountId, p.ScheduledAt }, "ux_scheduled_posts_queue_time").HasDatabaseName("ux_scheduled_posts_queue_time").IsUnique().HasFilter(LiveQueued);
            // The pending-post limits count these (PostLimits) on every creation.
            post.HasIndex(p => p.XAccountId, "ix_scheduled_posts_pending").HasDatabaseName("ix_scheduled_posts_pending").HasFilter("status IN ('scheduled', 'publishing')");
            post.ToTable(table =>
            {
                table.HasCheckConstraint("ck_scheduled_posts_time", "scheduled_at IS NOT NULL OR status IN ('draft', 'cancelled')");
                table.HasCheckConstraint("ck_scheduled_posts_draft", "status <> 'draft' OR (scheduled_at IS NULL AND NOT queued)");
                table.HasCheckConstraint("ck_scheduled_posts_queued_slot", "queued = (slot_at IS NOT NULL)");
            });
            // The worker looks for due posts by time among those still scheduled.
            post.HasIndex(p => p.ScheduledAt).HasFilter("status = 'scheduled'");
            // Workers look for expired claims among the posts being published.
            post.HasIndex(p => p.LeaseUntil).HasFilter("status = 'publishing'");
            post.Property(p => p.ClaimedBy).HasMaxLength(200);
            post.Property(p => p.CreationTraceParent).HasMaxLength(128);
            post.HasOne(p => p.XAccount).WithMany(a => a.Posts).HasForeignKey(p => p.XAccountId).OnDelete(DeleteBehavior.Cascade);
            // The analytics collector looks, per account, for the newest published posts whose metrics are due.
            post.HasIndex(p => new { p.XAccountId, p.PublishedAt }, "ix_scheduled_posts_metrics_due").HasFilter("metrics_due_at IS NOT NULL").HasDatabaseName("ix_scheduled_posts_metrics_due");
            // Analytics lists an account's published posts by publishing time.
            post.HasIndex(p => new { p.XAccountId, p.PublishedAt }, "ix_scheduled_posts_published").HasFilter("status = 'published'").HasDatabaseName("ix_scheduled_posts_published");
        });

        modelBuilder.Entity<FollowerSnapshot>(snapshot =>
        {
            snapshot.ToTable("follower_snapshots");
            // One snapshot per account and due time, whichever worker takes it.
            snapshot.HasIndex(s => new { s.XAccountId, s.SlotAt }).IsUnique();
            snapshot.HasIndex(s => new { s.XAccountId, s.TakenAt });
            snapshot.HasOne(s => s.XAccount).WithMany().HasForeignKey(s => s.XAccountId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<PostMetricReading>(reading =>
        {
            reading.ToTable("post_metric_readings");
            reading.Property(r => r.Kind).HasConversion<SnakeCaseEnumConverter<PostMetricKind>>().HasMaxLength(32);
            // One reading per post and due kind, whichever worker takes it.
            reading.HasIndex(r => new { r.ScheduledPostId, r.Kind }).IsUnique();
            reading.HasOne(r => r.ScheduledPost).WithMany(p => p.MetricReadings).HasForeignKey(r => r.ScheduledPostId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<AnalyticsAccount>(account =>
        {
            account.ToTable("analytics_accounts");
            account.HasKey(a => a.XAccountId);
            account.HasOne(a => a.XAccount).WithOne().HasForeignKey<AnalyticsAccount>(a => a.XAccountId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<AnalyticsReadBudget>(budget =>
        {
            budget.ToTable("analytics_read_budget");
            budget.HasKey(b => b.Day);
        });

        modelBuilder.Entity<PostingSchedule>(schedule =>
        {
            schedule.ToTable("posting_schedules", table =>
                table.HasCheckConstraint("ck_posting_schedules_jitter", "jitter_minutes BETWEEN 0 AND 15"));
            schedule.HasKey(s => s.XAccountId);
            schedule.Property(s => s.TimeZone).HasMaxLength(64);
            schedule.HasOne(s => s.XAccount).WithOne(a => a.Schedule).HasForeignKey<PostingSchedule>(s => s.XAccountId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<PostPart>(part =>
        {
            part.ToTable("post_parts");
            part.HasKey(p => new { p.PostId, p.Position });
            part.Property(p => p.XPostId).HasMaxLength(64);
            part.HasOne(p => p.Post).WithMany(p => p.Parts).HasForeignKey(p => p.PostId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<PostPartMedia>(link =>
        {
            link.ToTable("post_part_media");
            link.HasKey(l => new { l.PostId, l.PartPosition, l.Position });
            link.HasOne(l => l.Part).WithMany(p => p.Media).HasForeignKey(l => new { l.PostId, l.PartPosition }).OnDelete(DeleteBehavior.Cascade);
            // Deleting media that only final posts use takes it out of them; the API refuses it while a live post uses it.
            link.HasOne(l => l.Media).WithMany().HasForeignKey(l => l.MediaId).OnDelete(DeleteBehavior.Cascade);
            link.HasIndex(l => l.MediaId);
        });

        modelBuilder.Entity<Media>(media =>
        {
            media.ToTable("media", table => table.HasCheckConstraint("ck_media_alt_text", "char_length(alt_text) <= 1000"));
            media.Property(m => m.UserId).HasMaxLength(255);
            media.Property(m => m.Type).HasConversion<SnakeCaseEnumConverter<MediaType>>().HasMaxLength(16);
            media.Property(m => m.ContentType).HasMaxLength(32);
            media.HasOne(m => m.User).WithMany().HasForeignKey(m => m.UserId).OnDelete(DeleteBehavior.Cascade);
            media.HasIndex(m => new { m.UserId, m.CreatedAt });
        });

        modelBuilder.Entity<MediaChunk>(chunk =>
        {
            chunk.ToTable("media_contents");
            chunk.HasKey(c => new { c.MediaId, c.Index });
            chunk.HasOne<Media>().WithMany().HasForeignKey(c => c.MediaId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<XOAuthState>(state =>
        {
            state.ToTable("x_oauth_states");
            state.HasKey(s => s.StateHash);
            state.Property(s => s.StateHash).HasMaxLength(64);
            state.Property(s => s.UserId).HasMaxLength(255);
            state.HasIndex(s => s.ExpiresAt);
        });

        modelBuilder.Entity<DataProtectionKey>().ToTable("data_protection_keys");

        modelBuilder.Entity<ClerkWebhookDelivery>(delivery =>
        {
            delivery.ToTable("clerk_webhook_deliveries");
            delivery.HasKey(d => d.SvixId);
            delivery.Property(d => d.SvixId).HasMaxLength(255);
            delivery.Property(d => d.EventType).HasMaxLength(100);
        });
    }
}
