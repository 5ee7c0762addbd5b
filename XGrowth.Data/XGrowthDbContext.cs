using Microsoft.EntityFrameworkCore;

namespace XGrowth.Data;

/// <summary>
/// The one data model the API and the worker share. Tables and columns are snake_case
/// (<see cref="DatabaseRegistration.UseXGrowthDatabase"/>).
/// </summary>
public sealed class XGrowthDbContext(DbContextOptions<XGrowthDbContext> options) : DbContext(options)
{
    public DbSet<User> Users => Set<User>();

    public DbSet<XAccount> XAccounts => Set<XAccount>();

    public DbSet<ScheduledPost> ScheduledPosts => Set<ScheduledPost>();

    public DbSet<ClerkWebhookDelivery> ClerkWebhookDeliveries => Set<ClerkWebhookDelivery>();

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
            post.HasOne(p => p.XAccount).WithMany(a => a.Posts).HasForeignKey(p => p.XAccountId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<ClerkWebhookDelivery>(delivery =>
        {
            delivery.ToTable("clerk_webhook_deliveries");
            delivery.HasKey(d => d.SvixId);
            delivery.Property(d => d.SvixId).HasMaxLength(255);
            delivery.Property(d => d.EventType).HasMaxLength(100);
        });
    }
}
