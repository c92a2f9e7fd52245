import Foundation
import ReservoirControl
import ReservoirHAL
import ReservoirHardware
import ReservoirTesting
import ReservoirTwin
import Testing

/// Sessions: evaluations streamed back to back with one range probe, the converters fed
/// between them, the watchdog and the safe state around them.
@Suite struct DriveSessionTests {
    /// A drive of `count` inputs spread over the nodes by a ±1 pattern.
    func drive(_ count: Int, nodes: Int, scale: Double = 0.6) -> [Double] {
        (0..<(count * nodes)).map { index in
            let (k, i) = (index / nodes, index % nodes)
            return scale * Double.sin(Double(k + 1)) * (i % 3 == 0 ? 1 : -1)
        }
    }

    func evaluate(_ loop: DriveLoop, _ drive: [Double], inputs: Int, evaluations: Int) throws -> [Double] {
        var states = [Double](repeating: 0, count: drive.count)
        try drive.withUnsafeBufferPointer { d throws(LoopStopped) in
            try states.withUnsafeMutableBufferPointer { s throws(LoopStopped) in
                try loop.evaluate(drive: d, inputCount: inputs, evaluationCount: evaluations, states: s)
            }
        }
        return states
    }

    @Test func evaluationsStreamBackToBackWithOneRangeProbe() throws {
        let (twin, board, settings) = try loopOnTwin(configure: { $0.feedback = 0 })
        let loop = try DriveLoop(board: board, settings: settings)
        let nodes = settings.nodes
        let one = drive(4, nodes: nodes)
        try loop.openSession()
        let twice = try evaluate(loop, one + one, inputs: 4, evaluations: 2)
        let again = try evaluate(loop, one, inputs: 4, evaluations: 1)
        loop.closeSession()
        #expect(loop.lastSafeState.isSafe)
        // Periods read: the 2 queued bias periods, the probe (3 × 12), the driven periods and
        // one trailing period (latency 3 samples); the second call has no probe.
        let probe = 3 * DriveLoop.rangePeriods
        let expected: Int = (2 + probe + 8 + 1) + (2 + 4 + 1)
        #expect(loop.statistics.periods == expected)
        #expect(loop.statistics.evaluationPeriods == 12)
        #expect(twin.statistics.underrunSamples == 0)
        // The same drive gives the same states up to the ring's noise (evaluation noise of
        // the default twin: 0.027 per state).
        let first = Array(twice[0..<(4 * nodes)])
        let second = Array(twice[(4 * nodes)...])
        let rms = { (a: [Double], b: [Double]) in
            (zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(a.count)).squareRoot()
        }
        let spread = (first.reduce(0) { $0 + ($1 - 0.5) * ($1 - 0.5) } / Double(first.count)).squareRoot()
        #expect(rms(first, second) < 0.06 && rms(first, again) < 0.06)
        #expect(spread > 0.1, "the drive must move the states: spread \(spread)")
    }

    @Test func aSessionRunsTheProbeAgainAfterItsInterval() throws {
        let (_, board, settings) = try loopOnTwin(configure: { $0.feedback = 0 })
        let loop = try DriveLoop(board: board, settings: settings)
        // One period is N·S/f_s = 200/200 kHz = 1 ms: a probe every 20 periods.
        loop.rangeProbeInterval = .milliseconds(20)
        let one = drive(10, nodes: settings.nodes)
        try loop.openSession()
        defer { loop.closeSession() }
        for _ in 0..<3 { _ = try evaluate(loop, one, inputs: 10, evaluations: 1) }
        // Each call streams 2 + 10 + 1 periods after its probe; 13 < 20, so the second call
        // has no probe and the third (26 periods after the first probe) has one.
        let probe = 3 * DriveLoop.rangePeriods
        let expected: Int = 3 * 13 + 2 * probe
        #expect(loop.statistics.periods == expected)
    }

    @Test func aHostGapWithinTheIdleTimeoutIsAllowedAndALongerOneMakesTheBoardSafe() throws {
        let (_, board) = try TwinFixtures.twinBoard(seed: 3, clock: MonotonicClock())
        var settings = ReservoirSettings(operatingPoint: try #require(board.wiring.operatingPoint))
        settings.feedback = 0
        // A per-period timeout that a loaded test machine cannot trip; the idle one is tested.
        let loop = try DriveLoop(board: board, settings: settings, watchdogTimeout: .milliseconds(200))
        loop.idleTimeout = .milliseconds(300)
        // Late blocks on a busy test machine are counted, not fatal: this test is about gaps.
        loop.limits.stopsOnDeadlineMiss = false
        let one = drive(5, nodes: settings.nodes)
        try loop.openSession()
        defer { loop.closeSession() }
        _ = try evaluate(loop, one, inputs: 5, evaluations: 1)
        // 30 ms of host work: past the 2 queued periods (2 ms) and the per-period watchdog
        // timeout (3 ms), within the idle timeout. The DAC ran dry, so the session starts its
        // streams again rather than misalign the ADC.
        Thread.sleep(forTimeInterval: 0.03)
        _ = try evaluate(loop, one, inputs: 5, evaluations: 1)
        #expect(loop.statistics.streamRestarts == 1)
        #expect(loop.statistics.hostIdleNanoseconds > 20_000_000)
        // A host that stops for longer than the idle timeout finds the board safe.
        Thread.sleep(forTimeInterval: 0.6)
        do {
            _ = try evaluate(loop, one, inputs: 5, evaluations: 1)
            Issue.record("the evaluation after the idle timeout ran")
        } catch let stopped as LoopStopped {
            #expect(stopped.reason == .watchdog, "\(stopped)")
        }
    }

    @Test func aDriveThatIsNotANumberNeverReachesTheDAC() throws {
        let (twin, board, settings) = try loopOnTwin(configure: { $0.feedback = 0 })
        let loop = try DriveLoop(board: board, settings: settings)
        var bad = drive(3, nodes: settings.nodes)
        bad[settings.nodes + 7] = .nan
        let before = twin.samplesSimulated
        do {
            _ = try evaluate(loop, bad, inputs: 3, evaluations: 1)
            Issue.record("a NaN drive was streamed")
        } catch let stopped as LoopStopped {
            #expect(stopped.reason == .invalidDrive(row: 1, node: 7))
        }
        #expect(twin.samplesSimulated == before, "nothing was streamed")
        #expect(loop.lastSafeState.isSafe)
    }
}
