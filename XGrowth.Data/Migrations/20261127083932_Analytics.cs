using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <inheritdoc />
    public partial class Analytics : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "deleted_on_x_at",
                table: "scheduled_posts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "metrics_due_at",
                table: "scheduled_posts",
                type: "timestamp with time zone",
                nullable: true);

            // Posts published before analytics existed get their metrics read too: the collector takes the latest
            // reading whose time has passed (the 7-day one for older posts), once.
            migrationBuilder.Sql("""
                UPDATE scheduled_posts SET metrics_due_at = published_at + interval '1 hour'
                WHERE status = 'published' AND x_post_id IS NOT NULL AND published_at IS NOT NULL
                """);

            migrationBuilder.CreateTable(
                name: "analytics_accounts",
                columns: table => new
                {
                    x_account_id = table.Column<Guid>(type: "uuid", nullable: false),
                    snapshot_lease_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    posts_lease_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    users_paused_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    tweets_paused_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_analytics_accounts", x => x.x_account_id);
                    table.ForeignKey(
                        name: "fk_analytics_accounts_x_accounts_x_account_id",
                        column: x => x.x_account_id,
                        principalTable: "x_accounts",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "analytics_read_budget",
                columns: table => new
                {
                    day = table.Column<DateOnly>(type: "date", nullable: false),
                    reserved = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_analytics_read_budget", x => x.day);
                });

            migrationBuilder.CreateTable(
                name: "follower_snapshots",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    x_account_id = table.Column<Guid>(type: "uuid", nullable: false),
                    slot_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    taken_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    followers_count = table.Column<long>(type: "bigint", nullable: false),
                    following_count = table.Column<long>(type: "bigint", nullable: false),
                    tweet_count = table.Column<long>(type: "bigint", nullable: false),
                    listed_count = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_follower_snapshots", x => x.id);
                    table.ForeignKey(
                        name: "fk_follower_snapshots_x_accounts_x_account_id",
                        column: x => x.x_account_id,
                        principalTable: "x_accounts",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "post_metric_readings",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    scheduled_post_id = table.Column<Guid>(type: "uuid", nullable: false),
                    kind = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    due_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    read_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    impressions = table.Column<long>(type: "bigint", nullable: false),
                    likes = table.Column<long>(type: "bigint", nullable: false),
                    reposts = table.Column<long>(type: "bigint", nullable: false),
                    replies = table.Column<long>(type: "bigint", nullable: false),
                    quotes = table.Column<long>(type: "bigint", nullable: false),
                    bookmarks = table.Column<long>(type: "bigint", nullable: false),
                    url_clicks = table.Column<long>(type: "bigint", nullable: true),
                    profile_clicks = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_post_metric_readings", x => x.id);
                    table.ForeignKey(
                        name: "fk_post_metric_readings_scheduled_posts_scheduled_post_id",
                        column: x => x.scheduled_post_id,
                        principalTable: "scheduled_posts",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_scheduled_posts_metrics_due",
                table: "scheduled_posts",
                columns: new[] { "x_account_id", "published_at" },
                filter: "metrics_due_at IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_scheduled_posts_published",
                table: "scheduled_posts",
                columns: new[] { "x_account_id", "published_at" },
                filter: "status = 'published'");

            migrationBuilder.CreateIndex(
                name: "ix_follower_snapshots_x_account_id_slot_at",
                table: "follower_snapshots",
                columns: new[] { "x_account_id", "slot_at" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_follower_snapshots_x_account_id_taken_at",
                table: "follower_snapshots",
                columns: new[] { "x_account_id", "taken_at" });

            migrationBuilder.CreateIndex(
                name: "ix_post_metric_readings_scheduled_post_id_kind",
                table: "post_metric_readings",
                columns: new[] { "scheduled_post_id", "kind" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "analytics_accounts");

            migrationBuilder.DropTable(
                name: "analytics_read_budget");

            migrationBuilder.DropTable(
                name: "follower_snapshots");

            migrationBuilder.DropTable(
                name: "post_metric_readings");

            migrationBuilder.DropIndex(
                name: "ix_scheduled_posts_metrics_due",
                table: "scheduled_posts");

            migrationBuilder.DropIndex(
                name: "ix_scheduled_posts_published",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "deleted_on_x_at",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "metrics_due_at",
                table: "scheduled_posts");
        }
    }
}
