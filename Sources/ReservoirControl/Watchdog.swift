import CRealtime
import Dispatch
import ReservoirHAL
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A thread that puts the board in its safe state when the loop stops completing periods:
/// the loop beats once per period; no beat for `timeout` (wall time) fires it.
final class Watchdog: @unchecked Sendable {  // shared state is atomic; the board is touched only when the loop is stuck
    private let heartbeat = Atomic<Int>(0)
    private let firedFlag = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    /// The timeout while the loop is idle between evaluations (ns); 0 while it streams.
    private let idleTimeoutNanoseconds = Atomic<Int64>(0)
    private let timeoutNanoseconds: Int64
    private nonisolated(unsafe) let board: Board
    private var thread: pthread_t?
    /// Signalled by `stop`, so the thread wakes at once instead of at its next poll (a run
    /// of a few dozen periods would otherwise wait up to a poll interval to end).
    private let wake = DispatchSemaphore(value: 0)
    /// The loop's open streams, cancelled when the watchdog fires: a refill stalled on a
    /// network (libiio waits out its whole timeout) must not hold the loop past the watchdog.
    private let openStreams = Mutex<OpenStreams?>(nil)

    struct OpenStreams: @unchecked Sendable {  // cancel is the one call made from this thread
        let input: any AnalogInputStream
        let output: any AnalogOutputStream
    }

    /// Registers the session's streams (nil: none open). Clearing waits for a cancel in
    /// progress, so the loop never closes a stream the watchdog is cancelling.
    func watch(input: (any AnalogInputStream)?, output: (any AnalogOutputStream)?) {
        openStreams.withLock { streams in
            streams = input.flatMap { input in output.map { OpenStreams(input: input, output: $0) } }
        }
    }

    init(board: Board, timeout: Duration) {
        self.board = board
        timeoutNanoseconds = max(timeout.nanoseconds, 1_000_000)
    }

    /// Whether the watchdog has fired since `start`.
    var fired: Bool { firedFlag.load(ordering: .acquiring) }
    /// Whether the watchdog saw the interlock asserted and drove the board safe itself, and
    /// when that was done (CLOCK_MONOTONIC ns): the loop only checks once a period.
    var interlockFired: Bool { interlockFlag.load(ordering: .acquiring) }
    var interlockSafeAtNanoseconds: Int64 { interlockSafeAt.load(ordering: .acquiring) }
    private let interlockFlag = Atomic<Bool>(false)
    private let interlockSafeAt = Atomic<Int64>(0)

    /// A completed period.
    @inline(__always)
    func beat() { heartbeat.add(1, ordering: .relaxed) }

    /// Marks the loop idle between evaluations (a session's host work; the DAC plays its
    /// queued bias periods), with `timeout` instead of the per-period one, or streaming again.
    /// Either way counts as a beat.
    func setIdle(_ idle: Bool, timeout: Duration = .zero) {
        idleTimeoutNanoseconds.store(idle ? max(timeout.nanoseconds, 1_000_000) : 0, ordering: .relaxed)
        beat()
    }

    /// Starts watching; fails with the error number when no thread can be created.
    func start() throws(ThreadStartFailure) {
        guard thread == nil else { return }
        firedFlag.store(false, ordering: .releasing)
        interlockFlag.store(false, ordering: .releasing)
        interlockSafeAt.store(0, ordering: .releasing)
        idleTimeoutNanoseconds.store(0, ordering: .relaxed)
        running.store(true, ordering: .releasing)
        switch startThread({ [self] in watch() }) {
        case .success(let started): thread = started
        case .failure(let failure):
            running.store(false, ordering: .releasing)
            throw failure
        }
    }

    /// Stops watching and waits for the thread.
    func stop() {
        running.store(false, ordering: .releasing)
        wake.signal()
        if let thread { pthread_join(thread, nil) }
        thread = nil
        // A thread that fired and returned never took the signal: drain it for the next start.
        while wake.wait(timeout: .now()) == .success {}
    }

    private func watch() {
        var lastBeat = heartbeat.load(ordering: .relaxed)
        var lastChange = rt_monotonic_nanoseconds()
        // Poll often enough to fire within a quarter of the timeout, and at least every 10 ms
        // so that stopping the watchdog never waits long.
        let poll = min(max(timeoutNanoseconds / 4, 100_000), 10_000_000)
        while running.load(ordering: .acquiring) {
            _ = wake.wait(timeout: .now() + .nanoseconds(Int(poll)))
            let beat = heartbeat.load(ordering: .relaxed)
            let idle = idleTimeoutNanoseconds.load(ordering: .relaxed)
            let currentTimeout = idle > 0 ? idle : timeoutNanoseconds
            let now = rt_monotonic_nanoseconds()
            if beat != lastBeat {
                lastBeat = beat
                lastChange = now
            } else if now - lastChange > currentTimeout {
                firedFlag.store(true, ordering: .releasing)
                driveSafeAndCancel()
                return
            }
            // An interlock line that may be read from here is watched every poll (at most
            // 10 ms), so its edge reaches the safe state well within the loop's period.
            if board.interlock.readableFromAnyThread, (try? board.interlock.read()) == true {
                interlockFlag.store(true, ordering: .releasing)
                driveSafeAndCancel()
                interlockSafeAt.store(rt_monotonic_nanoseconds(), ordering: .releasing)
                return
            }
        }
    }

    /// The safe state, then the open streams cancelled so a blocked refill or push returns.
    private func driveSafeAndCancel() {
        try? board.enterSafeState()
        openStreams.withLock { streams in
            streams?.input.cancel()
            streams?.output.cancel()
        }
    }
}
