import Foundation
import NeuralNet
import PerturbativeTraining

/// Drive-space perturbation (node perturbation; issue 14): the ring only sees the N drives the
/// pre-layer produces, so the perturbation lives there rather than on the pre-layer's
/// parameters. For sample s with drive a_s = pre(x_s) and a direction z_s (Rademacher ±1 by
/// default; Gaussian, or orthogonal within the batch: `RingSettings.driveDirectionKind`),
///
///     c_s = [L_s(a_s + σz_s) − L_s(a_s − σz_s)] / 2σ,    ĝ_s = c_s·z_s ≈ ∂L_s/∂a_s
///
/// (unbiased to O(σ²) for a smooth L: E[z zᵀ] = I), and the pre-layer's gradient follows by the
/// exact chain rule, ∂L/∂θ = (1/B) Σ_s J_pre(x_s)ᵀ ĝ_s (`DenseNetwork.gradient`). The ring is
/// only ever evaluated. The ± drives of a batch stream back to back as two evaluations, the +
/// pass first on even pairs and last on odd ones (+,−,−,+: a linear drift cancels); with K
/// pairs per sample (`driveDirections`) their estimates are averaged. The
/// readout learns from the same passes (its exact gradient). The drive map is tanh then a
/// clamp to the board's range: a drive far out saturates rather than leaving the range, and
/// the estimate then measures the saturated loss (a bias only where V_bias ± V_span exceeds the
/// range, which calibration avoids).
///
/// Independent samples only (with feedback a drive moves later rows' states), and a readout
/// that is not itself perturbed.
public final class DrivePerturbation: RingPerturbation {
    public let settings: RingSettings
    public private(set) var sigma: Double
    private var optimizer: Optimizer
    /// The pre-layer's base rate (`RingModel.preLearningRate`), set when attached to a model.
    private var learningRate = 0.0
    private var step = 0
    private var preGradient: [Double] = []
    private var driveGradient: [Double] = []
    private var pairGradient: [Double] = []
    private var directions: [Double] = []
    private var losses: [Double] = []

    /// σ calibration in drive space: the pilot σ₀ (drive units), the unperturbed ± pairs that
    /// measure the per-sample loss noise, and the pilot pairs that measure the slope.
    public static let sigmaPilot = 0.1
    public static let sigmaRepeatPairs = 2
    public static let sigmaPilotPairs = 2
    /// The typical per-sample |L_s(a+σz) − L_s(a−σz)| σ is set to, in per-sample loss-noise
    /// standard deviations, and the pre-layer's Adam rate: chosen on the validation split
    /// (docs/pgt.md, "Tuning": multiples 4–13 within a sample of each other, 40 worse; 0.003
    /// ahead of 0.01 at 300 s). On the default twin σ comes out near 0.2 drive units.
    public static let sigmaMultiple = 7.0

    /// The width of the hidden tanh layer drive-space trains through by default. On the
    /// validation split, seeds 1–6 (docs/pgt.md, "A hidden layer for drive-space"), 256 was
    /// ahead of none at 100, 300 and 1,000 device seconds, and of 128 at 1,000 s.
    public static let preHidden = 256

    /// σ_x of the noise on the training inputs (standardized features; `RingTask.trainingBatch`)
    /// of a long run, and of the static-curve ceiling.
    public static let longRunInputNoise = 0.3

    /// σ_x of the noise on the training inputs for a run of `trainingSeconds` of training drive:
    ///
    ///     σ_x = 0.3 · clamp(log(T / 300 s) / log(1000 / 300), 0, 1)
    ///
    /// none up to 300 s, 0.3 from 1,000 s on, log-linear between. Noise regularizes a model
    /// that fits its training split perfectly, which drive-space does from about 150 s on, but
    /// it slows the fit: on the validation split (docs/pgt.md, "Noisy inputs") 0.3 was ahead of
    /// none at 1,000 s over seeds 1–12 and behind at 100 and 300 s over seeds 1–6.
    public static func inputNoise(trainingSeconds: Double) -> Double {
        let position = min(max(log(trainingSeconds / 300) / log(1000.0 / 300), 0), 1)
        return longRunInputNoise * position
    }

    /// The pre-layer's Adam rate for a run of `trainingSeconds` of training drive:
    ///
    ///     lr = 0.003 − 0.001 · clamp(log(T / 100 s) / log 3, 0, 1)
    ///
    /// 0.003 up to 100 s, 0.002 from 300 s on, log-linear between: the rates the validation
    /// split chose at 100, 300 and 1,000 s (docs/pgt.md, "A hidden layer for drive-space"). A
    /// longer run takes more steps on the same samples; a smaller step fits them less closely.
    public static func learningRate(trainingSeconds: Double) -> Double {
        let position = min(max(log(trainingSeconds / 100) / log(3), 0), 1)
        return 0.003 - 0.001 * position
    }

    /// The readout's weight decay for a run of `trainingSeconds` of training drive:
    ///
    ///     λ = 0.1 · max(1, √(T / 100 s))
    ///
    /// (0.1 up to 100 s, 0.17 at 300 s, 0.32 at 1,000 s). The longer a run, the more often the
    /// readout meets each training sample and the further it fits them; on the validation
    /// split, seeds 1–6, the best λ grew with the budget (docs/pgt.md, "Tuning": 0.1 ahead at
    /// 100 s, 0.2–0.3 at 300 s and at 1,000 s).
    public static func readoutWeightDecay(trainingSeconds: Double) -> Double {
        RingSettings.baseReadoutWeightDecay * max(1, (trainingSeconds / 100).squareRoot())
    }

    public init(settings: RingSettings) {
        self.settings = settings
        sigma = settings.sigma ?? Self.sigmaPilot
        optimizer = Optimizer(kind: .adam, dimension: 0)
    }

    public var kind: RingSettings.Perturbation { .drive }
    public var passesPerStep: Int { 2 * settings.driveDirections }

    public func attach(to model: RingModel) {
        if optimizer.firstMoment.count != model.preCount { optimizer = Optimizer(kind: .adam, dimension: model.preCount) }
        preGradient = [Double](repeating: 0, count: model.preCount)
        learningRate = RingModel.preLearningRate(settings, loop: model.loop, sequence: false)
    }

    /// Sets σ from the loss noise measured on the board, as parameter-space PGT does but per
    /// sample: the batch's drives streamed unperturbed 2·`sigmaRepeatPairs` times give each
    /// sample's loss noise (s_L, pooled over the batch), `sigmaPilotPairs` pilot pairs at σ₀
    /// the mean |L_s(a+σ₀z) − L_s(a−σ₀z)| (D₀); σ = multiple·s_L·σ₀/D₀, within a decade of
    /// σ₀. The passes count against the budget.
    public func begin(model: RingModel, progress: (TrainingProgress) -> Void) throws -> Int {
        guard settings.sigma == nil else { return 0 }
        let rows = model.task.trainingBatch(
            step: -1, batch: settings.batch, washout: settings.washout, seed: settings.seed, inputNoise: model.inputNoise)
        let count = rows.count
        let nodes = model.loop.settings.nodes
        var values = [Double](repeating: 0, count: 2 * count)
        func pair(_ z: [Double], _ signedSigma: Double) throws {
            try z.withUnsafeBufferPointer { z in
                try values.withUnsafeMutableBufferPointer { v in
                    try model.evaluateDrivePairs(
                        directions: z, signedSigma: signedSigma, rows: rows, values: v, readoutGradient: nil)
                }
            }
        }
        var repeated = [[Double]](repeating: [], count: count)
        for _ in 0..<Self.sigmaRepeatPairs {
            try pair([Double](repeating: 0, count: count * nodes), 0)
            for sample in 0..<count { repeated[sample] += [values[sample], values[count + sample]] }
        }
        let variance = repeated.reduce(0.0) { total, losses in
            let mean = losses.reduce(0, +) / Double(losses.count)
            return total + losses.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(losses.count - 1)
        }
        let noise = (variance / Double(count)).squareRoot()
        var difference = 0.0
        var z = [Double](repeating: 0, count: count * nodes)
        for pilot in 0..<Self.sigmaPilotPairs {
            z.withUnsafeMutableBufferPointer { z in
                DirectionGenerator(kind: .rademacher, seed: settings.seed &+ 0x5151)
                    .fill(step: pilot, count: count, dimension: nodes, into: z)
            }
            try pair(z, Self.sigmaPilot)
            for sample in 0..<count { difference += abs(values[sample] - values[count + sample]) }
        }
        let meanDifference = difference / Double(Self.sigmaPilotPairs * count)
        let measured = calibratedSigma(
            noiseStandardDeviation: noise, pilotSigma: Self.sigmaPilot, meanPilotDifference: meanDifference,
            multiple: settings.sigmaMultiple ?? Self.sigmaMultiple)
        sigma = measured.isFinite ? min(max(measured, Self.sigmaPilot / 10), Self.sigmaPilot * 10) : Self.sigmaPilot
        progress(.calibrated(sigma: sigma, noise: noise, meanDifference: meanDifference, pilot: Self.sigmaPilot))
        return 2 * (Self.sigmaRepeatPairs + Self.sigmaPilotPairs)
    }

    public func step(model: RingModel, rows: StreamRows, readoutGradient: UnsafeMutableBufferPointer<Double>?) throws
        -> StepRecord
    {
        guard !model.task.isSequence, rows.scored == 0..<rows.count else {
            throw RingTaskError(description: "drive-space perturbation needs independent samples (not a sequence task)")
        }
        let count = rows.count
        let nodes = model.loop.settings.nodes
        guard settings.driveDirectionKind != .orthogonal || count <= nodes else {
            throw RingTaskError(
                description: "orthogonal drive directions: a batch of \(count) exceeds the \(nodes) drive dimensions")
        }
        if directions.count < count * nodes {
            directions = [Double](repeating: 0, count: count * nodes)
            driveGradient = [Double](repeating: 0, count: count * nodes)
            pairGradient = [Double](repeating: 0, count: count * nodes)
            losses = [Double](repeating: 0, count: 2 * count)
        }
        for index in 0..<(count * nodes) { driveGradient[index] = 0 }
        var differences: [Double] = []
        var total = 0.0
        // K pairs, each with its own directions; pair p of the run goes + first when p is even.
        let pairs = settings.driveDirections
        let generator = DirectionGenerator(kind: settings.driveDirectionKind.kind, seed: settings.seed &+ 0xD21E)
        for k in 0..<pairs {
            let pair = step * pairs + k
            directions.withUnsafeMutableBufferPointer { z in
                generator.fill(step: pair, count: count, dimension: nodes, into: z)
            }
            let plusFirst = pair % 2 == 0
            try directions.withUnsafeBufferPointer { z in
                try losses.withUnsafeMutableBufferPointer { values in
                    try model.evaluateDrivePairs(
                        directions: z, signedSigma: plusFirst ? sigma : -sigma, rows: rows,
                        values: UnsafeMutableBufferPointer(rebasing: values[0..<(2 * count)]),
                        readoutGradient: readoutGradient)
                }
            }
            let (pairDifferences, pairTotal) = Self.estimate(
                losses: losses, plusFirst: plusFirst, directions: directions, sigma: sigma, count: count, nodes: nodes,
                into: &pairGradient)
            for index in 0..<(count * nodes) { driveGradient[index] += pairGradient[index] / Double(pairs) }
            differences += pairDifferences
            total += pairTotal
        }
        let preCount = model.preCount
        model.theta.withUnsafeMutableBufferPointer { theta in
            rows.inputs.withUnsafeBufferPointer { x in
                driveGradient.withUnsafeBufferPointer { g in
                    preGradient.withUnsafeMutableBufferPointer { gradient in
                        model.withPreLayer { network, workspace in
                            network.gradient(
                                parameters: UnsafeBufferPointer(rebasing: theta[0..<preCount]), inputs: x, count: count,
                                outputGradient: UnsafeBufferPointer(rebasing: g[0..<(count * nodes)]),
                                workspace: workspace, gradient: gradient)
                        }
                    }
                }
            }
        }
        let norm = preGradient.withUnsafeMutableBufferPointer { clipGradient($0, maximumNorm: nil) }
        let rate = Schedule.cosine.rate(
            base: learningRate, step: step, totalSteps: settings.budget / passesPerStep)
        preGradient.withUnsafeBufferPointer { g in
            model.theta.withUnsafeMutableBufferPointer { theta in
                optimizer.apply(
                    gradient: g, learningRate: rate, to: UnsafeMutableBufferPointer(rebasing: theta[0..<preCount]))
            }
        }
        let record = StepRecord(
            step: step, differences: differences, loss: total / Double(2 * pairs * count), gradientNorm: norm,
            learningRate: rate, accepted: true)
        step += 1
        return record
    }

    /// The drive-space estimate from a pair of passes: `losses` holds the B first-pass then the
    /// B second-pass per-sample losses (the first is + when `plusFirst`); writes
    /// ĝ_s/B = c_s·z_s/B (count × `nodes`, the batch mean's gradient over each sample's drives)
    /// into `gradient` and returns the c_s and the sum of all 2B losses.
    public static func estimate(
        losses: [Double], plusFirst: Bool, directions: [Double], sigma: Double, count: Int, nodes: Int,
        into gradient: inout [Double]
    ) -> (differences: [Double], lossSum: Double) {
        var differences: [Double] = []
        differences.reserveCapacity(count)
        var total = 0.0
        for sample in 0..<count {
            let first = losses[sample]
            let second = losses[count + sample]
            let (plus, minus) = plusFirst ? (first, second) : (second, first)
            let c = (plus - minus) / (2 * sigma)
            differences.append(c)
            total += plus + minus
            for node in 0..<nodes {
                gradient[sample * nodes + node] = c * directions[sample * nodes + node] / Double(count)
            }
        }
        return (differences, total)
    }

    public var state: PerturbationState {
        PerturbationState(optimizer: optimizer, step: step, sigma: sigma)
    }

    public func restore(_ state: PerturbationState, model: RingModel) {
        sigma = state.sigma
        optimizer = state.optimizer
        step = state.step
        preGradient = [Double](repeating: 0, count: model.preCount)
    }
}
