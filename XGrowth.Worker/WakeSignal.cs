using System.Threading.Channels;

namespace XGrowth.Worker;

/// <summary>
/// What wakes a polling loop early (a NOTIFY, a freed slot): <see cref="Wake"/> from anywhere, any number of times;
/// <see cref="WaitAsync"/> returns at the next wake or after the poll interval, whichever comes first. Wakes that
/// arrive while the loop works are kept as one, so the loop runs once more, not once per wake.
/// </summary>
public sealed class WakeSignal
{
    private readonly Channel<bool> _wakes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Wake() => _wakes.Writer.TryWrite(true);

    public async Task WaitAsync(TimeSpan pollInterval, TimeProvider time, CancellationToken stoppingToken)
    {
        try
        {
            using var poll = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var delay = Task.Delay(pollInterval, time, poll.Token);
            var woken = _wakes.Reader.WaitToReadAsync(poll.Token).AsTask();
            await Task.WhenAny(delay, woken);
            await poll.CancelAsync();
            while (_wakes.Reader.TryRead(out _))
            {
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
