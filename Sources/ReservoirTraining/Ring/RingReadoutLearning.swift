import Foundation
import PerturbativeTraining
import ReservoirControl

/// How the ring model's readout (the digital layer after the ring) learns.
public protocol RingReadoutLearning: AnyObject {
    /// Whether the readout is perturbed with the pre-layer (part of θ's perturbed part).
    var isPerturbed: Bool { get }
    /// Whether a step's forward passes should accumulate the readout's exact gradient.
    var wantsGradient: Bool { get }
    /// The readout's own optimizer state, if it has one (kept by checkpoints).
    var optimizer: Optimizer? { get set }
    /// Before the first step of a fresh run; returns the forward passes spent.
    func begin(model: RingModel) throws -> Int
    /// After a step: `gradient` is the sum of the step's `passes` exact gradients (when
    /// `wantsGradient`); updates `readout` in place.
    func update(
        readout: UnsafeMutableBufferPointer<Double>, gradient: UnsafeMutableBufferPointer<Double>, passes: Int,
        step: Int, totalSteps: Int) throws
}

extension RingReadoutLearning {
    public func begin(model: RingModel) throws -> Int { 0 }
}

/// A readout with no optimizer of its own: set once before the steps (a ridge fit, an offline
/// fit) or moved by the perturbation together with the pre-layer (pgt); `update` leaves it.
public protocol RingReadoutWithoutOptimizer: RingReadoutLearning {}

extension RingReadoutWithoutOptimizer {
    public var isPerturbed: Bool { false }
    public var wantsGradient: Bool { false }
    public var optimizer: Optimizer? {
        get { nil }
        set {}
    }
    public func update(
        readout: UnsafeMutableBufferPointer<Double>, gradient: UnsafeMutableBufferPointer<Double>, passes: Int,
        step: Int, totalSteps: Int
    ) throws {}
}

/// `pgt-hybrid`: the readout is digital, so each of a step's forward passes gives its exact
/// gradient at the states the ring produced; the readout's Adam (AdamW, cosine schedule) takes
/// their mean.
public final class ExactGradientReadout: RingReadoutLearning {
    public let learningRate: Double
    public let weightDecay: Double
    public var optimizer: Optimizer?

    public init(learningRate: Double, weightDecay: Double, parameterCount: Int) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        optimizer = Optimizer(kind: .adam, dimension: parameterCount)
    }

    public var isPerturbed: Bool { false }
    public var wantsGradient: Bool { true }

    public func update(
        readout: UnsafeMutableBufferPointer<Double>, gradient: UnsafeMutableBufferPointer<Double>, passes: Int,
        step: Int, totalSteps: Int
    ) throws {
        let scale = 1 / Double(passes)
        for index in gradient.indices { gradient[index] *= scale }
        let rate = Schedule.cosine.rate(base: learningRate, step: step, totalSteps: totalSteps)
        optimizer!.apply(gradient: UnsafeBufferPointer(gradient), learningRate: rate, weightDecay: weightDecay, to: readout)
    }
}

/// `pgt`: the readout is perturbed with the pre-layer; the perturbation's update moves both.
public final class PerturbedReadout: RingReadoutWithoutOptimizer {
    public init() {}
    public var isPerturbed: Bool { true }
}

/// `readout`: classic reservoir computing. The pre-layer stays frozen at the fixed mask; the
/// readout is the ridge fit to the node states of the training rows (`RingModel.fitReadoutByRidge`,
/// per class against ±1 targets, λ chosen on `validationRows` held-out rows).
public final class RidgeReadoutFit: RingReadoutWithoutOptimizer {
    public let validationRows: Int

    public init(validationRows: Int) { self.validationRows = validationRows }

    public func begin(model: RingModel) throws -> Int {
        let rows = validationRows
        return try model.fitReadoutByRidge(validation: { min(rows, $0 / 4) })
    }
}

extension RingModel {
    /// The ring model `settings.mode` names: its perturbation and readout strategies.
    /// `transferCurve`: the board's calibrated static curve (what `static-curve` trains through).
    public convenience init(
        loop: DriveLoop, task: RingTask, settings: RingSettings, transferCurve: StaticTransferCurve? = nil
    ) {
        let nodes = loop.settings.nodes
        let readoutCount = (nodes + 1) * task.outputCount
        switch settings.mode {
        case .pgtHybrid:
            let perturbation: any RingPerturbation =
                settings.resolvedPerturbation(sequence: task.isSequence) == .drive
                ? DrivePerturbation(settings: settings) : ParameterPerturbation(settings: settings, task: task)
            self.init(
                loop: loop, task: task, settings: settings, perturbation: perturbation,
                readout: ExactGradientReadout(
                    learningRate: settings.readoutLearningRate,
                    weightDecay: Self.readoutWeightDecay(settings, loop: loop, sequence: task.isSequence),
                    parameterCount: readoutCount))
        case .pgt:
            self.init(
                loop: loop, task: task, settings: settings,
                perturbation: ParameterPerturbation(settings: settings, task: task), readout: PerturbedReadout())
        case .readout:
            self.init(
                loop: loop, task: task, settings: settings, perturbation: nil,
                readout: RidgeReadoutFit(validationRows: settings.ridgeValidationRows))
        case .staticCurve:
            self.init(
                loop: loop, task: task, settings: settings, perturbation: nil,
                readout: StaticCurveFit(curve: transferCurve))
        }
    }

    /// The readout's weight decay λ: the settings', or their strategy's — drive-space's grows
    /// with the run's training device seconds (`DrivePerturbation.readoutWeightDecay`), the
    /// others take `RingSettings.baseReadoutWeightDecay`.
    public static func readoutWeightDecay(_ settings: RingSettings, loop: DriveLoop, sequence: Bool) -> Double {
        if let decay = settings.readoutWeightDecay { return decay }
        guard settings.mode == .pgtHybrid, settings.resolvedPerturbation(sequence: sequence) == .drive else {
            return RingSettings.baseReadoutWeightDecay
        }
        return DrivePerturbation.readoutWeightDecay(trainingSeconds: trainingSeconds(settings, loop: loop, sequence: sequence))
    }

    /// The pre-layer's Adam rate: the settings', or their strategy's — drive-space's falls with
    /// the run's training device seconds (`DrivePerturbation.learningRate(trainingSeconds:)`),
    /// parameter-space's and the static-curve fit's are their own constants.
    public static func preLearningRate(_ settings: RingSettings, loop: DriveLoop, sequence: Bool) -> Double {
        if let rate = settings.preLearningRate { return rate }
        switch settings.mode {
        case .pgtHybrid where settings.resolvedPerturbation(sequence: sequence) == .drive:
            return DrivePerturbation.learningRate(trainingSeconds: trainingSeconds(settings, loop: loop, sequence: sequence))
        case .staticCurve: return StaticCurveFit.learningRate
        default:
            return ParameterPerturbation.learningRate(
                perSample: ParameterPerturbation.usesPerSampleDirections(settings, sequence: sequence))
        }
    }

    /// The training inputs' noise σ_x (`RingTask.trainingBatch`): the settings', or the
    /// strategy's. Drive-space fits the training split perfectly from about 150 device seconds
    /// on, and noisy inputs regularize a long run (`DrivePerturbation.inputNoise(trainingSeconds:)`);
    /// the static-curve ceiling trains the same model and takes a long run's noise (on the
    /// validation split it gained from it too). Parameter-space and the fixed mask take none,
    /// nor do sequences, whose inputs are their signal.
    public static func inputNoise(_ settings: RingSettings, loop: DriveLoop, sequence: Bool) -> Double {
        if let noise = settings.inputNoise { return noise }
        guard !sequence else { return 0 }
        switch settings.mode {
        case .pgtHybrid where settings.resolvedPerturbation(sequence: sequence) == .drive:
            return DrivePerturbation.inputNoise(trainingSeconds: trainingSeconds(settings, loop: loop, sequence: sequence))
        case .staticCurve: return DrivePerturbation.longRunInputNoise
        default: return 0
        }
    }

    /// The device seconds the run's budget streams as training drive.
    static func trainingSeconds(_ settings: RingSettings, loop: DriveLoop, sequence: Bool) -> Double {
        settings.deviceSeconds(
            forPasses: settings.budget, delayPeriods: loop.delayPeriods, periodSeconds: loop.periodSeconds,
            sequence: sequence)
    }
}
