import Foundation
import ReservoirControl
import ReservoirHAL
import ReservoirTesting
import ReservoirTraining
import Testing

@Suite struct StaticTransferCurveTests {
    /// A curve sampled from T(V) = 0.2 + (V − 1)² on a 20 mV grid, with the drive map's clamp
    /// cutting in above 1.6 V.
    static let map = DriveMap(biasVolts: Volts(1.4), spanVolts: Volts(0.3), range: Volts(0.9)...Volts(1.6))
    static let curve = try! StaticTransferCurve(
        points: stride(from: 0.8, through: 1.9, by: 0.02).map { ($0, 0.2 + ($0 - 1) * ($0 - 1)) }, map: map)

    /// x̂ is the range probe's normalization of T(V(a)): ½ at a = 0, and the exact closed form
    /// elsewhere, to the grid's linear-interpolation error h²·T″/8 = 1e-4 over the span 0.35
    /// (3e-4).
    @Test func theStateIsTheNormalizedReadingOfTheDrive() {
        func reading(_ v: Double) -> Double { 0.2 + (v - 1) * (v - 1) }
        let span = reading(1.6) - reading(1.1)  // V_bias + V_span clamps to 1.6
        #expect(abs(Self.curve.state(0).value - 0.5) < 1e-12)
        for a in [-1.5, -0.4, 0.2, 0.7] {
            let v = min(1.4 + 0.3 * tanh(a), 1.6)
            let expected = 0.5 + (reading(v) - reading(1.4)) / span
            #expect(abs(Self.curve.state(a).value - expected) < 3e-4, "a = \(a)")
        }
    }

    /// dx̂/da against the closed form T′(V)·V_span·(1 − tanh² a)/(T(1.6) − T(1.1)), T′ = 2(V − 1)
    /// (a central difference of the interpolated quadratic is exact), where the map does not
    /// clamp, and 0 where it does.
    @Test func theDerivativeIsTheClosedForm() {
        for a in [-1.2, -0.5, -0.1, 0.3] {
            let t = tanh(a)
            let v = 1.4 + 0.3 * t
            let expected = 2 * (v - 1) * 0.3 * (1 - t * t) / 0.35
            let derivative = Self.curve.state(a).derivative
            #expect(abs(derivative - expected) < 1e-3 * abs(expected), "a = \(a): \(derivative) against \(expected)")
        }
        // tanh(1.5)·0.3 + 1.4 > 1.6: clamped, the drive no longer moves the reading.
        #expect(Self.curve.state(1.5).derivative == 0)
    }

    @Test func aFlatOrDegenerateCurveIsRefused() {
        #expect(throws: RingTaskError.self) { try StaticTransferCurve(points: [(1.0, 0.5)], map: Self.map) }
        #expect(throws: RingTaskError.self) {
            try StaticTransferCurve(points: [(0.5, 0.3), (2.0, 0.3)], map: Self.map)
        }
    }

    /// Offline training takes longer than the loop lets an open session idle (shortened here to
    /// 5 ms): the fit closes the session first (the board safe), so the run completes instead
    /// of being stopped by the watchdog, and the network it streams afterwards has learnt.
    @Test func staticCurveTrainingOutlastsTheIdleTimeout() throws {
        var settings = RingSettings()
        settings.task = "moons"
        settings.mode = .staticCurve
        let (_, board) = try TwinFixtures.twinBoard(seed: 1)
        let point = try #require(board.wiring.operatingPoint)
        var loopSettings = ReservoirSettings(operatingPoint: point)
        loopSettings.feedback = 0
        let loop = try DriveLoop(board: board, settings: loopSettings)
        loop.idleTimeout = .milliseconds(5)
        // A smooth increasing curve across the drive range: the gradient's sign is right.
        let curve = try StaticTransferCurve(
            points: stride(from: 0.0, through: 2.5, by: 0.02).map {
                ($0, 0.1 + 0.8 / (1 + exp(-($0 - point.biasVolts.value) / 0.2)))
            }, map: loop.driveMap)
        let model = RingModel(loop: loop, task: RingModelTests.moons, settings: settings, transferCurve: curve)
        let summary = try TrainingRun(model: model, plan: settings.plan).run()
        let accuracy = try #require(summary.test_accuracy)
        #expect(accuracy > 0.8, "moons trained through a static curve, streamed through the twin: \(accuracy)")
        #expect(summary.device_seconds_training ?? 1 < 0.01, "no device time in training")
    }
}
