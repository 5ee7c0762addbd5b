using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace XGrowth.Data;

/// <summary>
/// The one data model the API and the worker share. Tables and columns are snake_case
/// (<see cref="DatabaseRegistration.UseXGrowthDatabase"/>).
/// </summary>
public sealed class XGrowthDbContext(DbContextOptions<XGrowthDbContext> options) : DbContext(options), IDataProtectionKeyContext
{
    public DbSet<User> Users => Set<User>();

    public DbSet<XAccount> XAccounts => Set<XAccount>();

    public DbSet<ScheduledPost> ScheduledPosts => Set<ScheduledPost>();

    public DbSet<ClerkWebhookDelivery> ClerkWebhookDeliveries => Set<ClerkWebhookDelivery>();

    public DbSet<XOAuthState> XOAuthStates => Set<XOAuthState>();

    /// <summary>The Data Protection key ring, shared by every API and worker replica, so each can read the others' tokens.</summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<User>(user =>
        {
            user.ToTable("users");
            user.Property(u => u.Id).HasMaxLength(255);
            user.HasIndex(u => u.Email);
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
            // The worker looks for due posts by time among those still scheduled.
            post.HasIndex(p => p.ScheduledAt).HasFilter("status = 'scheduled'");
            // Workers look for expired claims among the posts being published.
            post.HasIndex(p => p.LeaseUntil).HasFilter("status = 'publishing'");
            post.Property(p => p.ClaimedBy).HasMaxLength(200);
            post.Property(p => p.CreationTraceParent).HasMaxLength(128);
            post.HasOne(p => p.XAccount).WithMany(a => a.Posts).HasForeignKey(p => p.XAccountId).OnDelete(DeleteBehavior.Cascade);
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
