import CRealtime
import ReservoirHAL

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
/// would); an empty queue holds the last level. `halt` stops the thread before anything
/// else may write the channel (the safe state's `hold`). Nothing here allocates after
/// `init`: the queue, the text of a code and the thread's state are all made up front.
final class PacedRawDACStream: AnalogOutputStream {
    /// Blocks queued ahead, as many as the drive loop keeps in a kernel buffer.
    static let queuedBlocks = 4

    let samplesPerBlock: Int
    let channel: IIOChannel
    private let state: UnsafeMutablePointer<PacerState>
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
        state = .allocate(capacity: 1)
        state.initialize(
            to: PacerState(
                descriptor: descriptor, samplesPerBlock: samplesPerBlock, capacityBlocks: capacityBlocks,
                periodNanoseconds: Int64((1e9 / sampleRate.value).rounded())))
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { raw in
            raw!.assumingMemoryBound(to: PacerState.self).pointee.run()
            return nil
        }, state)
        guard started == 0 else {
            state.pointee.release()
            state.deinitialize(count: 1)
            state.deallocate()
            throw DeviceError(
                .ioFailure, errno: Errno(rawValue: started), operation: "open the raw stream of DAC \"\(name)\"",
                detail: "cannot start the pacing thread: \(String(cString: strerror(started)))")
        }
        state.pointee.thread = thread
    }

    deinit {
        close()
        state.pointee.release()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Samples written late by more than one sample period, and blocks the queue ran dry
    /// before (the level held meanwhile).
    var lateWrites: Int { state.pointee.locked { $0.lateWrites } }
    var underruns: Int { state.pointee.locked { $0.underruns } }

    /// Queues one block, converted to codes by `channel`; waits while the queue is full.
    func push(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError) {
        guard block.count == samplesPerBlock else {
            throw DeviceError(
                .invalidRequest, operation: pushOperation, detail: "a block of \(block.count) samples, expected \(samplesPerBlock)")
        }
        let channel = self.channel
        guard state.pointee.enqueue({ Int32(channel.code(forVolts: block[$0])) }) else {
            throw DeviceError(.invalidRequest, operation: pushOperation, detail: "the stream is closed")
        }
    }

    /// Stops the thread now, dropping what is queued: nothing it does can follow.
    func halt() { state.pointee.stop() }

    func close() { state.pointee.stop() }

    func cancel() { state.pointee.stop() }
}

/// The pacing thread's state, shared with the stream under one mutex.
struct PacerState {
    let descriptor: Int32
    let samplesPerBlock: Int
    let capacityBlocks: Int
    let periodNanoseconds: Int64
    var thread: pthread_t?
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private let queue: UnsafeMutableBufferPointer<Int32>
    private let text: UnsafeMutablePointer<UInt8>
    private var head = 0
    private var queued = 0
    private var stopping = false
    private var joined = false
    var lateWrites = 0
    var underruns = 0

    init(descriptor: Int32, samplesPerBlock: Int, capacityBlocks: Int, periodNanoseconds: Int64) {
        self.descriptor = descriptor
        self.samplesPerBlock = samplesPerBlock
        self.capacityBlocks = capacityBlocks
        self.periodNanoseconds = periodNanoseconds
        queue = .allocate(capacity: samplesPerBlock * capacityBlocks)
        queue.initialize(repeating: 0)
        text = .allocate(capacity: 16)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
    }

    mutating func release() {
        _ = Glibc.close(descriptor)
        queue.deallocate()
        text.deallocate()
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&changed)
    }

    mutating func locked<T>(_ body: (inout PacerState) -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body(&self)
    }

    mutating func enqueue(_ codes: (Int) -> Int32) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while queued == capacityBlocks && !stopping { pthread_cond_wait(&changed, &mutex) }
        guard !stopping else { return false }
        let base = ((head + queued) % capacityBlocks) * samplesPerBlock
        for index in 0..<samplesPerBlock { queue[base + index] = codes(index) }
        queued += 1
        pthread_cond_broadcast(&changed)
        return true
    }

    /// Stops and joins the thread (once; later calls return at once).
    mutating func stop() {
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_broadcast(&changed)
        let thread = joined ? nil : self.thread
        joined = true
        pthread_mutex_unlock(&mutex)
        if let thread { pthread_join(thread, nil) }
    }

    /// The thread: waits for the first block, then writes a sample's code when it differs from
    /// the last written, sleeping to each sample's deadline.
    mutating func run() {
        var lastCode: Int32 = -1
        var deadline: Int64 = 0
        while true {
            pthread_mutex_lock(&mutex)
            while queued == 0 && !stopping {
                if deadline != 0 { underruns += 1 }
                pthread_cond_wait(&changed, &mutex)
            }
            if stopping {
                pthread_mutex_unlock(&mutex)
                return
            }
            let base = head * samplesPerBlock
            pthread_mutex_unlock(&mutex)
            if deadline == 0 { deadline = rt_monotonic_nanoseconds() }
            var late = 0
            for index in 0..<samplesPerBlock {
                let code = queue[base + index]
                _ = rt_sleep_until_monotonic_nanoseconds(deadline)
                if code != lastCode {
                    // A stop between the check and the write would let one stale code follow
                    // the safe state's: the check and the write happen under the mutex.
                    pthread_mutex_lock(&mutex)
                    let halted = stopping
                    if !halted { write(code) }
                    pthread_mutex_unlock(&mutex)
                    if halted { return }
                    lastCode = code
                }
                if rt_monotonic_nanoseconds() - deadline > periodNanoseconds { late += 1 }
                deadline += periodNanoseconds
            }
            pthread_mutex_lock(&mutex)
            lateWrites += late
            head = (head + 1) % capacityBlocks
            queued -= 1
            pthread_cond_broadcast(&changed)
            pthread_mutex_unlock(&mutex)
        }
    }

    /// `code` as decimal text into the sysfs file (one pwrite at offset 0, as sysfs expects).
    private func write(_ code: Int32) {
        var value = max(code, 0)
        var digits = 0
        repeat {
            text[15 - digits] = UInt8(48 + value % 10)
            value /= 10
            digits += 1
        } while value > 0
        _ = pwrite(descriptor, text + (16 - digits), digits, 0)
    }
}
