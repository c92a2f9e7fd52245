import Foundation
import NeuralNet
import PerturbativeTraining

/// How a digital network (the MLP) is trained (`ringlab train mlp`; saved in config.json).
public struct MLPSettings: Sendable, Codable, Equatable {
    public enum Mode: String, Sendable, Codable, CaseIterable { case pgt, backprop, spsa }

    public var task = "digits"
    public var mode = Mode.pgt
    /// Forward passes to spend (backprop counts 2 per step: forward and backward).
    public var budget = 10_000
    public var hidden: HiddenWidths = [40]
    public var batch = 64
    /// When set, the batch grows from `batch` to this size as t² over the run (t: the fraction
    /// of the budget spent; 0 or more than the training split: the whole split). Late in a run
    /// the gradient is small and a perturbative estimate's noise is then mostly the batch's
    /// sampling noise, which vanishes on the whole split (docs/pgt.md).
    public var finalBatch: Int?
    /// Everything perturbative: K, σ, directions, optimizer, learning rate, schedule…
    public var perturbative = PerturbativeConfiguration()
    /// Learning rate of backprop's Adam.
    public var backpropLearningRate = 0.002
    /// Backprop's learning-rate schedule; nil: constant (and how runs saved before it resume).
    public var backpropSchedule: Schedule?
    /// How θ starts; nil: Glorot (`Initialization.glorot`; runs saved before the choice).
    public var initialization: Initialization?
    /// Perturb one layer per step, in turn (PGT's block mode).
    public var layerBlocks = false
    public var seed: UInt64 = 1
    /// Evaluations on the test split over the run.
    public var evaluations = 20
    /// Checkpoints over the run.
    public var checkpoints = 10
    /// PGT's and SPSA's forward passes in single precision (twice as fast; the loss is summed
    /// in double). Backprop always runs in double.
    public var singlePrecision = true
    /// Row chunks each forward pass splits into, run on as many threads as the machine has
    /// cores for (a setting, not the core count, so a run's results do not depend on the
    /// machine; docs/pgt.md has the timings).
    public var chunks = 2
    /// Evaluate on a validation split carved from the training split, not on the test split
    /// (`--validation`; how defaults are tuned).
    public var validation = false

    public init() {}

    public var plan: TrainingPlan { TrainingPlan(budget: budget, evaluations: evaluations, checkpoints: checkpoints) }
}

/// The widths of an MLP's hidden layers, input side first (tanh each). Saved as a list; a single
/// width is read too, which is how config.json held it before a network could have more than
/// one hidden layer, so those runs still resume.
public struct HiddenWidths: Sendable, Codable, Equatable, ExpressibleByArrayLiteral, CustomStringConvertible {
    public var widths: [Int]

    public init(_ widths: [Int]) { self.widths = widths }
    public init(arrayLiteral widths: Int...) { self.widths = widths }

    /// "100,100" or "40"; nil unless every width is a whole number from 1 to 4,096 (at most 8 layers).
    public init?(parsing text: String) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...8).contains(parts.count), parts.allSatisfy({ $0.map { (1...4_096).contains($0) } ?? false }) else { return nil }
        widths = parts.map { $0! }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let single = try? container.decode(Int.self) { widths = [single] } else { widths = try container.decode([Int].self) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(widths)
    }

    public var description: String { widths.map(String.init).joined(separator: ",") }
}

/// The defaults of `ringlab train mlp`, chosen by the experiments recorded in docs/pgt.md.
public enum MLPDefaults {
    /// The sweeps favoured larger batches for PGT (less gradient noise per forward pass) and
    /// batch 64 for backprop (more steps for the same passes). From 50,000 passes on, PGT takes
    /// all of the training split but one sample per batch (the single-precision kernels on two
    /// threads make that affordable): a different sample is left out each step (docs/pgt.md).
    public static func batch(for mode: MLPSettings.Mode, budget: Int, trainCount: Int) -> Int {
        switch mode {
        case .backprop: return 64
        case .spsa: return 256
        case .pgt: return budget >= largeBudget ? max(trainCount - 1, 1) : 256
        }
    }
    /// Where the large-budget defaults (nearly whole-split batches, a lower rate) begin.
    public static let largeBudget = 50_000
    public static let directions = 1
    public static let sigma = 1e-3
    public static let optimizer = OptimizerKind.adam
    /// Adam's rate. Per-sample directions (short budgets): 0.005. Shared directions on batches
    /// of 256: 0.004. From 50,000 passes (batches of the split less one sample): 0.002 — at
    /// 200,000 passes it beat 0.001 in two replicate sets of seeds 1–3 (means 0.977 and 0.971
    /// against 0.970 and 0.972) and 0.004 clearly (0.962); docs/pgt.md has the table.
    public static func learningRate(perSample: Bool, budget: Int) -> Double {
        if perSample { return 5e-3 }
        return budget >= largeBudget ? 2e-3 : 4e-3
    }
    public static let weightDecay = 0.0
    public static let firstMomentDecay = 0.9
    public static let directionKind = DirectionKind.rademacher
    public static let schedule = Schedule.cosine
    /// Per-sample directions win on short budgets (0.949 against 0.920 at 10,000 passes) and
    /// cost 7× the compute; beyond 20,000 passes shared directions do as well (docs/pgt.md).
    public static func perSample(budget: Int) -> Bool { budget <= 20_000 }
}

/// What a caller may choose for an MLP run; everything left nil takes `MLPDefaults`' value for
/// the chosen mode and budget. `settings(trainCount:)` resolves them.
public struct MLPChoices: Sendable, Equatable {
    public var task = "digits"
    public var mode = MLPSettings.Mode.pgt
    public var budget = 10_000
    public var hidden: HiddenWidths = [40]
    public var batch: Int?
    /// 0: the whole training split.
    public var finalBatch: Int?
    public var directions = MLPDefaults.directions
    public var sigma: Double?
    public var learningRate: Double?
    public var optimizer = MLPDefaults.optimizer
    public var directionKind = MLPDefaults.directionKind
    public var perSample: Bool?
    public var layerBlocks = false
    public var sides = PerturbativeEstimator.Sides.two
    /// nil: cosine for PGT and SPSA (`MLPDefaults.schedule`), constant for backprop.
    public var schedule: Schedule?
    public var initialization = Initialization.glorot
    public var firstMomentDecay: Double?
    public var weightDecay: Double?
    public var clipNorm: Double?
    public var rejectAbove: Double?
    public var seed: UInt64 = 1
    public var validation = false

    public init() {}

    /// The settings these choices make, for a training split of `trainCount` samples.
    public func settings(trainCount: Int) -> MLPSettings {
        var settings = MLPSettings()
        settings.task = task
        settings.mode = mode
        settings.budget = budget
        settings.hidden = hidden
        settings.batch = batch ?? MLPDefaults.batch(for: mode, budget: budget, trainCount: trainCount)
        settings.finalBatch = finalBatch
        settings.seed = seed
        settings.validation = validation
        let perSampleDirections = perSample ?? MLPDefaults.perSample(budget: budget)
        var perturbative = PerturbativeConfiguration()
        perturbative.directionCount = directions
        perturbative.sigma = sigma ?? MLPDefaults.sigma
        perturbative.optimizer = optimizer
        perturbative.learningRate =
            learningRate ?? MLPDefaults.learningRate(perSample: perSampleDirections, budget: budget)
        perturbative.directionKind = directionKind
        perturbative.sides = sides
        perturbative.schedule = schedule ?? MLPDefaults.schedule
        perturbative.clipNorm = clipNorm
        perturbative.rejectionTolerance = rejectAbove
        perturbative.weightDecay = weightDecay ?? MLPDefaults.weightDecay
        perturbative.firstMomentDecay = firstMomentDecay ?? MLPDefaults.firstMomentDecay
        perturbative.perSampleDirections = perSampleDirections && mode == .pgt
        settings.perturbative = perturbative
        settings.layerBlocks = layerBlocks
        if let learningRate, mode == .backprop { settings.backpropLearningRate = learningRate }
        if mode == .backprop { settings.backpropSchedule = schedule }
        if initialization != .glorot { settings.initialization = initialization }
        if mode == .spsa, let learningRate { settings.perturbative.spsa.a = learningRate }
        return settings
    }
}
