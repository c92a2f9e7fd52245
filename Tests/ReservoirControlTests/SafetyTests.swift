import Foundation
import ReservoirControl
import ReservoirHAL
import ReservoirTesting
import ReservoirTwin
import Testing

/// Every safety trigger of docs/drive-loop.md, with the twin's fault injection: from the
/// recorded trace, the board reaches its safe state within one period of the trigger (plus
/// the converter latency for faults seen through the ADC, and the trigger's own persistence)
/// and nothing takes it out again; afterwards the twin's ring is off and its DAC at the safe
/// level.
@Suite struct SafetyTests {
    /// One period, τ = N·S/f_s = 1 ms, and the ADC latency, 3 samples, on the default twin.
    static let period = Duration.milliseconds(1)
    static let latency = Duration.microseconds(15)

    struct Run {
        var twin: RingTwin
        var board: Board
        var trace: BoardTrace
        var loop: DriveLoop
        var stopped: LoopStopped?
    }

    /// Runs 1000 inputs (3 s of board time at D = 3) with `prepare` applied first.
    func run(
        hook: @escaping (Int) -> Void = { _ in }, watchdogTimeout: Duration? = nil,
        prepare: (RingTwin, DriveLoop) -> Void
    ) throws -> Run {
        let (twin, plain) = try TwinFixtures.twinBoard(seed: 8)
        let (board, trace) = BoardTrace.wrapping(RefillHook.wrapping(plain, beforeRefill: hook))
        let settings = ReservoirSettings(operatingPoint: try #require(plain.wiring.operatingPoint))
        let loop = try DriveLoop(board: board, settings: settings, watchdogTimeout: watchdogTimeout)
        prepare(twin, loop)
        do {
            _ = try runInputs(loop, (0..<1000).map { sin(Double($0)) })
            return Run(twin: twin, board: board, trace: trace, loop: loop, stopped: nil)
        } catch let stopped as LoopStopped {
            return Run(twin: twin, board: board, trace: trace, loop: loop, stopped: stopped)
        }
    }

    /// The trace and the twin show the safe state reached by `deadline` and kept.
    func expectSafe(
        _ run: Run, after trigger: Duration, within bound: Duration, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let safe = run.board.wiring.safeVolts
        let reached = try #require(
            run.trace.safeStateReached(after: trigger, safe: safe), sourceLocation: sourceLocation)
        #expect(
            reached - trigger <= bound, "safe \(reached - trigger) after the trigger", sourceLocation: sourceLocation)
        #expect(run.trace.unsafeEvents(after: reached, safe: safe).isEmpty, sourceLocation: sourceLocation)
        try expectTwinStaysSafe(run, sourceLocation: sourceLocation)
    }

    func expectTwinStaysSafe(_ run: Run, sourceLocation: SourceLocation = #_sourceLocation) throws {
        // Let the twin run on for 20 periods with nobody driving it.
        run.twin.clearFaults()
        let stream = try run.board.adc.openStream(samplesPerBlock: 4000)
        let block = UnsafeMutableBufferPointer<Volts>.allocate(capacity: 4000)
        defer { block.deallocate() }
        try stream.refill(block)
        stream.close()
        #expect(!run.twin.ringEnabled, sourceLocation: sourceLocation)
        #expect(
            run.twin.dacOutput.value == run.twin.dacOutputVolts(forRequest: run.board.wiring.safeVolts),
            sourceLocation: sourceLocation)
    }

    static let faultTime = Duration.microseconds(1_500_500)  // mid-period

    @Test func interlock() throws {
        let run = try run { twin, _ in twin.inject(.interlock, at: Self.faultTime) }
        #expect(run.stopped?.reason == .interlock)
        try expectSafe(run, after: Self.faultTime, within: Self.period)
    }

    @Test func ioErrorFromADCDropout() throws {
        let run = try run { twin, _ in twin.inject(.adcDropout(duration: .milliseconds(5)), at: Self.faultTime) }
        #expect(run.stopped?.reason.name == "io-error")
        try expectSafe(run, after: Self.faultTime, within: Self.period + Self.latency)
    }

    @Test func ioErrorFromDACFailure() throws {
        // The DAC cannot be set any more, so the safe state is the ring switched off: the
        // amplifier disabled and the loop opened within one period.
        let run = try run { twin, _ in twin.inject(.dacFailure, at: Self.faultTime) }
        let stopped = try #require(run.stopped)
        #expect(stopped.reason.name == "io-error")
        #expect(stopped.safeState.ringDisabled && !stopped.safeState.dacAtSafeLevel)
        let off = run.trace.events.first { $0.time >= Self.faultTime && $0.event == .line("amp_enable", false) }
        let open = run.trace.events.first { $0.time >= Self.faultTime && $0.event == .line("loop_close", false) }
        #expect(try #require(off).time - Self.faultTime <= Self.period)
        #expect(try #require(open).time - Self.faultTime <= Self.period)
        #expect(!run.twin.ringEnabled)
    }

    @Test func persistentOverRange() throws {
        // Persistence set to its least: the first over-range period stops the loop.
        let run = try run { twin, loop in
            loop.limits.overRangePeriods = 0
            twin.inject(.adcSaturated, at: Self.faultTime)
        }
        #expect(run.stopped?.reason == .overRange(periods: 1))
        try expectSafe(run, after: Self.faultTime, within: Self.period + Self.latency)
    }

    @Test func stuckADC() throws {
        // One whole period of one repeated reading is the least that can show a stuck ADC: the
        // period the fault lands in still holds earlier readings, so the next one decides.
        let run = try run { twin, loop in
            loop.limits.stuckPeriods = 1
            twin.inject(.adcStuck, at: Self.faultTime)
        }
        #expect(run.stopped?.reason == .adcStuck(periods: 1))
        try expectSafe(run, after: Self.faultTime, within: Self.period * 2 + Self.latency)
    }

    @Test func amplifierFailureSilencesTheRing() throws {
        let run = try run { twin, loop in
            loop.limits.silentPeriods = 1
            twin.inject(.amplifierFailure, at: Self.faultTime)
        }
        #expect(run.stopped?.reason == .ringSilent(periods: 1))
        try expectSafe(run, after: Self.faultTime, within: Self.period * 2 + Self.latency)
    }

    @Test func stopSignal() throws {
        // SIGINT as the handler records it, delivered at the fault time.
        nonisolated(unsafe) var stopAt = Duration.zero
        let run = try run { twin, loop in
            loop.pendingStopSignal = { twin.elapsed >= Self.faultTime ? SIGINT : 0 }
            stopAt = Self.faultTime
        }
        #expect(run.stopped?.reason == .signal(SIGINT))
        try expectSafe(run, after: stopAt, within: Self.period)
    }

    @Test func watchdog() throws {
        // The ADC stalls for 300 ms of wall time at refill 1000; the watchdog (50 ms) enters
        // the safe state from its own thread while the loop is stuck, so on the board's clock,
        // which stands still during the stall, the safe state comes at the stall itself.
        nonisolated(unsafe) var stalledAt: Duration?
        nonisolated(unsafe) var twinReference: RingTwin?
        let run = try run(
            hook: { refill in
                if refill == 1000 {
                    stalledAt = twinReference?.elapsed
                    Thread.sleep(forTimeInterval: 0.3)
                }
            }, watchdogTimeout: .milliseconds(50)
        ) { twin, _ in twinReference = twin }
        #expect(run.stopped?.reason == .watchdog)
        try expectSafe(run, after: try #require(stalledAt), within: Self.period)
    }

    @Test func endOfRun() throws {
        let run = try run { _, _ in }
        #expect(run.stopped == nil)
        let lastRefill = try #require(run.trace.events.last { $0.event == .refill }).time
        try expectSafe(run, after: lastRefill, within: .zero)
        #expect(run.loop.lastSafeState.isSafe)
    }
}
