using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <summary>
    /// <c>user_events</c>: what changed for whom, for the API's live updates (<c>GET /api/events</c>). Written by
    /// triggers, so that every change is recorded in the transaction that makes it, whoever makes it (the API, the
    /// worker, the token store, a webhook): a code path cannot forget it. Each row is announced with
    /// <c>NOTIFY xgrowth_user_events</c>, which PostgreSQL delivers at commit, in commit order. Not in the EF model:
    /// the table is read and purged with hand-written SQL (<c>XGrowth.Api/Events/UserEventStore.cs</c>).
    /// </summary>
    /// <remarks>
    /// <c>tx</c> and <c>tx_xmin</c> make resuming after an event exact although ids are handed out before commit (a
    /// transaction can take id 10 and commit after another's id 11): <c>tx_xmin</c> is the oldest transaction still
    /// running when the row was written. An event that commits after event N either has a larger id, or was written
    /// by a transaction running at that moment, whose id is at least N's <c>tx_xmin</c>. So "id &gt; N or tx &gt;=
    /// tx_xmin(N)" holds everything that can have committed after N (and a few that did not: harmless, every event
    /// carries the entity's current state).
    /// </remarks>
    public partial class UserEvents : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE TABLE user_events (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    user_id character varying(255) NOT NULL,
                    type character varying(32) NOT NULL,
                    entity_id uuid,
                    tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
                    tx_xmin xid8 NOT NULL DEFAULT pg_snapshot_xmin(pg_current_snapshot()),
                    created_at timestamp with time zone NOT NULL DEFAULT now()
                );
                CREATE INDEX ix_user_events_user_id_id ON user_events (user_id, id);
                CREATE INDEX ix_user_events_created_at ON user_events (created_at);

                CREATE FUNCTION record_user_event(event_user_id text, event_type text, event_entity_id uuid) RETURNS void
                LANGUAGE plpgsql AS $$
                DECLARE
                    event user_events;
                BEGIN
                    IF event_user_id IS NULL THEN
                        RETURN;
                    END IF;
                    INSERT INTO user_events (user_id, type, entity_id) VALUES (event_user_id, event_type, event_entity_id)
                    RETURNING * INTO event;
                    -- Everything a listener needs to route the event: it reads no row of user_events for a live event.
                    PERFORM pg_notify('xgrowth_user_events', concat_ws(' ', event.id, event.tx_xmin, event.type,
                        COALESCE(event.entity_id::text, '-'), event.user_id));
                END $$;

                -- A post's JSON (GET /api/posts/{id}) shows these columns; the worker's lease renewals and bookkeeping
                -- change others, which are no news to the user.
                CREATE FUNCTION scheduled_posts_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'UPDATE' AND (OLD.text, OLD.scheduled_at, OLD.status, OLD.x_post_id, OLD.published_at, OLD.error, OLD.queued)
                        IS NOT DISTINCT FROM (NEW.text, NEW.scheduled_at, NEW.status, NEW.x_post_id, NEW.published_at, NEW.error, NEW.queued) THEN
                        RETURN NULL;
                    END IF;
                    PERFORM record_user_event((SELECT user_id FROM x_accounts WHERE id = NEW.x_account_id), 'post.updated', NEW.id);
                    RETURN NULL;
                END $$;
                CREATE TRIGGER scheduled_posts_user_event
                    AFTER INSERT OR UPDATE OF text, scheduled_at, status, x_post_id, published_at, error, queued ON scheduled_posts
                    FOR EACH ROW EXECUTE FUNCTION scheduled_posts_record_event();

                -- An account's JSON (GET /api/x-accounts); token refreshes and rate limits are not news.
                CREATE FUNCTION x_accounts_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'UPDATE' AND (OLD.status, OLD.username, OLD.x_user_id, OLD.connected_at)
                        IS NOT DISTINCT FROM (NEW.status, NEW.username, NEW.x_user_id, NEW.connected_at) THEN
                        RETURN NULL;
                    END IF;
                    PERFORM record_user_event(NEW.user_id, 'x-account.updated', NEW.id);
                    RETURN NULL;
                END $$;
                CREATE TRIGGER x_accounts_user_event
                    AFTER INSERT OR UPDATE OF status, username, x_user_id, connected_at ON x_accounts
                    FOR EACH ROW EXECUTE FUNCTION x_accounts_record_event();

                -- user.deleted tombstones the row: the user's streams end.
                CREATE FUNCTION users_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.deleted_at IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.deleted_at IS NULL) THEN
                        PERFORM record_user_event(NEW.id, 'user.deleted', NULL);
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER users_user_event AFTER INSERT OR UPDATE OF deleted_at ON users
                    FOR EACH ROW EXECUTE FUNCTION users_record_event();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER users_user_event ON users;
                DROP TRIGGER x_accounts_user_event ON x_accounts;
                DROP TRIGGER scheduled_posts_user_event ON scheduled_posts;
                DROP FUNCTION users_record_event();
                DROP FUNCTION x_accounts_record_event();
                DROP FUNCTION scheduled_posts_record_event();
                DROP FUNCTION record_user_event(text, text, uuid);
                DROP TABLE user_events;
                """);
        }
    }
}
