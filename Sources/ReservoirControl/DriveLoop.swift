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
    /// Periods by which the aligned samples of a period trail its ADC block: ⌈L/(N·S)⌉.
    private let trailingPeriods: Int
    /// What the loop has done since it was made.
    public private(set) var statistics = LoopStatistics()
    /// Consecutive over-range periods that stop the loop.
    public var overRangeLimit = 20
    /// Consecutive periods of one repeated ADC reading that stop the loop (a live detector
    /// always dithers by at least a code).
    public var stuckLimit = 5
    /// Consecutive periods with the mean state below `silentLevel` that stop the loop.
    public var silentLimit = 3
    /// A mean normalized state this far below the drive's range means the ring has gone quiet.
    public var silentLevel = -0.5
    /// Whether a late DAC block ends the run (`SafeReason.deadlineMiss`). On by default: after
    /// an underrun the DAC has played extra samples, the ADC blocks no longer line up with the
    /// drive, and states would be silently wrong. A soak test (`ringlab run`) turns it off to
    /// count misses instead.
    public var stopsOnDeadlineMiss = true
    /// How the last safe-state entry went.
    public private(set) var lastSafeState = SafeStateOutcome()
    /// Where the loop learns of SIGINT/SIGTERM: the handlers of
    /// `RealtimeThread.installStopSignalHandlers` (replaceable so tests can deliver a "signal"
    /// at a chosen period without signalling the whole test process).
    public var pendingStopSignal: () -> Int32 = { rt_pending_stop_signal() }

    private let driveBlock: UnsafeMutableBufferPointer<Volts>
    private let readings: UnsafeMutableBufferPointer<Volts>
    /// ADC samples of the last (trailingPeriods + 1) blocks, oldest first.
    private let history: UnsafeMutableBufferPointer<Volts>
    /// Normalized states of recent periods, indexed by period mod `stateSlots`.
    private let stateRing: UnsafeMutableBufferPointer<Double>
    private let stateSlots: Int
    private let overRangeVolts: Double
    private var consecutiveOverRange = 0
    private var consecutiveStuck = 0
    private var consecutiveSilent = 0
    /// Streamed time between range probes in a session. The default twin's gain drifts by
    /// about 0.1 % with a 60 s time constant, so 30 s between probes keeps the normalization
    /// within that while a probe (36 periods) costs 0.1 % of the stream at N = 50.
    public var rangeProbeInterval = Duration.seconds(30)
    /// What the watchdog allows between the evaluations of a session (wall time).
    public var idleTimeout = Duration.seconds(2)
    /// Periods at each extreme of the drive at the start of every stream (the first
    /// `rangeSettlePeriods` of each are not used).
    public static let rangePeriods = 12
    private static let rangeSettlePeriods = 4
    /// Sums of the mean node readings at the three range levels.
    private var rangeSums = (low: 0.0, centre: 0.0, high: 0.0)
    private static let rangeLevels = 3
    private var baseline = 0.0
    private var normalizationReady = false
    private var inverseFullScale = 1.0
    private let watchdog: Watchdog

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
        overRangeVolts = adc.volts(forCode: adc.maximumCode).value
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
        let probe = session!.periodsSinceProbe >= probeIntervalPeriods ? Self.rangeLevels * Self.rangePeriods : 0
        let segment = Segment(
            probePeriods: probe, inputCount: inputCount, unitCount: evaluationCount * settings.shots,
            delayPeriods: delayPeriods)
        let weight = 1 / Double(delayPeriods * settings.shots)
        try streamSegment(segment, drive: drive, states: states, weight: weight)
        statistics.evaluationPeriods += segment.drivenPeriods - segment.probePeriods
    }

    /// One call of `run` without a session: open, evaluate, close.
    private func run(
        drive: UnsafeBufferPointer<Double>, inputCount: Int, evaluationCount: Int,
        states: UnsafeMutableBufferPointer<Double>
    ) throws(LoopStopped) {
        try openSession()
        defer { closeSession() }
        try evaluate(drive: drive, inputCount: inputCount, evaluationCount: evaluationCount, states: states)
    }

    /// What an open session holds.
    private struct Session {
        var output: any AnalogOutputStream
        var input: any AnalogInputStream
        /// When the stream's first period began, on the board's clock (ns).
        var start: Int64
        /// Periods pushed since the stream started.
        var pushed = 0
        /// Periods streamed since the last range probe.
        var periodsSinceProbe = Int.max
    }
    private var session: Session?
    /// The level last put on the board's heartbeat line.
    private var heartbeatLevel = false
    /// When the last evaluation ended (monotonic ns), across sessions.
    private var lastSegmentEnd: Int64?

    /// Range probe every this many periods (`rangeProbeInterval` of streamed time).
    private var probeIntervalPeriods: Int {
        let period = board.sampleRate.duration(of: SampleCount(samplesPerPeriod))
        return max(Int(rangeProbeInterval / period), 1)
    }

    /// One edge on the heartbeat line (when the board has one): the hardware monostable that
    /// gates the amplifier stays high for its hold time after each edge, so the amplifier drops
    /// by itself if this loop stops, whatever stopped it.
    @inline(__always)
    private func toggleHeartbeat() throws(DeviceError) {
        guard let heartbeat = board.heartbeat else { return }
        heartbeatLevel.toggle()
        try heartbeat.set(heartbeatLevel)
    }

    /// Enables the ring, opens both streams and queues `blocksAhead` bias periods.
    private func startStreams() throws(LoopStopped) {
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
        for index in driveBlock.indices { driveBlock[index] = settings.operatingPoint.biasVolts }
        do {
            for _ in 0..<ReservoirSettings.blocksAhead {
                try output.push(UnsafeBufferPointer(driveBlock))
                session!.pushed += 1
            }
        } catch {
            throw stop(.ioError("\(error)"))
        }
        normalizationReady = false
        consecutiveOverRange = 0
        consecutiveStuck = 0
        consecutiveSilent = 0
    }

    private func closeStreams() {
        guard let open = session else { return }
        open.output.close()
        open.input.close()
        session = nil
    }

    /// The periods of one call of `evaluate`, in stream order: the range probe (if due), the
    /// driven periods (units of inputCount·D periods: each evaluation's shots), then trailing
    /// bias periods until the last driven period's aligned samples are in.
    struct Segment {
        var probePeriods: Int
        var inputCount: Int
        var unitCount: Int
        var delayPeriods: Int
        /// Periods of one unit (one shot of one evaluation).
        var unitPeriods: Int { inputCount * delayPeriods }
        /// Probe and driven periods.
        var drivenPeriods: Int { probePeriods + unitCount * unitPeriods }
    }

    /// Streams one segment. The ADC blocks read first are the `blocksAhead` queued before it
    /// (bias periods, read for the safety checks and otherwise unused); after reading block b
    /// of the segment the loop pushes block b + `blocksAhead`, so the segment ends with that
    /// many bias periods queued for the next.
    private func streamSegment(
        _ segment: Segment, drive: UnsafeBufferPointer<Double>, states: UnsafeMutableBufferPointer<Double>,
        weight: Double
    ) throws(LoopStopped) {
        let ahead = ReservoirSettings.blocksAhead
        let recordedPeriods = segment.drivenPeriods + trailingPeriods
        let periodNanoseconds = board.sampleRate.duration(of: SampleCount(samplesPerPeriod)).nanoseconds
        let output = session!.output
        let input = session!.input
        if segment.probePeriods > 0 {
            rangeSums = (0, 0, 0)
            // Counted from the probe's last period on.
            session!.periodsSinceProbe = -(ahead + segment.probePeriods)
        }
        for index in stateRing.indices { stateRing[index] = 0.5 }
        do {
            for block in -ahead..<recordedPeriods {
                try input.refill(readings)
                let started = rt_monotonic_nanoseconds()
                // The period read ended at start + (pushed − ahead + 1)·τ on the board's clock.
                let due = session!.start + Int64(session!.pushed - ahead + 1) * periodNanoseconds
                statistics.wakeUpLatency.record(UInt64(max(board.clock.now().nanoseconds - due, 0)))
                if let reason = checkSafety() { throw stop(reason) }
                appendToHistory()
                if block >= trailingPeriods { record(period: block - trailingPeriods, segment, states, weight) }
                fillDrive(period: block + ahead, segment, drive: drive)
                try output.push(UnsafeBufferPointer(driveBlock))
                // The block had to be queued before its period began.
                if board.clock.now().nanoseconds > session!.start + Int64(session!.pushed) * periodNanoseconds {
                    statistics.deadlineMisses += 1
                    if stopsOnDeadlineMiss { throw stop(.deadlineMiss(period: session!.pushed)) }
                }
                session!.pushed += 1
                session!.periodsSinceProbe += 1
                let spent = rt_monotonic_nanoseconds() - started
                statistics.computeNanoseconds += spent
                statistics.maximumComputeNanoseconds = max(statistics.maximumComputeNanoseconds, spent)
                statistics.periods += 1
                watchdog.beat()
                try toggleHeartbeat()
            }
        } catch let error as DeviceError {
            throw stop(.ioError(error.description))
        } catch let stopped as LoopStopped {
            throw stopped
        } catch {
            throw stop(.ioError("\(error)"))
        }
    }

    /// Enters the safe state and describes why.
    private func stop(_ reason: SafeReason) -> LoopStopped {
        closeStreams()
        lastSafeState = board.enterSafeStateReporting()
        return LoopStopped(
            reason: watchdog.fired ? .watchdog : reason, periods: statistics.periods, safeState: lastSafeState)
    }

    /// The per-period safety checks: signals, the watchdog, the interlock, persistent over-range.
    @inline(__always)
    private func checkSafety() -> SafeReason? {
        let signal = pendingStopSignal()
        if signal != 0 { return .signal(signal) }
        if watchdog.fired { return .watchdog }
        do {
            if try board.interlock.read() { return .interlock }
        } catch {
            return .ioError(error.description)
        }
        var overRange = false
        var identical = true
        var sum = 0.0
        let first = readings[0].value
        for reading in readings {
            if reading.value >= overRangeVolts { overRange = true }
            if reading.value != first { identical = false }
            sum += reading.value
        }
        // The ring has gone quiet when the whole block reads far below the drive's range (on
        // the raw block, so without waiting for the latency-aligned states).
        if normalizationReady {
            let level = 0.5 + (sum / Double(readings.count) - baseline) * inverseFullScale
            consecutiveSilent = level < silentLevel ? consecutiveSilent + 1 : 0
            if consecutiveSilent >= silentLimit { return .ringSilent(periods: consecutiveSilent) }
        }
        // A converter pinned at full scale is over range, reported as such below.
        consecutiveStuck = identical && !overRange ? consecutiveStuck + 1 : 0
        if consecutiveStuck >= stuckLimit { return .adcStuck(periods: consecutiveStuck) }
        if overRange {
            statistics.overRangePeriods += 1
            consecutiveOverRange += 1
            if consecutiveOverRange > overRangeLimit { return .overRange(periods: consecutiveOverRange) }
        } else {
            consecutiveOverRange = 0
        }
        return nil
    }

    /// Appends the ADC block just read to the history (dropping the oldest block).
    @inline(__always)
    private func appendToHistory() {
        let p = samplesPerPeriod
        if trailingPeriods > 0 {
            for index in 0..<(trailingPeriods * p) { history[index] = history[index + p] }
        }
        let tail = trailingPeriods * p
        for index in 0..<p { history[tail + index] = readings[index] }
    }

    /// Turns segment period `period`, whose aligned samples the history now holds, into range
    /// sums or node states.
    @inline(__always)
    private func record(
        period: Int, _ segment: Segment, _ states: UnsafeMutableBufferPointer<Double>, _ weight: Double
    ) {
        guard period < segment.drivenPeriods else { return }
        // The history starts at the ADC samples of `period`, so its aligned samples (L later)
        // start L samples in.
        let start = settings.operatingPoint.latencySamples
        let nodes = settings.nodes
        let s = settings.samplesPerNode
        let skip = settings.settleSamples
        let inverseCount = 1 / Double(s - skip)
        if period < segment.probePeriods {
            recordRange(period, start: start, inverseCount: inverseCount)
            return
        }
        let driven = period - segment.probePeriods
        let unit = driven / segment.unitPeriods
        let evaluation = unit / settings.shots
        let input = (driven % segment.unitPeriods) / delayPeriods
        let slot = (driven % stateSlots) * nodes
        let row = (evaluation * segment.inputCount + input) * nodes
        for node in 0..<nodes {
            var sum = 0.0
            let first = start + node * s + skip
            for index in first..<(start + (node + 1) * s) { sum += history[index].value }
            let normalized = 0.5 + (sum * inverseCount - baseline) * inverseFullScale
            stateRing[slot + node] = normalized
            states[row + node] += normalized * weight
        }
    }

    /// Accumulates the node readings of a range period; after the last one, sets the
    /// normalization x̂ = (v − v_lo)/(v_hi − v_lo).
    @inline(__always)
    private func recordRange(_ period: Int, start: Int, inverseCount: Double) {
        let phase = period % Self.rangePeriods
        guard phase >= Self.rangeSettlePeriods else { return }
        let s = settings.samplesPerNode
        var sum = 0.0
        for node in 0..<settings.nodes {
            for index in (start + node * s + settings.settleSamples)..<(start + (node + 1) * s) {
                sum += history[index].value
            }
        }
        let mean = sum * inverseCount / Double(settings.nodes)
        switch period / Self.rangePeriods {
        case 0: rangeSums.low += mean
        case 1: rangeSums.centre += mean
        default: rangeSums.high += mean
        }
        if period == Self.rangeLevels * Self.rangePeriods - 1 {
            let used = Double(Self.rangePeriods - Self.rangeSettlePeriods)
            baseline = rangeSums.centre / used
            let span = (rangeSums.high - rangeSums.low) / used
            // A ring that does not respond (a failed amplifier) keeps a scale of 1/V rather than
            // dividing by nothing; its states are then flat, which the readout will show.
            inverseFullScale = abs(span) > 1e-6 ? 1 / span : 1
            normalizationReady = true
        }
    }

    /// Computes the DAC block of segment period `period`: a range level, or the held input's
    /// drive plus the feedback of the same phase of the previous input of its evaluation, or
    /// the bias after the driven periods.
    @inline(__always)
    private func fillDrive(period: Int, _ segment: Segment, drive: UnsafeBufferPointer<Double>) {
        let point = settings.operatingPoint
        let nodes = settings.nodes
        let s = settings.samplesPerNode
        let range = board.wiring.driveRange
        guard period >= segment.probePeriods, period < segment.drivenPeriods else {
            var level = point.biasVolts
            if period < segment.probePeriods {
                switch period / Self.rangePeriods {
                case 0: level = point.biasVolts - point.spanVolts
                case 2: level = point.biasVolts + point.spanVolts
                default: break
                }
            }
            for index in driveBlock.indices { driveBlock[index] = level.clamped(to: range) }
            return
        }
        let driven = period - segment.probePeriods
        let unit = driven / segment.unitPeriods
        let evaluation = unit / settings.shots
        let input = (driven % segment.unitPeriods) / delayPeriods
        let eta = settings.feedback
        let hasFeedback = input > 0 && eta != 0
        let previousSlot = ((driven - delayPeriods + stateSlots) % stateSlots) * nodes
        let row = (evaluation * segment.inputCount + input) * nodes
        for node in 0..<nodes {
            var activation = drive[row + node]
            if hasFeedback {
                let neighbour = node == 0 ? nodes - 1 : node - 1
                activation += eta * (stateRing[previousSlot + neighbour] - 0.5)
            }
            let volts = Volts(point.biasVolts.value + point.spanVolts.value * Double.tanh(activation)).clamped(
                to: range)
            for sample in 0..<s { driveBlock[node * s + sample] = volts }
        }
    }
}

/// Settings that cannot work, in one message.
public struct ConfigurationProblem: Error, Sendable, CustomStringConvertible {
    public var description: String
}
