using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <inheritdoc />
    public partial class Publishing : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Wakes the workers (LISTEN xgrowth_posts_due) when a post is created or rescheduled into the next minute,
            // so it is not left waiting for the next poll.
            migrationBuilder.Sql("""
                CREATE FUNCTION notify_post_due() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.status = 'scheduled' AND NEW.scheduled_at < now() + interval '1 minute' THEN
                        PERFORM pg_notify('xgrowth_posts_due', '');
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER scheduled_posts_notify_due AFTER INSERT OR UPDATE OF scheduled_at, status ON scheduled_posts
                    FOR EACH ROW EXECUTE FUNCTION notify_post_due();
                """);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "rate_limited_until",
                table: "x_accounts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<Guid>(
                name: "attempt_id",
                table: "scheduled_posts",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "attempts",
                table: "scheduled_posts",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "claimed_by",
                table: "scheduled_posts",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "lease_until",
                table: "scheduled_posts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "not_before",
                table: "scheduled_posts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "request_sent_at",
                table: "scheduled_posts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_scheduled_posts_lease_until",
                table: "scheduled_posts",
                column: "lease_until",
                filter: "status = 'publishing'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER scheduled_posts_notify_due ON scheduled_posts; DROP FUNCTION notify_post_due();");

            migrationBuilder.DropIndex(
                name: "ix_scheduled_posts_lease_until",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "rate_limited_until",
                table: "x_accounts");

            migrationBuilder.DropColumn(
                name: "attempt_id",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "attempts",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "claimed_by",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "lease_until",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "not_before",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "request_sent_at",
                table: "scheduled_posts");
        }
    }
}
