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
    /// each pair (+, −) when `alternating` is off, else (+, −) and (−, +) in turn as the
    /// estimator orders K = 1 steps. L = the mean node state of a fixed batch of 16 inputs.
    static func meanDifference(drifting: Bool, alternating: Bool) throws -> Double {
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
        let z = (0..<nodes).map { _ in random.next() >> 63 == 1 ? 1.0 : -1.0 }
        var states = [Double](repeating: 0, count: inputs * nodes)
        func loss(sign: Double) throws -> Double {
            let drive = base.enumerated().map { $0.element + sign * sigma * z[$0.offset % nodes] }
            try drive.withUnsafeBufferPointer { d throws(LoopStopped) in
                try states.withUnsafeMutableBufferPointer { s throws(LoopStopped) in
                    try loop.evaluate(drive: d, inputCount: inputs, evaluationCount: 1, states: s)
                }
            }
            return states.reduce(0, +) / Double(states.count)
        }
        try loop.openSession()
        defer { loop.closeSession() }
        var total = 0.0
        for pair in 0..<pairs {
            let plusFirst = !alternating || pair % 2 == 0
            let first = try loss(sign: plusFirst ? 1 : -1)
            let second = try loss(sign: plusFirst ? -1 : 1)
            let (plus, minus) = plusFirst ? (first, second) : (second, first)
            total += (plus - minus) / (2 * sigma)
        }
        return total / Double(pairs)
    }

    @Test func theOrderedEstimateCarriesLessDriftBiasThanTheNaiveOne() throws {
        // Common random numbers: the same twin seed with and without the drift, so the
        // difference of the means is what the drift did.
        let naiveBias =
            try Self.meanDifference(drifting: true, alternating: false)
            - Self.meanDifference(drifting: false, alternating: false)
        let orderedBias =
            try Self.meanDifference(drifting: true, alternating: true)
            - Self.meanDifference(drifting: false, alternating: true)
        let reference = try Self.meanDifference(drifting: false, alternating: true)
        print("drift bias of c: naive \(naiveBias), ordered \(orderedBias); c without drift \(reference)")
        #expect(abs(naiveBias) > 0.02 * abs(reference), "the drift must matter: \(naiveBias) against \(reference)")
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
