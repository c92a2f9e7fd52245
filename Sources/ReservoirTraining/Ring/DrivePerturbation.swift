import Foundation
import NeuralNet
import PerturbativeTraining

/// Drive-space perturbation (node perturbation; issue 14): the ring only sees the N drives the
/// pre-layer produces, so the perturbation lives there rather than on the pre-layer's
/// parameters. For sample s with drive a_s = pre(x_s) and a direction z_s ∈ {±1}^N,
///
///     c_s = [L_s(a_s + σz_s) − L_s(a_s − σz_s)] / 2σ,    ĝ_s = c_s·z_s ≈ ∂L_s/∂a_s
///
/// (unbiased to O(σ²) for a smooth L: E[z zᵀ] = I), and the pre-layer's gradient follows by the
/// exact chain rule, ∂L/∂θ = (1/B) Σ_s J_pre(x_s)ᵀ ĝ_s (`DenseNetwork.gradient`). The ring is
/// only ever evaluated. The ± drives of a batch stream back to back as two evaluations, the +
/// pass first on even steps and last on odd ones (+,−,−,+: a linear drift cancels). The
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
    private var step = 0
    private var preGradient: [Double] = []
    private var driveGradient: [Double] = []
    private var directions: [Double] = []
    private var losses: [Double] = []

    /// σ in drive units when the settings leave it open: the value the prototype chose
    /// on a validation split (0.4). Not yet calibrated on the board from the loss noise.
    public static let defaultSigma = 0.4

    public init(settings: RingSettings) {
        self.settings = settings
        sigma = settings.sigma ?? Self.defaultSigma
        optimizer = Optimizer(kind: .adam, dimension: 0)
    }

    public var passesPerStep: Int { 2 }

    public func attach(to model: RingModel) {
        if optimizer.firstMoment.count != model.preCount { optimizer = Optimizer(kind: .adam, dimension: model.preCount) }
        preGradient = [Double](repeating: 0, count: model.preCount)
    }

    public func begin(model: RingModel, progress: (TrainingProgress) -> Void) throws -> Int { 0 }

    public func step(model: RingModel, rows: StreamRows, readoutGradient: UnsafeMutableBufferPointer<Double>?) throws
        -> StepRecord
    {
        guard !model.task.isSequence, rows.scored == 0..<rows.count else {
            throw RingTaskError(description: "drive-space perturbation needs independent samples (not a sequence task)")
        }
        let count = rows.count
        let nodes = model.loop.settings.nodes
        if directions.count < count * nodes {
            directions = [Double](repeating: 0, count: count * nodes)
            driveGradient = [Double](repeating: 0, count: count * nodes)
            losses = [Double](repeating: 0, count: 2 * count)
        }
        directions.withUnsafeMutableBufferPointer { z in
            DirectionGenerator(kind: .rademacher, seed: settings.seed &+ 0xD21E)
                .fill(step: step, count: count, dimension: nodes, into: z)
        }
        let plusFirst = step % 2 == 0
        try directions.withUnsafeBufferPointer { z in
            try losses.withUnsafeMutableBufferPointer { values in
                try model.evaluateDrivePairs(
                    directions: z, signedSigma: plusFirst ? sigma : -sigma, rows: rows,
                    values: UnsafeMutableBufferPointer(rebasing: values[0..<(2 * count)]),
                    readoutGradient: readoutGradient)
            }
        }
        let (differences, total) = Self.estimate(
            losses: losses, plusFirst: plusFirst, directions: directions, sigma: sigma, count: count, nodes: nodes,
            into: &driveGradient)
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
            base: settings.preLearningRate, step: step, totalSteps: settings.budget / passesPerStep)
        preGradient.withUnsafeBufferPointer { g in
            model.theta.withUnsafeMutableBufferPointer { theta in
                optimizer.apply(
                    gradient: g, learningRate: rate, to: UnsafeMutableBufferPointer(rebasing: theta[0..<preCount]))
            }
        }
        let record = StepRecord(
            step: step, differences: differences, loss: total / Double(2 * count), gradientNorm: norm,
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
