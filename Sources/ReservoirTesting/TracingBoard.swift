import ReservoirHAL

/// A board wrapper that records everything the controller does to the devices, stamped with
/// the board's clock, so tests can assert from the trace when the safe state was reached and
/// that nothing left it afterwards. (To act inside the loop's calls, wrap the board in a
/// `RefillHook` first.)
public final class BoardTrace {
    /// One thing the controller did.
    public enum Event: Equatable, Sendable {
        /// A DAC block was pushed, with its smallest and largest value.
        case push(minimum: Volts, maximum: Volts)
        /// The DAC was set to hold a level.
        case hold(Volts)
        /// A GPIO output was set.
        case line(String, Bool)
        /// An ADC block was read.
        case refill
    }

    /// Every event with the board time it happened at, in order.
    public private(set) var events: [(time: Duration, event: Event)] = []

    private let clock: any BoardClock

    init(clock: any BoardClock) { self.clock = clock }

    func record(_ event: Event) { events.append((clock.now(), event)) }

    /// The board time by which all three safe-state steps (amplifier off, loop open, DAC at
    /// `safe`) had happened at or after `time`, or nil if they never all did.
    public func safeStateReached(after time: Duration, safe: Volts) -> Duration? {
        var amplifierOff: Duration?
        var loopOpen: Duration?
        var dacSafe: Duration?
        for (at, event) in events where at >= time {
            switch event {
            case .line("amp_enable", false): amplifierOff = amplifierOff ?? at
            case .line("loop_close", false): loopOpen = loopOpen ?? at
            case .hold(let level) where level == safe: dacSafe = dacSafe ?? at
            default: break
            }
            if let amplifierOff, let loopOpen, let dacSafe { return max(amplifierOff, loopOpen, dacSafe) }
        }
        return nil
    }

    /// Events after `time` that would take the board out of its safe state: a push, a hold
    /// of another level, or enabling the amplifier or closing the loop.
    public func unsafeEvents(after time: Duration, safe: Volts) -> [Event] {
        events.filter { $0.time > time }.map(\.event).filter { event in
            switch event {
            case .push: return true
            case .hold(let level): return level != safe
            case .line(let role, let value): return value && role != "trigger"
            case .refill: return false
            }
        }
    }

    /// Wraps `board`: the returned board forwards everything to it and records into this trace.
    public static func wrapping(_ board: Board) -> (board: Board, trace: BoardTrace) {
        let trace = BoardTrace(clock: board.clock)
        let traced = Board(
            wiring: board.wiring, dac: TracedDAC(board.dac, trace), adc: TracedADC(board.adc, trace),
            ampEnable: TracedLine(board.ampEnable, "amp_enable", trace),
            loopClose: TracedLine(board.loopClose, "loop_close", trace),
            trigger: TracedLine(board.trigger, "trigger", trace), interlock: board.interlock, clock: board.clock)
        return (traced, trace)
    }
}

private final class TracedDAC: AnalogOutput {
    let inner: any AnalogOutput
    let trace: BoardTrace
    init(_ inner: any AnalogOutput, _ trace: BoardTrace) {
        self.inner = inner
        self.trace = trace
    }
    var format: ConverterFormat { inner.format }
    func hold(_ level: Volts) throws(DeviceError) {
        try inner.hold(level)
        trace.record(.hold(level))
    }
    func openStream(samplesPerBlock: Int) throws(DeviceError) -> any AnalogOutputStream {
        TracedDACStream(try inner.openStream(samplesPerBlock: samplesPerBlock), trace)
    }
    func playCyclic(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError) -> any CyclicOutput {
        let output = try inner.playCyclic(block)
        trace.record(.push(minimum: block.min() ?? .zero, maximum: block.max() ?? .zero))
        return output
    }
}

private final class TracedDACStream: AnalogOutputStream {
    let inner: any AnalogOutputStream
    let trace: BoardTrace
    init(_ inner: any AnalogOutputStream, _ trace: BoardTrace) {
        self.inner = inner
        self.trace = trace
    }
    var samplesPerBlock: Int { inner.samplesPerBlock }
    func push(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError) {
        try inner.push(block)
        trace.record(.push(minimum: block.min() ?? .zero, maximum: block.max() ?? .zero))
    }
    func close() { inner.close() }
}

private final class TracedADC: AnalogInput {
    let inner: any AnalogInput
    let trace: BoardTrace
    init(_ inner: any AnalogInput, _ trace: BoardTrace) {
        self.inner = inner
        self.trace = trace
    }
    var format: ConverterFormat { inner.format }
    func openStream(samplesPerBlock: Int) throws(DeviceError) -> any AnalogInputStream {
        TracedADCStream(try inner.openStream(samplesPerBlock: samplesPerBlock), trace)
    }
    func readOnce() throws(DeviceError) -> Volts { try inner.readOnce() }
}

private final class TracedADCStream: AnalogInputStream {
    let inner: any AnalogInputStream
    let trace: BoardTrace
    init(_ inner: any AnalogInputStream, _ trace: BoardTrace) {
        self.inner = inner
        self.trace = trace
    }
    var samplesPerBlock: Int { inner.samplesPerBlock }
    func refill(_ block: UnsafeMutableBufferPointer<Volts>) throws(DeviceError) {
        try inner.refill(block)
        trace.record(.refill)
    }
    func close() { inner.close() }
}

private final class TracedLine: DigitalOutputLine {
    let inner: any DigitalOutputLine
    let role: String
    let trace: BoardTrace
    init(_ inner: any DigitalOutputLine, _ role: String, _ trace: BoardTrace) {
        self.inner = inner
        self.role = role
        self.trace = trace
    }
    func set(_ asserted: Bool) throws(DeviceError) {
        try inner.set(asserted)
        trace.record(.line(role, asserted))
    }
}

/// A board whose ADC calls `beforeRefill` with the number of refills so far before each one,
/// and otherwise forwards everything untouched and without allocating: for instrumenting the
/// loop's periods (counting allocations, stalling the converter) without changing them.
public enum RefillHook {
    /// `board` with the hook on its ADC streams.
    public static func wrapping(_ board: Board, beforeRefill: @escaping (Int) -> Void) -> Board {
        Board(
            wiring: board.wiring, dac: board.dac, adc: HookedADC(board.adc, beforeRefill), ampEnable: board.ampEnable,
            loopClose: board.loopClose, trigger: board.trigger, interlock: board.interlock, clock: board.clock)
    }
}

private final class HookedADC: AnalogInput {
    let inner: any AnalogInput
    let hook: (Int) -> Void
    var refills = 0
    init(_ inner: any AnalogInput, _ hook: @escaping (Int) -> Void) {
        self.inner = inner
        self.hook = hook
    }
    var format: ConverterFormat { inner.format }
    func openStream(samplesPerBlock: Int) throws(DeviceError) -> any AnalogInputStream {
        HookedADCStream(try inner.openStream(samplesPerBlock: samplesPerBlock), self)
    }
    func readOnce() throws(DeviceError) -> Volts { try inner.readOnce() }
}

private final class HookedADCStream: AnalogInputStream {
    let inner: any AnalogInputStream
    unowned let owner: HookedADC
    init(_ inner: any AnalogInputStream, _ owner: HookedADC) {
        self.inner = inner
        self.owner = owner
    }
    var samplesPerBlock: Int { inner.samplesPerBlock }
    func refill(_ block: UnsafeMutableBufferPointer<Volts>) throws(DeviceError) {
        owner.hook(owner.refills)
        owner.refills += 1
        try inner.refill(block)
    }
    func close() { inner.close() }
}
