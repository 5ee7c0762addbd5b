using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using XGrowth.Api.Events;
using XGrowth.Tests.Infrastructure;

namespace XGrowth.Tests.Events;

/// <summary>The hub's fan-out rules, and the purge of old rows, without HTTP in the way.</summary>
public class UserEventHubTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static UserEventHub NewHub(int buffer, out FakeTimeProvider time, out CancellationTokenSource stopping)
    {
        time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        stopping = new CancellationTokenSource();
        var options = Options.Create(new EventsOptions { StreamBuffer = buffer, HeartbeatInterval = TimeSpan.FromSeconds(15) });
        return new UserEventHub(options, time, new Lifetime(stopping.Token));
    }

    private static ServerSentEvent Event(int n) => ServerSentEvent.Create("post.updated", $$"""{"n":{{n}}}""", null, n);

    [Fact]
    public void A_client_too_slow_to_read_is_ended_while_the_others_get_everything()
    {
        using var hub = NewHub(buffer: 8, out _, out var stopping);
        using var stoppingSource = stopping;
        var slow = hub.TryOpen("user_a")!;
        var reading = hub.TryOpen("user_a")!;
        var received = 0;
        for (var n = 0; n < 20; n++)
        {
            hub.Send("user_a", Event(n));
            while (reading.Events.TryRead(out var _))
            {
                received++;
            }
        }

        Assert.Equal(StreamEnd.TooSlow, slow.EndedBecause);
        Assert.Equal(20, received);
        Assert.Null(reading.EndedBecause);
        // What the slow one had queued is still written before it ends; its client then resumes with Last-Event-ID.
        var queued = 0;
        while (slow.Events.TryRead(out var _))
        {
            queued++;
        }

        Assert.Equal(8, queued);
        Assert.True(slow.Events.Completion.IsCompleted);
    }

    [Fact]
    public void Events_go_only_to_their_users_streams_and_heartbeats_to_all()
    {
        using var hub = NewHub(buffer: 16, out var time, out var stopping);
        using var stoppingSource = stopping;
        var a = hub.TryOpen("user_a")!;
        var b = hub.TryOpen("user_b")!;
        hub.Send("user_a", Event(1));
        time.Advance(TimeSpan.FromSeconds(15));

        Assert.True(a.Events.TryRead(out var first) && first.EventId == 1);
        Assert.True(a.Events.TryRead(out var beat) && beat == ServerSentEvent.Heartbeat);
        Assert.True(b.Events.TryRead(out var onlyBeat) && onlyBeat == ServerSentEvent.Heartbeat);
        Assert.False(b.Events.TryRead(out var _));
    }

    [Fact]
    public void Stopping_the_server_ends_every_stream()
    {
        using var hub = NewHub(buffer: 16, out _, out var stopping);
        var a = hub.TryOpen("user_a")!;
        stopping.Cancel();
        Assert.Equal(StreamEnd.ServerStopping, a.EndedBecause);
        stopping.Dispose();
    }

    [Fact]
    public async Task Purging_removes_only_rows_older_than_the_cutoff()
    {
        var store = (UserEventStore)api.Services.GetService(typeof(UserEventStore))!;
        var userId = ApiFactory.NewUserId();
        await using (var insert = api.Database.CreateCommand("""
            INSERT INTO user_events (user_id, type, created_at) VALUES ($1, 'user.deleted', now() - interval '11 minutes'), ($1, 'user.deleted', now())
            """))
        {
            insert.Parameters.Add(new Npgsql.NpgsqlParameter { Value = userId });
            await insert.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        await store.PurgeAsync(DateTimeOffset.UtcNow - EventsOptions.Retention, TestContext.Current.CancellationToken);

        Assert.Equal(1, await api.CountAsync("SELECT count(*) FROM user_events WHERE user_id = $1", userId));
        Assert.Equal(0, await api.CountAsync("SELECT count(*) FROM user_events WHERE user_id = $1 AND created_at < now() - interval '10 minutes'", userId));
    }

    private sealed class Lifetime(CancellationToken stopping) : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => stopping;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication()
        {
        }
    }
}
