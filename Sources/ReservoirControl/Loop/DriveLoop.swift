import CRealtime
import RealModule
import ReservoirHAL

/// The time-multiplexed reservoir on a board (docs/drive-loop.md): turns pre-layer outputs into
/// DAC blocks, one period per input (held for D periods when there is feedback), and ADC
/// blocks into normalized node states, keeping the board safe throughout.
///
/// Drive of node i in period n (input k = ⌊n/D⌋, phase n mod D):
///
///     a_i = p_i(k) + η·(x̂_{(i−1) mod N}(period n − D) − ½)        (no feedback term for k = 0)
///     v_i = clamp(V_bias + V_span·tanh(a_i), V_min, V_max)
///
/// State of node i in period j: the mean of its S − skip ADC samples after the settling skip,
/// taken L samples late (the converter latency), normalized x̂ = ½ + (v − v_0)/(v_hi − v_lo), so
/// that the feedback term is centred exactly where the drive is (x̂ = ½ at a = 0) even where the
/// detector's response is curved. The state of an input is the mean over its D held periods and
/// the R shots.
///
/// Every stream starts with `rangePeriods` periods at each of V_bias − V_span, V_bias and
/// V_bias + V_span, whose mean node readings are v_lo, v_0 and v_hi: the normalization follows
/// the board as it is now (drift included), and the ring settles after being enabled before
/// the first input.
///
/// The per-period work uses only buffers allocated here, before any stream starts: no
/// allocation, no locks, no logging, no Foundation (a malloc-counting test checks it).
public final class DriveLoop {
    /// The board driven.
    public let board: Board
    /// The settings in use.
    public let settings: ReservoirSettings
    /// Samples per period, N·S.
    public let samplesPerPeriod: Int
    /// Periods each input is held, D.
    public let delayPeriods: Int
    /// One period, N·S samples at the board's rate.
    public var period: Duration { board.sampleRate.duration(of: SampleCount(samplesPerPeriod)) }
    /// One period in seconds, from its whole nanoseconds (as the loop paces it).
    public var periodSeconds: Double { Double(period.nanoseconds) / 1e9 }
    /// Periods by which the aligned samples of a period trail its ADC block: ⌈L/(N·S)⌉.
    let trailingPeriods: Int
    /// What the loop has done since it was made.
    public internal(set) var statistics = LoopStatistics()
    /// When the loop stops a run on what it reads (over range, stuck, silent, a late block).
    public var limits = SafetyLimits() {
        didSet { monitor = SafetyMonitor(limits: limits, overRangeVolts: monitor.overRangeVolts) }
    }
    /// How the last safe-state entry went.
    public internal(set) var lastSafeState = SafeStateOutcome()
    /// Where the loop learns of SIGINT/SIGTERM: the handlers of
    /// `RealtimeThread.installStopSignalHandlers` (replaceable so tests can deliver a "signal"
    /// at a chosen period without signalling the whole test process).
    public var pendingStopSignal: () -> Int32 = { rt_pending_stop_signal() }

    let driveBlock: UnsafeMutableBufferPointer<Volts>
    let readings: UnsafeMutableBufferPointer<Volts>
    /// ADC samples of the last (trailingPeriods + 1) blocks, oldest first.
    let history: UnsafeMutableBufferPointer<Volts>
    /// Normalized states of recent periods, indexed by period mod `stateSlots`.
    let stateRing: UnsafeMutableBufferPointer<Double>
    let stateSlots: Int
    var monitor: SafetyMonitor
    var normalizer = RangeNormalizer()
    public let driveMap: DriveMap
    /// Streamed time between range probes in a session. The default twin's gain drifts by
    /// about 0.1 % with a 60 s time constant, so 30 s between probes keeps the normalization
    /// within that while a probe (36 periods) costs 0.1 % of the stream at N = 50.
    public var rangeProbeInterval = Duration.seconds(30)
    /// What the watchdog allows between the evaluations of a session (wall time).
    public var idleTimeout = Duration.seconds(2)
    /// Periods at each level of the range probe that starts every stream (`RangeNormalizer`).
    public static let rangePeriods = RangeNormalizer.periodsPerLevel
    let watchdog: Watchdog

    /// A loop for `board` with `settings`; allocates every buffer the periods will use.
    public init(board: Board, settings: ReservoirSettings, watchdogTimeout: Duration? = nil)
        throws(ConfigurationProblem)
    {
        if let problem = settings.problem(on: board.wiring) { throw ConfigurationProblem(description: problem) }
        self.board = board
        self.settings = settings
        samplesPerPeriod = settings.samplesPerPeriod
        delayPeriods = settings.effectiveDelayPeriods
        let latency = settings.operatingPoint.latencySamples
        trailingPeriods = (latency + samplesPerPeriod - 1) / samplesPerPeriod
        driveBlock = .allocate(capacity: samplesPerPeriod)
        driveBlock.initialize(repeating: settings.operatingPoint.biasVolts)
        readings = .allocate(capacity: samplesPerPeriod)
        readings.initialize(repeating: .zero)
        history = .allocate(capacity: (trailingPeriods + 1) * samplesPerPeriod)
        history.initialize(repeating: .zero)
        stateSlots = delayPeriods + trailingPeriods + ReservoirSettings.blocksAhead + 1
        stateRing = .allocate(capacity: stateSlots * settings.nodes)
        stateRing.initialize(repeating: 0.5)
        let adc = board.adc.format
        var limits = SafetyLimits()
        if let stuck = board.wiring.adcStuckPeriods { limits.stuckPeriods = stuck == 0 ? Int.max : stuck }
        self.limits = limits
        monitor = SafetyMonitor(limits: limits, overRangeVolts: adc.volts(forCode: adc.maximumCode).value)
        let point = settings.operatingPoint
        driveMap = DriveMap(biasVolts: point.biasVolts, spanVolts: point.spanVolts, range: board.wiring.driveRange)
        let period = board.sampleRate.duration(of: SampleCount(samplesPerPeriod))
        // The watchdog runs on wall time: 3τ against a clock that is wall time; a board whose
        // clock only moves with the work (lock-step) gets a generous bound instead, since its
        // periods take whatever wall time the host gives them.
        let defaultTimeout = board.clock is ManualClock ? Duration.seconds(2) : period * 3
        watchdog = Watchdog(board: board, timeout: watchdogTimeout ?? defaultTimeout)
    }

    deinit {
        driveBlock.deallocate()
        readings.deallocate()
        history.deallocate()
        stateRing.deallocate()
    }

    /// Runs the reservoir over `inputCount` inputs whose pre-layer outputs p(k) are the rows of
    /// `drive` (inputCount × N), writing each input's state row into `states` (inputCount × N).
    /// One session: one range probe, then the R shots back to back; the board is in its safe
    /// state afterwards, whatever happens. Throws `LoopStopped` when a safety trigger ended the
    /// run early.
    public func run(
        drive: UnsafeBufferPointer<Double>, inputCount: Int, states: UnsafeMutableBufferPointer<Double>
    ) throws(LoopStopped) {
        try openSession()
        defer { closeSession() }
        try evaluate(drive: drive, inputCount: inputCount, evaluationCount: 1, states: states)
    }

    // MARK: Sessions

    /// Whether a session is open (the ring enabled and both streams running).
    public var sessionIsOpen: Bool { session != nil }

    /// Opens a session: starts the watchdog, enables the ring, opens both streams and queues
    /// `blocksAhead` periods at the bias. Evaluations then stream back to back in one continuous
    /// stream, with one range probe at the start and another every `rangeProbeInterval` of
    /// streamed time (the normalization follows the board's drift without a probe per
    /// evaluation). Between evaluations the DAC plays the queued bias periods and the ring
    /// stays enabled; the watchdog allows `idleTimeout` there before it makes the board safe.
    public func openSession() throws(LoopStopped) {
        guard session == nil else { return }
        // No watchdog, no run: a loop nobody watches must not drive the ring.
        do { try watchdog.start() } catch {
            lastSafeState = board.enterSafeStateReporting()
            throw LoopStopped(
                reason: .ioError("cannot start the watchdog thread (error \(error.code))"),
                periods: statistics.periods, safeState: lastSafeState)
        }
        try startStreams()
        watchdog.setIdle(true, timeout: idleTimeout)
    }

    /// Ends the session: closes the streams, puts the board in its safe state, stops the
    /// watchdog. Safe to call when no session is open.
    public func closeSession() {
        closeStreams()
        lastSafeState = board.enterSafeStateReporting()
        watchdog.stop()
    }

    /// Streams `evaluationCount` evaluations back to back in the open session (one is opened
    /// and closed around the call when none is). Evaluation e's drive is rows
    /// e·inputCount ..< (e + 1)·inputCount of `drive` (N wide), its states the same rows of
    /// `states`; each evaluation is streamed R times in a row (shots) and its states averaged.
    /// The feedback starts afresh with each evaluation (and shot). Because all drives are
    /// prepared before the stream starts, the converters do not idle between the evaluations
    /// of one call: the first periods of evaluation e + 1 are queued while the last of e play.
    public func evaluate(
        drive: UnsafeBufferPointer<Double>, inputCount: Int, evaluationCount: Int,
        states: UnsafeMutableBufferPointer<Double>
    ) throws(LoopStopped) {
        let nodes = settings.nodes
        let rows = inputCount * evaluationCount
        precondition(drive.count == rows * nodes && states.count == rows * nodes)
        for index in states.indices { states[index] = 0 }
        // A NaN or an infinity must never reach the DAC (clamping passes NaN through).
        if let bad = drive.firstIndex(where: { !$0.isFinite }) {
            throw stop(.invalidDrive(row: bad / nodes, node: bad % nodes))
        }
        guard session != nil else {
            try run(drive: drive, inputCount: inputCount, evaluationCount: evaluationCount, states: states)
            return
        }
        watchdog.setIdle(false)
        defer {
            watchdog.setIdle(true, timeout: idleTimeout)
            lastSegmentEnd = rt_monotonic_nanoseconds()
        }
        let periodNanoseconds = board.sampleRate.duration(of: SampleCount(samplesPerPeriod)).nanoseconds
        // Host time between evaluations beyond what the queued bias periods cover: the
        // converters would have idled that long had the board been paced.
        if let lastSegmentEnd {
            let gap = rt_monotonic_nanoseconds() - lastSegmentEnd
            statistics.hostIdleNanoseconds += max(gap - Int64(ReservoirSettings.blocksAhead) * periodNanoseconds, 0)
        }
        if watchdog.fired { throw stop(.watchdog) }
        // Retrigger the monostable before the queued bias periods play: the host's time since
        // the last period may have let it fall.
        do { try toggleHeartbeat() } catch { throw stop(.ioError(error.description)) }
        // A host that came back after the queued bias periods ran out has lost the DAC/ADC
        // alignment (the DAC held, the ADC went on): start the streams again.
        if board.clock.now().nanoseconds > session!.start + Int64(session!.pushed) * periodNanoseconds {
            closeStreams()
            statistics.streamRestarts += 1
            try startStreams()
        }
        let probe = session!.periodsSinceProbe >= probeIntervalPeriods ? RangeNormalizer.probePeriods : 0
        let segment = PeriodSchedule(
            probePeriods: probe, inputCount: inputCount, evaluationCount: evaluationCount, shots: settings.shots,
            delayPeriods: delayPeriods)
        let weight = 1 / Double(delayPeriods * settings.shots)
        try streamSegment(segment, drive: drive, states: states, weight: weight)
        statistics.evaluationPeriods += segment.drivenPeriods - segment.probePeriods
    }

    /// One call of `run` without a session: open, evaluate, close.
    func run(
        drive: UnsafeBufferPointer<Double>, inputCount: Int, evaluationCount: Int,
        states: UnsafeMutableBufferPointer<Double>
    ) throws(LoopStopped) {
        try openSession()
        defer { closeSession() }
        try evaluate(drive: drive, inputCount: inputCount, evaluationCount: evaluationCount, states: states)
    }

    /// What an open session holds.
    struct Session {
        var output: any AnalogOutputStream
        var input: any AnalogInputStream
        /// When the stream's first period began, on the board's clock (ns).
        var start: Int64
        /// Periods pushed since the stream started.
        var pushed = 0
        /// Periods streamed since the last range probe.
        var periodsSinceProbe = Int.max
    }
    var session: Session?
    /// The level last put on the board's heartbeat line.
    var heartbeatLevel = false
    /// When the last evaluation ended (monotonic ns), across sessions. Two clocks, on purpose:
    /// the stream's schedule (deadlines, wake-ups) runs on the board's clock, which a lock-step
    /// twin moves; what the host spends (compute per period, gaps between evaluations) is host
    /// time, on CLOCK_MONOTONIC, whatever the board's clock does.
    var lastSegmentEnd: Int64?

    /// Range probe every this many periods (`rangeProbeInterval` of streamed time).
    var probeIntervalPeriods: Int {
        let period = board.sampleRate.duration(of: SampleCount(samplesPerPeriod))
        return max(Int(rangeProbeInterval / period), 1)
    }

    /// One edge on the heartbeat line (when the board has one): the hardware monostable that
    /// gates the amplifier stays high for its hold time after each edge, so the amplifier drops
    /// by itself if this loop stops, whatever stopped it.
    @inline(__always)
    func toggleHeartbeat() throws(DeviceError) {
        guard let heartbeat = board.heartbeat else { return }
        heartbeatLevel.toggle()
        try heartbeat.set(heartbeatLevel)
    }

    /// Enables the ring, opens both streams and queues `blocksAhead` bias periods.
    func startStreams() throws(LoopStopped) {
        let output: any AnalogOutputStream
        let input: any AnalogInputStream
        // An asserted interlock forbids enabling the ring at all (not only once streaming).
        let interlocked: Bool
        do { interlocked = try board.interlock.read() } catch { throw stop(.ioError(error.description)) }
        if interlocked { throw stop(.interlock) }
        do {
            try toggleHeartbeat()
            try board.enableRing()
            output = try board.dac.openStream(samplesPerBlock: samplesPerPeriod)
        } catch {
            throw stop(.ioError("\(error)"))
        }
        do {
            input = try board.adc.openStream(samplesPerBlock: samplesPerPeriod)
        } catch {
            output.close()
            throw stop(.ioError("\(error)"))
        }
        session = Session(output: output, input: input, start: board.clock.now().nanoseconds)
        watchdog.watch(input: input, output: output)
        for index in driveBlock.indices { driveBlock[index] = settings.operatingPoint.biasVolts }
        do {
            for _ in 0..<ReservoirSettings.blocksAhead {
                try output.push(UnsafeBufferPointer(driveBlock))
                session!.pushed += 1
            }
        } catch {
            throw stop(.ioError("\(error)"))
        }
        normalizer.reset()
        monitor.reset()
    }

    func closeStreams() {
        guard let open = session else { return }
        watchdog.watch(input: nil, output: nil)
        open.output.close()
        open.input.close()
        session = nil
    }
}

/// Settings that cannot work, in one message.
public struct ConfigurationProblem: Error, Sendable, CustomStringConvertible {
    public var description: String
}
