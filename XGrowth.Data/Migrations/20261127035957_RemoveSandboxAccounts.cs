using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <inheritdoc />
    public partial class RemoveSandboxAccounts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Development-only accounts of the old in-API X sandbox: their tokens mean nothing to X or to the new X
            // stand-in, so they are disconnected (as a user's disconnect would) rather than left to fail at publish time.
            migrationBuilder.Sql("""
                UPDATE scheduled_posts SET status = 'cancelled', updated_at = now()
                WHERE status = 'scheduled' AND x_account_id IN (SELECT id FROM x_accounts WHERE sandbox);
                UPDATE x_accounts SET status = 'disconnected', access_token_protected = NULL, refresh_token_protected = NULL, updated_at = now()
                WHERE sandbox;
                """);
            migrationBuilder.DropColumn(
                name: "sandbox",
                table: "x_accounts");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "sandbox",
                table: "x_accounts",
                type: "boolean",
                nullable: false,
                defaultValue: false);
        }
    }
}
