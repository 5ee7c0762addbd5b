using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <summary>
    /// <c>pending_post_counts</c>: how many posts each X account has waiting to be published (<c>scheduled</c> or
    /// <c>publishing</c>), kept by triggers on <c>scheduled_posts</c> in the transaction of every change, whoever makes
    /// it (the API, the worker, a cascade). The pending-post limits read it instead of counting the posts: every
    /// creation asks, under the user's lock, and counting an account's 10,000 queued posts took most of an "add to
    /// queue" (bench/QueueBench). Not in the EF model: only triggers write it, and <c>PostLimits</c> reads it with SQL.
    /// </summary>
    /// <remarks>
    /// A table of its own rather than a column of <c>x_accounts</c>: its rows are locked only by these triggers, at the
    /// end of a statement that changed a post's status, and by nothing else. The triggers are statement-level and lock
    /// the counts they change in account order, so two statements changing several accounts (the worker marking
    /// posts missed, a user's deletion) cannot wait on each other in a cycle.
    /// </remarks>
    public partial class PendingPostCounts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                -- No foreign key: an account's deletion removes its count with the trigger below, which runs after the
                -- cascades (triggers run in name order, and the foreign keys' RI_ConstraintTrigger_... come first). A
                -- cascade to this table could run before the one to scheduled_posts (their order follows the
                -- constraints' oids as text) and take the count's lock before the posts' locks, which the worker takes
                -- the other way round.
                CREATE TABLE pending_post_counts (
                    x_account_id uuid PRIMARY KEY,
                    pending integer NOT NULL CHECK (pending >= 0)
                );

                CREATE FUNCTION x_accounts_keep_pending_count() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        INSERT INTO pending_post_counts (x_account_id, pending) VALUES (NEW.id, 0);
                    ELSE
                        DELETE FROM pending_post_counts WHERE x_account_id = OLD.id;
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER x_accounts_pending_count AFTER INSERT OR DELETE ON x_accounts
                    FOR EACH ROW EXECUTE FUNCTION x_accounts_keep_pending_count();

                -- The change per account a statement made: +1 for each row that is pending after it, -1 for each that
                -- was before it. A statement that changed no status (lease renewals, re-placing the queue) changes nothing.
                CREATE FUNCTION scheduled_posts_count_pending() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE
                    accounts uuid[];
                    deltas integer[];
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        SELECT array_agg(x_account_id ORDER BY x_account_id), array_agg(delta ORDER BY x_account_id) INTO accounts, deltas
                        FROM (SELECT x_account_id, count(*)::integer AS delta FROM new_posts
                              WHERE status IN ('scheduled', 'publishing') GROUP BY x_account_id) AS changes;
                    ELSIF TG_OP = 'DELETE' THEN
                        SELECT array_agg(x_account_id ORDER BY x_account_id), array_agg(delta ORDER BY x_account_id) INTO accounts, deltas
                        FROM (SELECT x_account_id, -count(*)::integer AS delta FROM old_posts
                              WHERE status IN ('scheduled', 'publishing') GROUP BY x_account_id) AS changes;
                    ELSE
                        SELECT array_agg(x_account_id ORDER BY x_account_id), array_agg(delta ORDER BY x_account_id) INTO accounts, deltas
                        FROM (SELECT x_account_id, sum(delta)::integer AS delta
                              FROM (SELECT x_account_id, 1 AS delta FROM new_posts WHERE status IN ('scheduled', 'publishing')
                                    UNION ALL
                                    SELECT x_account_id, -1 FROM old_posts WHERE status IN ('scheduled', 'publishing')) AS rows
                              GROUP BY x_account_id HAVING sum(delta) <> 0) AS changes;
                    END IF;
                    IF accounts IS NULL THEN
                        RETURN NULL;
                    END IF;
                    PERFORM 1 FROM pending_post_counts WHERE x_account_id = ANY (accounts) ORDER BY x_account_id FOR NO KEY UPDATE;
                    -- An account deleted by this statement's cascade has no count left to change: nothing is updated.
                    UPDATE pending_post_counts AS c SET pending = c.pending + v.delta
                    FROM unnest(accounts, deltas) AS v (x_account_id, delta)
                    WHERE c.x_account_id = v.x_account_id;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER scheduled_posts_count_pending_insert AFTER INSERT ON scheduled_posts
                    REFERENCING NEW TABLE AS new_posts FOR EACH STATEMENT EXECUTE FUNCTION scheduled_posts_count_pending();
                CREATE TRIGGER scheduled_posts_count_pending_update AFTER UPDATE ON scheduled_posts
                    REFERENCING OLD TABLE AS old_posts NEW TABLE AS new_posts FOR EACH STATEMENT EXECUTE FUNCTION scheduled_posts_count_pending();
                CREATE TRIGGER scheduled_posts_count_pending_delete AFTER DELETE ON scheduled_posts
                    REFERENCING OLD TABLE AS old_posts FOR EACH STATEMENT EXECUTE FUNCTION scheduled_posts_count_pending();

                -- TRUNCATE fires no DELETE trigger: nothing is left waiting.
                CREATE FUNCTION scheduled_posts_truncate_pending() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE pending_post_counts SET pending = 0 WHERE pending <> 0;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER scheduled_posts_count_pending_truncate AFTER TRUNCATE ON scheduled_posts
                    FOR EACH STATEMENT EXECUTE FUNCTION scheduled_posts_truncate_pending();

                -- After the triggers, in their transaction: their lock on scheduled_posts holds writes back until the
                -- counts are in, so no change is missed or counted twice.
                INSERT INTO pending_post_counts (x_account_id, pending)
                SELECT a.id, count(p.id) FILTER (WHERE p.status IN ('scheduled', 'publishing'))
                FROM x_accounts AS a LEFT JOIN scheduled_posts AS p ON p.x_account_id = a.id
                GROUP BY a.id;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER scheduled_posts_count_pending_truncate ON scheduled_posts;
                DROP FUNCTION scheduled_posts_truncate_pending();
                DROP TRIGGER scheduled_posts_count_pending_delete ON scheduled_posts;
                DROP TRIGGER scheduled_posts_count_pending_update ON scheduled_posts;
                DROP TRIGGER scheduled_posts_count_pending_insert ON scheduled_posts;
                DROP FUNCTION scheduled_posts_count_pending();
                DROP TRIGGER x_accounts_pending_count ON x_accounts;
                DROP FUNCTION x_accounts_keep_pending_count();
                DROP TABLE pending_post_counts;
                """);
        }
    }
}
