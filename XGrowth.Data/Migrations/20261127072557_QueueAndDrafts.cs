using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <inheritdoc />
    public partial class QueueAndDrafts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "queue_filled_through",
                table: "x_accounts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "time_zone",
                table: "users",
                type: "character varying(64)",
                maxLength: 64,
                nullable: false,
                defaultValue: "UTC");

            migrationBuilder.AlterColumn<DateTimeOffset>(
                name: "scheduled_at",
                table: "scheduled_posts",
                type: "timestamp with time zone",
                nullable: true,
                oldClrType: typeof(DateTimeOffset),
                oldType: "timestamp with time zone");

            migrationBuilder.AddColumn<bool>(
                name: "queued",
                table: "scheduled_posts",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "slot_at",
                table: "scheduled_posts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "posting_schedules",
                columns: table => new
                {
                    x_account_id = table.Column<Guid>(type: "uuid", nullable: false),
                    time_zone = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    slots = table.Column<int[]>(type: "integer[]", nullable: false),
                    jitter_minutes = table.Column<int>(type: "integer", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_posting_schedules", x => x.x_account_id);
                    table.CheckConstraint("ck_posting_schedules_jitter", "jitter_minutes BETWEEN 0 AND 15");
                    table.ForeignKey(
                        name: "fk_posting_schedules_x_accounts_x_account_id",
                        column: x => x.x_account_id,
                        principalTable: "x_accounts",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_scheduled_posts_pending",
                table: "scheduled_posts",
                column: "x_account_id",
                filter: "status IN ('scheduled', 'publishing')");

            migrationBuilder.CreateIndex(
                name: "ux_scheduled_posts_queue_slot",
                table: "scheduled_posts",
                columns: new[] { "x_account_id", "slot_at" },
                unique: true,
                filter: "queued AND status NOT IN ('draft', 'cancelled')");

            migrationBuilder.CreateIndex(
                name: "ux_scheduled_posts_queue_time",
                table: "scheduled_posts",
                columns: new[] { "x_account_id", "scheduled_at" },
                unique: true,
                filter: "queued AND status NOT IN ('draft', 'cancelled')");

            migrationBuilder.AddCheckConstraint(
                name: "ck_scheduled_posts_draft",
                table: "scheduled_posts",
                sql: "status <> 'draft' OR (scheduled_at IS NULL AND NOT queued)");

            migrationBuilder.AddCheckConstraint(
                name: "ck_scheduled_posts_queued_slot",
                table: "scheduled_posts",
                sql: "queued = (slot_at IS NOT NULL)");

            migrationBuilder.AddCheckConstraint(
                name: "ck_scheduled_posts_time",
                table: "scheduled_posts",
                sql: "scheduled_at IS NOT NULL OR status IN ('draft', 'cancelled')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "posting_schedules");

            migrationBuilder.DropIndex(
                name: "ix_scheduled_posts_pending",
                table: "scheduled_posts");

            migrationBuilder.DropIndex(
                name: "ux_scheduled_posts_queue_slot",
                table: "scheduled_posts");

            migrationBuilder.DropIndex(
                name: "ux_scheduled_posts_queue_time",
                table: "scheduled_posts");

            migrationBuilder.DropCheckConstraint(
                name: "ck_scheduled_posts_draft",
                table: "scheduled_posts");

            migrationBuilder.DropCheckConstraint(
                name: "ck_scheduled_posts_queued_slot",
                table: "scheduled_posts");

            migrationBuilder.DropCheckConstraint(
                name: "ck_scheduled_posts_time",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "queue_filled_through",
                table: "x_accounts");

            migrationBuilder.DropColumn(
                name: "time_zone",
                table: "users");

            migrationBuilder.DropColumn(
                name: "queued",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "slot_at",
                table: "scheduled_posts");

            migrationBuilder.AlterColumn<DateTimeOffset>(
                name: "scheduled_at",
                table: "scheduled_posts",
                type: "timestamp with time zone",
                nullable: false,
                defaultValue: new DateTimeOffset(new DateTime(1, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)),
                oldClrType: typeof(DateTimeOffset),
                oldType: "timestamp with time zone",
                oldNullable: true);
        }
    }
}
