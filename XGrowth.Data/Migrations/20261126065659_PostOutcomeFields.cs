using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <inheritdoc />
    public partial class PostOutcomeFields : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "error",
                table: "scheduled_posts",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "published_at",
                table: "scheduled_posts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "x_post_id",
                table: "scheduled_posts",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<uint>(
                name: "xmin",
                table: "scheduled_posts",
                type: "xid",
                rowVersion: true,
                nullable: false,
                defaultValue: 0u);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "error",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "published_at",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "x_post_id",
                table: "scheduled_posts");

            migrationBuilder.DropColumn(
                name: "xmin",
                table: "scheduled_posts");
        }
    }
}
