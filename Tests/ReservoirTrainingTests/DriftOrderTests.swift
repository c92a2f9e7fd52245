import Foundation
import PerturbativeTraining
import ReservoirControl
import ReservoirHAL
import ReservoirTesting
import ReservoirTwin
import SeededRandom
import Testing

/// The +,−,−,+ order on a twin whose loop gain drifts strongly and linearly: the bias a drift
/// puts into a two-sided difference cancels over pairs of pairs in that order, and does not in
/// the naive +,−,+,− one.
@Suite struct DriftOrderTests {
    static let nodes = 50
    static let inputs = 16
    static let sigma = 0.05
    static let pairs = 30

    /// Mean of c = [L(θ + σz) − L(θ − σz)]/(2σ) over `pairs` repetitions of one direction z,
    /// L = the mean node state of a fixed batch of 16 inputs whose drive θ ± σz offsets. With
    /// `alternating`, the pairs are a `PerturbativeTrainer`'s own (K = 1, Rademacher, rate 0 so
    /// θ stays put): it orders them (+, −) and (−, +) in turn and forms c itself. Without, each
    /// pair is (+, −): the naive order, for comparison.
    /// Returns the mean of c and the mean of |c| (the scale the bias is compared with).
    static func meanDifference(drifting: Bool, alternating: Bool) throws -> (mean: Double, scale: Double) {
        var parameters = try TwinFixtures.defaultParameters()
        parameters.driftStd = 0
        let twin = RingTwin(parameters: parameters, seed: 7)
        if drifting {
            // δ climbs by 3·10⁻⁵ every millisecond (one period): +3.5 % of gain over the test.
            for k in 0..<1_200 { twin.inject(.gainJump(size: 3e-5), at: .milliseconds(k)) }
        }
        let board = try twin.makeBoard(wiring: TwinFixtures.twinWiring())
        var settings = ReservoirSettings(operatingPoint: try #require(board.wiring.operatingPoint))
        settings.feedback = 0
        let loop = try DriveLoop(board: board, settings: settings)
        var random = Xoshiro256StarStar(seed: 3, stream: 1)
        let base = (0..<(inputs * nodes)).map { _ in 0.8 * (2 * random.nextUnitInterval() - 1) }
        var states = [Double](repeating: 0, count: inputs * nodes)
        /// L at the per-node offsets `offset` (θ ± σz).
        func loss(_ offset: UnsafeBufferPointer<Double>) throws -> Double {
            let drive = base.enumerated().map { $0.element + offset[$0.offset % nodes] }
            try drive.withUnsafeBufferPointer { d throws(LoopStopped) in
                try states.withUnsafeMutableBufferPointer { s throws(LoopStopped) in
                    try loop.evaluate(drive: d, inputCount: inputs, evaluationCount: 1, states: s)
                }
            }
            return states.reduce(0, +) / Double(states.count)
        }
        try loop.openSession()
        defer { loop.closeSession() }
        var configuration = PerturbativeConfiguration()
        configuration.directionKind = .rademacher
        configuration.directionCount = 1
        configuration.sigma = sigma
        configuration.learningRate = 0
        configuration.seed = 5
        let trainer = PerturbativeTrainer(
            configuration: configuration, parameters: [Double](repeating: 0, count: nodes), totalSteps: 2 * pairs)
        var total = 0.0
        var totalMagnitude = 0.0
        for pair in 0..<pairs {
            let c: Double
            if alternating {
                // The trainer's order, directions and c.
                let record = try trainer.step { (vectors, values) throws in
                    for row in values.indices {
                        values[row] = try loss(UnsafeBufferPointer(rebasing: vectors[(row * nodes)..<((row + 1) * nodes)]))
                    }
                }
                c = record.differences[0]
            } else {
                var z = [Double](repeating: 0, count: nodes)
                z.withUnsafeMutableBufferPointer {
                    // The direction the trainer draws at this step: only the order differs.
                    DirectionGenerator(kind: .rademacher, seed: 5).fill(step: pair, count: 1, dimension: nodes, into: $0)
                }
                let plus = try z.map { sigma * $0 }.withUnsafeBufferPointer { try loss($0) }
                let minus = try z.map { -sigma * $0 }.withUnsafeBufferPointer { try loss($0) }
                c = (plus - minus) / (2 * sigma)
            }
            total += c
            totalMagnitude += abs(c)
        }
        return (total / Double(pairs), totalMagnitude / Double(pairs))
    }

    @Test func theOrderedEstimateCarriesLessDriftBiasThanTheNaiveOne() throws {
        // Common random numbers: the same twin seed with and without the drift, so the
        // difference of the means is what the drift did.
        let naiveBias =
            try Self.meanDifference(drifting: true, alternating: false).mean
            - Self.meanDifference(drifting: false, alternating: false).mean
        let orderedBias =
            try Self.meanDifference(drifting: true, alternating: true).mean
            - Self.meanDifference(drifting: false, alternating: true).mean
        let reference = try Self.meanDifference(drifting: false, alternating: true).scale
        print("drift bias of c: naive \(naiveBias), ordered \(orderedBias); mean |c| without drift \(reference)")
        #expect(abs(naiveBias) > 0.02 * reference, "the drift must matter: \(naiveBias) against \(reference)")
        #expect(abs(orderedBias) < 0.25 * abs(naiveBias), "ordered \(orderedBias), naive \(naiveBias)")
    }

    /// The estimator hands a K = 1 step's vectors over as (+, −) on even steps and (−, +) on odd
    /// ones: the order measured above is the one training uses.
    @Test func trainingUsesTheAlternatingOrder() {
        let trainer = PerturbativeTrainer(
            configuration: {
                var configuration = PerturbativeConfiguration()
                configuration.directionKind = .rademacher
                configuration.directionCount = 1
                configuration.learningRate = 0
                return configuration
            }(), parameters: [0, 0, 0], totalSteps: 4)
        var firstIsPlus: [Bool] = []
        for _ in 0..<4 {
            let step = trainer.step
            var z = [0.0, 0, 0]
            z.withUnsafeMutableBufferPointer {
                DirectionGenerator(kind: .rademacher, seed: 1).fill(step: step, count: 1, dimension: 3, into: $0)
            }
            _ = trainer.step { vectors, values in
                firstIsPlus.append(vectors[0] * z[0] > 0)
                for index in values.indices { values[index] = 0 }
            }
        }
        #expect(firstIsPlus == [true, false, true, false])
    }
}
