import Foundation
import PerturbativeTraining

/// How the ring model is trained (`ringlab train ring`; saved in the run's config.json).
public struct RingSettings: Sendable, Codable, Equatable {
    /// How the readout learns and whether the pre-layer does (`RingReadoutLearning`).
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// Pre-layer and readout both by PGT.
        case pgt
        /// Pre-layer by PGT, readout by its exact gradient from the same forward passes.
        case pgtHybrid = "pgt-hybrid"
        /// The pre-layer frozen at the fixed random mask, ridge readouts (classic reservoir
        /// computing).
        case readout
        /// Pre-layer and readout trained offline by backprop through the board's calibrated
        /// static transfer curve, then streamed through the ring (the ceiling; `StaticCurveFit`).
        case staticCurve = "static-curve"
    }

    /// Where the pre-layer's perturbation lives (`RingPerturbation`).
    public enum Perturbation: String, Sendable, Codable, CaseIterable {
        /// θ of the pre-layer (`ParameterPerturbation`).
        case parameters
        /// The N drives the pre-layer produces, the chain rule upstream (`DrivePerturbation`).
        case drive
    }

    /// How drive-space directions are drawn (`--direction-kind`).
    public enum DriveDirectionKind: String, Sendable, Codable, CaseIterable {
        case rademacher, gaussian
        /// The B directions of a pass mutually orthogonal (B ≤ N), each of norm √N.
        case orthogonal

        public var kind: DirectionKind {
            switch self {
            case .rademacher: return .rademacher
            case .gaussian: return .gaussian
            case .orthogonal: return .orthogonal
            }
        }
    }

    public var task = "digits"
    public var mode = Mode.pgtHybrid
    /// nil: `defaultPerturbation(sequence:)` for the task.
    public var perturbation: Perturbation?
    /// Forward passes to spend (each streams one mini-batch through the ring). 10,000 takes
    /// sine-square to 1.000 / 0.998 / 1.000 for seeds 1–3 (docs/results.md; 2,000 leaves seed 3
    /// at 0.975, too near the 0.97 target).
    public var budget = 10_000
    /// Drive-space directions per sample and step (K ± pairs, their estimates averaged).
    public var driveDirections = 1
    public var driveDirectionKind = DriveDirectionKind.rademacher
    /// A budget in training device seconds instead of passes (`--device-seconds`): the job sets
    /// `budget` from it once the board's period is known (`passes(forDeviceSeconds:…)`).
    public var deviceSeconds: Double?
    /// Samples per mini-batch, or scored rows of a sequence window.
    public var batch = 32
    /// Unscored rows streamed before a sequence window (the feedback's memory fills up).
    public var washout = 16
    /// Rate of the pre-layer's Adam; nil: the strategy's own (`DrivePerturbation.learningRate`,
    /// `ParameterPerturbation.learningRate(perSample:)`, `StaticCurveFit.learningRate`).
    public var preLearningRate: Double?
    /// Rate of the readout's Adam (pgt-hybrid).
    public var readoutLearningRate = 0.01
    /// Decoupled weight decay λ of the readout's Adam (AdamW); nil: the strategy's
    /// (`RingModel.readoutWeightDecay`). Without it the readout fits the training split
    /// perfectly and the test accuracy falls back (docs/pgt.md: digits, 50,000 passes,
    /// N = 100: 0.954 without, 0.972 at λ = 0.1, 0.965 at 0.5).
    public var readoutWeightDecay: Double?
    /// λ of the readout unless a strategy says otherwise.
    public static let baseReadoutWeightDecay = 0.1
    /// σ of the perturbations, in drive units per parameter; nil: calibrated on the board at
    /// the start of the run from the loss noise it measures there.
    public var sigma: Double?
    /// σ calibration's target: the typical |L(θ+σz) − L(θ−σz)| as a multiple of the loss
    /// noise (nil: the strategy's own, `ParameterPerturbation.sigmaMultiple(perSample:)` or
    /// `DrivePerturbation.sigmaMultiple`).
    public var sigmaMultiple: Double?
    /// Start a regression readout from the ridge fit of the fixed mask's states (the classic
    /// reservoir's solution).
    public var warmStartReadout = true
    /// Width of a hidden Dense + tanh layer before the one that drives the nodes; 0: none; nil:
    /// the strategy's (`resolvedPreHidden(sequence:)`).
    public var preHidden: Int?
    /// σ_x of Gaussian noise added to every standardized feature of a training sample
    /// (`RingTask.trainingBatch`); nil: the strategy's (`RingModel.inputNoise`).
    public var inputNoise: Double?
    /// Give every sample of a batch its own direction (independent samples, one pre-layer only;
    /// docs/pgt.md).
    public var perSampleDirections = true
    /// γ, the drive scale of the initial mask.
    public var inputScale = 0.8
    public var seed: UInt64 = 1
    /// Virtual nodes N.
    public var nodes = 50
    /// Feedback η of the loop (0 for independent samples).
    public var feedback = 0.0
    /// Repeats R of every evaluation, averaged.
    public var shots = 1
    /// The board file the run used.
    public var board = "hardware/boards/twin.yaml"
    /// A twin board's hidden parameters drawn from this seed (`--randomize`; another device,
    /// with its own calibration), nil: the board's own.
    public var randomizedTwin: UInt64?
    /// Evaluations on the test split over the run (each also a checkpoint).
    public var evaluations = 10
    /// Training rows a ridge readout holds out to choose λ (readout mode).
    public var ridgeValidationRows = 200
    /// Evaluate on a validation split carved from the training split, not on the test split
    /// (`--validation`; how defaults are tuned, docs/pgt.md).
    public var validation = false

    public init() {}

    /// Drive-space for independent samples: on the validation split it beat parameter-space at
    /// every device time tried (docs/pgt.md, "Tuning"). Parameters for sequences, where a drive
    /// moves later rows' states and drive-space does not apply.
    public static func defaultPerturbation(sequence: Bool) -> Perturbation { sequence ? .parameters : .drive }

    /// The perturbation a pgt-hybrid run uses: the settings', or the task's default.
    public func resolvedPerturbation(sequence: Bool) -> Perturbation {
        perturbation ?? Self.defaultPerturbation(sequence: sequence)
    }

    /// The hidden layer's width, nil for none: the settings', or the strategy's. Drive-space
    /// trains through a hidden layer of `DrivePerturbation.preHidden` (its estimate lives in the
    /// 50 drives, whatever the pre-layer's size); parameter-space does better without one (its
    /// estimate's variance grows with the parameters it perturbs), and the fixed mask has none to
    /// train. The static-curve ceiling takes drive-space's model, so that it stays its ceiling.
    public func resolvedPreHidden(sequence: Bool) -> Int? {
        if let preHidden { return preHidden > 0 ? preHidden : nil }
        switch mode {
        case .pgtHybrid: return resolvedPerturbation(sequence: sequence) == .drive ? DrivePerturbation.preHidden : nil
        case .staticCurve: return sequence ? nil : DrivePerturbation.preHidden
        case .pgt, .readout: return nil
        }
    }

    /// What the task's evaluations report (NARMA10 is the one regression task).
    public var metric: Metric { task == "narma10" ? .nrmse : .accuracy }

    public var plan: TrainingPlan {
        TrainingPlan(
            budget: mode == .readout || mode == .staticCurve ? 0 : budget, evaluations: evaluations,
            checkpoints: evaluations)
    }

    /// The passes that stream `seconds` of training drive: a pass streams its rows (the batch,
    /// plus the washout of a sequence window), each held `delayPeriods` periods, `shots` times.
    /// σ calibration, a warm start and the range probes come on top (the summary reports what
    /// was spent).
    public func passes(forDeviceSeconds seconds: Double, delayPeriods: Int, periodSeconds: Double, sequence: Bool)
        -> Int
    {
        let perPass = Double((batch + (sequence ? washout : 0)) * delayPeriods * shots) * periodSeconds
        return max(Int(seconds / perPass), 2)
    }

    /// The training device seconds `passes` stream (the inverse of
    /// `passes(forDeviceSeconds:…)`).
    public func deviceSeconds(forPasses passes: Int, delayPeriods: Int, periodSeconds: Double, sequence: Bool) -> Double {
        Double(passes * (batch + (sequence ? washout : 0)) * delayPeriods * shots) * periodSeconds
    }

    /// The feedback a task runs at by default: 0 for independent samples (one sample's state
    /// would leak into the next), the operating point's (`operatingPointFeedback`) for
    /// sequences, whose memory it is.
    public static func defaultFeedback(task: String, operatingPointFeedback: Double) -> Double {
        task == "sine-square" || task == "narma10" ? operatingPointFeedback : 0
    }
}
