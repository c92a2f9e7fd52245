import ReservoirBenchmarks
import ReservoirControl
import ReservoirHAL
import SeededRandom

/// The noise a PGT loss inherits from the device: the same input sequence is run through the
/// drive loop `repeats` times at the operating point, and the spread of each node state across
/// the repeats is measured (`PerturbativeTraining.calibrateSigma` then sets σ from the loss's
/// noise). Reported as the RMS over states of their standard deviation across repeats, in the
/// loop's normalized state units, beside the RMS spread of the states themselves (the signal).
public struct EvaluationNoise {
    /// Evaluations of the same input.
    public var repeats = 4
    /// Inputs per evaluation (uniform in [−1, 1] from a fixed seed).
    public var inputs = 200

    public init() {}

    public struct Result: Sendable {
        /// RMS over states of their standard deviation across repeats.
        public var noise: Estimate
        /// RMS spread of the states over the inputs (what the noise compares with).
        public var signal: Double
    }

    /// Runs at `operatingPoint` on `board` (the loop enables the ring and leaves it safe).
    public func run(board: Board, operatingPoint: BoardDescription.OperatingPoint) throws -> Result {
        var random = Xoshiro256StarStar(seed: 17, stream: 1_700)
        let sequence = (0..<inputs).map { _ in 2 * random.nextUnitInterval() - 1 }
        let loop = try DriveLoop(board: board, settings: ReservoirSettings(operatingPoint: operatingPoint))
        let experiment = ReservoirExperiment(loop: loop, inputScale: ReservoirExperiment.defaultInputScale, seed: 17)
        var runs: [[Double]] = []
        for _ in 0..<repeats {
            runs.append(try experiment.states(inputs: sequence, centre: 0, halfRange: 1))
        }
        let count = runs[0].count
        var variance = 0.0
        var spread = 0.0
        let grand = runs[0].reduce(0, +) / Double(count)
        for index in 0..<count {
            let values = runs.map { $0[index] }
            let mean = values.reduce(0, +) / Double(repeats)
            variance += values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(repeats - 1)
            spread += (runs[0][index] - grand) * (runs[0][index] - grand)
        }
        let noise = (variance / Double(count)).squareRoot()
        // The RMS of a standard deviation from r repeats has relative error ≈ 1/√(2·count·(r − 1)).
        return Result(
            noise: Estimate(noise, uncertainty: noise / Double(2 * count * (repeats - 1)).squareRoot(), unit: "1"),
            signal: (spread / Double(count)).squareRoot())
    }
}
