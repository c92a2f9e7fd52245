import CRealtime
import ReservoirHAL
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A DAC stream for drivers with no output buffer (board file `dac: stream: raw`): ringlab's
/// own thread plays the queued blocks by writing the channel's sysfs `raw` file, one write
/// each time the level changes, at the sample clock (absolute `clock_nanosleep` deadlines, so
/// the pace does not drift). The drive holds a level for a node's S samples, so a period of N
/// nodes costs N writes: an SPI DAC such as the AD5686R takes a few microseconds a write plus
/// the syscall, which bounds the node rate to some tens of kilohertz at best
/// (docs/linux-io.md, "What a converter can sustain"). Local contexts only: the file is the
/// kernel's.
///
/// `push` queues a block (waiting while `capacityBlocks` are queued, as a kernel buffer
/// would); an empty queue holds the last level. `cancel` stops the thread before anything
/// else may write the channel (the safe state's `hold`). Nothing here allocates after
/// `init`: the queue, the text of a code and the thread's state are all made up front.
final class PacedRawDACStream: AnalogOutputStream, @unchecked Sendable {  // cancel comes from the watchdog thread; the state it touches is atomic
    /// Blocks queued ahead, as many as the drive loop keeps in a kernel buffer.
    static let queuedBlocks = 4

    let samplesPerBlock: Int
    let channel: IIOChannel
    private let state: PacerState
    private let pushOperation: String

    /// Opens the sysfs file at `path` and starts the pacing thread at `sampleRate`.
    init(channel: IIOChannel, path: String, samplesPerBlock: Int, sampleRate: Hertz, capacityBlocks: Int)
        throws(DeviceError)
    {
        let name = channel.name
        self.channel = channel
        pushOperation = "push to DAC \"\(name)\" (raw stream)"
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let number = errno
            throw DeviceError(
                number == ENOENT ? .notFound : .ioFailure, errno: Errno(rawValue: number),
                operation: "open the raw stream of DAC \"\(name)\"",
                detail: "\(path): \(String(cString: strerror(number)))")
        }
        self.samplesPerBlock = samplesPerBlock
        state = PacerState(
            descriptor: descriptor, samplesPerBlock: samplesPerBlock, capacityBlocks: capacityBlocks,
            periodNanoseconds: Int64((1e9 / sampleRate.value).rounded()))
        var thread = pthread_t()
        // The thread holds its own reference to the state until it returns.
        let retained = Unmanaged.passRetained(state)
        let started = pthread_create(&thread, nil, { raw in
            let state = Unmanaged<PacerState>.fromOpaque(raw!).takeRetainedValue()
            state.run()
            return nil
        }, retained.toOpaque())
        guard started == 0 else {
            retained.release()
            throw DeviceError(
                .ioFailure, errno: Errno(rawValue: started), operation: "open the raw stream of DAC \"\(name)\"",
                detail: "cannot start the pacing thread: \(String(cString: strerror(started)))")
        }
        state.thread = thread
    }

    deinit { close() }

    /// Queues one block, converted to codes by `channel`; waits while the queue is full.
    func push(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError) {
        guard block.count == samplesPerBlock else {
            throw DeviceError(
                .invalidRequest, operation: pushOperation, detail: "a block of \(block.count) samples, expected \(samplesPerBlock)")
        }
        let channel = self.channel
        guard state.enqueue({ Int32(channel.code(forVolts: block[$0])) }) else {
            let failure = state.writeFailure
            guard failure == 0 else {
                throw DeviceError(
                    .ioFailure, errno: Errno(rawValue: failure), operation: pushOperation,
                    detail: "a write of the raw file failed: \(String(cString: strerror(failure)))")
            }
            throw DeviceError(.invalidRequest, operation: pushOperation, detail: "the stream is closed")
        }
    }

    func close() { state.stop() }

    /// Stops the thread now, dropping what is queued: once it returns, no write of the
    /// thread's can follow (the safe state's `hold` calls it before writing).
    func cancel() { state.stop() }
}

/// The pacing thread's state, shared with the stream without a lock: a single-producer,
/// single-consumer ring of blocks. The loop (the producer) only advances `written`, the pacing
/// thread only `played`, so the loop's push never waits on a lock the pacing thread holds
/// (docs/architecture.md, convention 11). A class, not a struct behind a pointer: a mutating
/// method may assume nobody else changes `self` while it runs (the optimizer kept a count in a
/// register, and the thread never saw a block: found in the VM of `make hil`).
final class PacerState: @unchecked Sendable {  // shared fields are atomics; the ring's slots are handed over by them
    let descriptor: Int32
    let samplesPerBlock: Int
    let capacityBlocks: Int
    let periodNanoseconds: Int64
    var thread: pthread_t?
    private let queue: UnsafeMutableBufferPointer<Int32>
    private let text: UnsafeMutablePointer<UInt8>
    /// Blocks queued by the loop, and blocks played by the thread, since the stream opened.
    private let written = Atomic<Int>(0)
    private let played = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let joined = Atomic<Bool>(false)
    /// Set by the thread as it returns: after it, no write of the thread's can follow.
    private let finished = Atomic<Bool>(false)
    /// The errno of the first write that failed (the thread stops there), 0 while none has.
    private let failure = Atomic<Int32>(0)
    /// How long a side waits before looking again when the ring is full or empty.
    private static let pollNanoseconds: Int64 = 100_000

    init(descriptor: Int32, samplesPerBlock: Int, capacityBlocks: Int, periodNanoseconds: Int64) {
        self.descriptor = descriptor
        self.samplesPerBlock = samplesPerBlock
        self.capacityBlocks = capacityBlocks
        self.periodNanoseconds = periodNanoseconds
        queue = .allocate(capacity: samplesPerBlock * capacityBlocks)
        queue.initialize(repeating: 0)
        text = .allocate(capacity: 16)
    }

    deinit {
        _ = Glibc.close(descriptor)
        queue.deallocate()
        text.deallocate()
    }

    var writeFailure: Int32 { failure.load(ordering: .acquiring) }

    /// Queues a block of `codes`; waits (polling) while the ring is full. False once stopped.
    func enqueue(_ codes: (Int) -> Int32) -> Bool {
        let next = written.load(ordering: .relaxed)
        while next - played.load(ordering: .acquiring) == capacityBlocks {
            if stopping.load(ordering: .acquiring) { return false }
            _ = rt_sleep_until_monotonic_nanoseconds(rt_monotonic_nanoseconds() + Self.pollNanoseconds)
        }
        if stopping.load(ordering: .acquiring) { return false }
        let base = (next % capacityBlocks) * samplesPerBlock
        for index in 0..<samplesPerBlock { queue[base + index] = codes(index) }
        written.store(next + 1, ordering: .releasing)
        return true
    }

    /// Stops the thread and returns once it has ended, whoever calls (the watchdog's `hold` and
    /// the loop's `close` may race): a write in flight lands before any caller goes on to write
    /// the safe level. The first caller joins the thread; another waits for it to finish.
    func stop() {
        stopping.store(true, ordering: .releasing)
        guard let thread else { return }
        if !joined.exchange(true, ordering: .acquiringAndReleasing) {
            pthread_join(thread, nil)
            return
        }
        while !finished.load(ordering: .acquiring) {
            _ = rt_sleep_until_monotonic_nanoseconds(rt_monotonic_nanoseconds() + Self.pollNanoseconds)
        }
    }

    /// The thread: waits for the first block, then writes a sample's code when it differs from
    /// the last written, sleeping to each sample's deadline. An empty ring holds the level.
    func run() {
        defer { finished.store(true, ordering: .releasing) }
        var lastCode: Int32 = -1
        var deadline: Int64 = 0
        var next = 0
        while !stopping.load(ordering: .acquiring) {
            guard written.load(ordering: .acquiring) > next else {
                _ = rt_sleep_until_monotonic_nanoseconds(rt_monotonic_nanoseconds() + Self.pollNanoseconds)
                continue
            }
            if deadline == 0 { deadline = rt_monotonic_nanoseconds() }
            let base = (next % capacityBlocks) * samplesPerBlock
            for index in 0..<samplesPerBlock {
                let code = queue[base + index]
                _ = rt_sleep_until_monotonic_nanoseconds(deadline)
                // Every sample, not only at a change of level: a stop must not wait out a
                // block of one level (a bias block lasts a whole period).
                if stopping.load(ordering: .acquiring) { return }
                if code != lastCode {
                    guard write(code) else {
                        failure.store(errno, ordering: .releasing)
                        stopping.store(true, ordering: .releasing)
                        return
                    }
                    lastCode = code
                }
                deadline += periodNanoseconds
            }
            next += 1
            played.store(next, ordering: .releasing)
        }
    }

    /// `code` as decimal text into the sysfs file (one pwrite at offset 0, as sysfs expects);
    /// false when the driver refused it (errno says why).
    private func write(_ code: Int32) -> Bool {
        var value = max(code, 0)
        var digits = 0
        repeat {
            text[15 - digits] = UInt8(48 + value % 10)
            value /= 10
            digits += 1
        } while value > 0
        return pwrite(descriptor, text + (16 - digits), digits, 0) == digits
    }
}
