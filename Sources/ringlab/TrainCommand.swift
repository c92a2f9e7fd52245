import ArgumentParser
import Foundation
import PerturbativeTraining
import ReservoirControl
import ReservoirTraining

/// `ringlab train`: trains a digital network by PGT, backprop or SPSA on a forward-pass budget.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train a network by PGT, backprop or SPSA within a forward-pass budget.")

    @Option(name: .long, help: "digits, moons or csv:PATH.")
    var task: String = "digits"

    @Option(name: .long, help: "mlp (a digital network) or ring (the ring as a layer, through the drive loop).")
    var model: String = "mlp"

    @Option(
        name: .customLong("mode"),
        help: "mlp: pgt (default), backprop or spsa. ring: pgt-hybrid (default), pgt or readout.")
    var modeOption: String?

    /// The mode asked for, or the model's default.
    var mode: String { modeOption ?? (model == "ring" ? "pgt-hybrid" : "pgt") }

    @Option(name: .long, parsing: .unconditional, help: "Forward passes to spend (backprop counts 2 per step).")
    var budget: Int = 10_000

    @Option(name: .long, parsing: .unconditional, help: "Hidden units.")
    var hidden: Int = 40

    @Option(
        name: .long, parsing: .unconditional,
        help: """
            Mini-batch size (default: 64 for backprop, 256 for spsa and for pgt below 50,000 passes, \
            the training split less one sample for pgt from 50,000 passes).
            """)
    var batch: Int?

    @Option(
        name: .customLong("final-batch"),
        help: "Grow the batch as t² to this size by the end of the run (all: the whole training split).")
    var finalBatch: String?

    @Option(name: .long, parsing: .unconditional, help: "Directions K per PGT step.")
    var directions: Int = TrainingDefaults.directions

    @Option(
        name: .long, parsing: .unconditional,
        help:
            "Perturbation scale σ (default: 0.001; ring: calibrated on the board from the loss noise, in drive units).")
    var sigma: Double?

    @Option(
        name: .customLong("readout-lr"), parsing: .unconditional, help: "Learning rate of the readout's Adam (ring pgt-hybrid; default 0.01).")
    var readoutLR: Double?

    @Option(
        name: .customLong("pre-hidden"), parsing: .unconditional,
        help: "Width of a hidden Dense + tanh layer in the ring model's pre-layer (--model ring; default none).")
    var preHidden: Int?

    @Option(name: .long, parsing: .unconditional, help: "Repeats R of every ring evaluation, averaged (--model ring).")
    var shots = 1

    @Option(name: .long, parsing: .unconditional, help: "Learning rate (PGT's optimizer, or backprop's Adam).")
    var lr: Double?

    @Option(name: .long, help: "adam, sgd or momentum (PGT).")
    var optimizer: String = TrainingDefaults.optimizer.rawValue

    @Option(name: .customLong("direction-kind"), help: "gaussian, rademacher, orthogonal or sparse:FRACTION.")
    var directionKind: String = TrainingDefaults.directionKind

    @Flag(
        name: .customLong("per-sample"), inversion: .prefixedNo,
        help: "Give every sample of a batch its own direction (default: on for budgets up to 20,000).")
    var perSample: Bool?

    @Flag(name: .customLong("layer-blocks"), help: "Perturb one layer per step, in turn (block mode).")
    var layerBlocks = false

    @Option(name: .long, help: "two or one (sided differences).")
    var sides: String = "two"

    @Option(name: .long, help: "constant or cosine learning-rate schedule.")
    var schedule: String = TrainingDefaults.schedule

    @Option(name: .customLong("beta1"), parsing: .unconditional, help: "Decay β₁ of Adam's first moment (PGT).")
    var beta1: Double?

    @Option(
        name: .customLong("weight-decay"), parsing: .unconditional,
        help: "Decoupled weight decay λ (AdamW's): of PGT's optimizer (mlp), of the readout's Adam (ring pgt-hybrid).")
    var weightDecay: Double?

    @Option(name: .customLong("clip-norm"), parsing: .unconditional, help: "Clip ĝ to this norm.")
    var clipNorm: Double?

    @Option(
        name: .customLong("reject-above"), parsing: .unconditional,
        help: "Undo a PGT step when the loss re-evaluated after it rose by more than this (costs a pass).")
    var rejectAbove: Double?

    @Option(name: .long, parsing: .unconditional, help: "Seed of the split, the initialization, the batches and the directions.")
    var seed: UInt64 = 1

    @Option(name: .customLong("run-dir"), help: "Folder for the run's logs, checkpoints, summary and plots.")
    var runDirectory: String?

    @Option(name: .long, help: "Continue the run in this folder from its last checkpoint.")
    var resume: String?

    @Option(name: .long, help: "Board file (--model ring).")
    var board = Composition.defaultBoardFile

    @Option(name: .long, parsing: .unconditional, help: "Virtual nodes N of the ring (--model ring; default: the loop's).")
    var nodes: Int?

    @Option(
        name: .long, parsing: .unconditional,
        help:
            "Feedback η of the drive loop (--model ring; default 0 for samples, the board's for sine-square and narma10)."
    )
    var feedback: Double?

    @Option(
        name: .long, parsing: .unconditional,
        help: "Threads for the forward passes (default: one per core, up to 2). Results do not depend on it.")
    var threads: Int?

    @Flag(name: .long, help: "Print the summary as JSON.")
    var json = false

    /// Every numeric option's range, checked before anything is allocated (a billion hidden
    /// units or directions would trap in an allocation; NaN and infinities never compare).
    var numericRanges: [NumericOption] {
        [
            NumericOption("--budget", Double(budget), 2...1e9),
            NumericOption("--hidden", Double(hidden), 1...4_096),
            NumericOption("--batch", batch.map(Double.init), 1...1e6),
            NumericOption("--directions", Double(directions), 1...4_096),
            NumericOption("--sigma", sigma, 1e-12...10),
            NumericOption("--readout-lr", readoutLR, 0...10),
            NumericOption("--pre-hidden", preHidden.map(Double.init), 1...4_096),
            NumericOption("--shots", Double(shots), 1...1_000),
            NumericOption("--lr", lr, 1e-12...10),
            NumericOption("--beta1", beta1, 0...0.999999),
            NumericOption("--weight-decay", weightDecay, 0...1e6),
            NumericOption("--clip-norm", clipNorm, 1e-12...1e12),
            NumericOption("--reject-above", rejectAbove, 0...1e12),
            NumericOption("--nodes", nodes.map(Double.init), 1...4_096),
            NumericOption("--feedback", feedback, -100...100),
            NumericOption("--threads", threads.map(Double.init), 1...64),
        ]
    }

    func validate() throws {
        for option in numericRanges { try option.check() }
        guard model == "mlp" || model == "ring" else {
            throw ValidationError("--model must be mlp or ring; found \(model)")
        }
        if model == "ring" {
            guard RingTrainingSettings.Mode(rawValue: mode) != nil else {
                throw ValidationError("--model ring takes --mode pgt-hybrid, pgt or readout; found \(mode)")
            }
            guard budget >= 2, (batch ?? 1) >= 1, (sigma ?? 1) > 0, (nodes ?? 1) >= 1, shots >= 1, (preHidden ?? 1) >= 1
            else {
                throw ValidationError(
                    "--budget ≥ 2, --batch ≥ 1, --sigma > 0, --nodes ≥ 1, --shots ≥ 1 and --pre-hidden ≥ 1 are required"
                )
            }
            guard ["digits", "moons", "sine-square", "narma10"].contains(task) || task.hasPrefix("csv:") else {
                throw ValidationError(
                    "--task must be digits, moons, sine-square, narma10 or csv:PATH for the ring; found \(task)")
            }
            return
        }
        guard TrainingSettings.Mode(rawValue: mode) != nil else {
            throw ValidationError("--mode must be pgt, backprop or spsa; found \(mode)")
        }
        guard OptimizerKind(rawValue: optimizer) != nil else {
            throw ValidationError("--optimizer must be adam, sgd or momentum; found \(optimizer)")
        }
        if let beta1, !(beta1 >= 0 && beta1 < 1) {
            throw ValidationError("--beta1 must be in [0, 1); found \(beta1)")
        }
        if let rejectAbove, !(rejectAbove >= 0) {
            throw ValidationError("--reject-above must be zero or more; found \(rejectAbove)")
        }
        guard (threads ?? 1) >= 1 else { throw ValidationError("--threads must be at least 1; found \(threads!)") }
        guard budget >= 2, hidden >= 1, (batch ?? 1) >= 1, directions >= 1, (sigma ?? 1) > 0 else {
            throw ValidationError(
                "--budget ≥ 2, --hidden ≥ 1, --batch ≥ 1, --directions ≥ 1 and --sigma > 0 are required")
        }
        _ = try Self.directionKind(directionKind)
        guard ["two", "one"].contains(sides) else {
            throw ValidationError("--sides must be two or one; found \(sides)")
        }
        guard ["constant", "cosine"].contains(schedule) else {
            throw ValidationError("--schedule must be constant or cosine; found \(schedule)")
        }
        if let finalBatch, finalBatch != "all", (Int(finalBatch) ?? 0) < 1 {
            throw ValidationError("--final-batch must be a positive whole number or all; found \(finalBatch)")
        }
        guard task == "digits" || task == "moons" || task.hasPrefix("csv:") else {
            throw ValidationError("--task must be digits, moons or csv:PATH; found \(task)")
        }
    }

    func run() throws {
        if let resume {
            let earlier = try reportingErrors { try RunDirectory(resuming: resume) }
            if let summary = earlier.finishedSummary {
                FileHandle.standardError.write(
                    Data("ringlab: \(resume) finished already (summary.json); nothing to resume, nothing changed\n".utf8))
                if json { FileHandle.standardOutput.write(summary) }
                return
            }
        }
        do {
            try runModel()
        } catch {
            // An interrupted run with a checkpoint says how to continue it.
            if let folder = runDirectory ?? resume, (try? RunDirectory(resuming: folder))?.canResume == true {
                FileHandle.standardError.write(
                    Data("ringlab: the run's last checkpoint is in \(folder); continue it with: ringlab train --resume \(folder)\n".utf8))
            }
            throw error
        }
    }

    private func runModel() throws {
        // A ring run's folder has the board's identity beside its configuration.
        if model == "ring" || resume.map({ FileManager.default.fileExists(atPath: "\($0)/board.json") }) == true {
            try runRing()
            return
        }
        let summary = try reportingErrors { () throws -> TrainingSummary in
            var settings: TrainingSettings
            let directory: RunDirectory?
            let split: DatasetSplit
            if let resume {
                directory = try RunDirectory(resuming: resume)
                settings = try directory!.loadConfiguration()
                split = DatasetSplit(try Self.dataset(settings.task, seed: settings.seed), seed: settings.seed)
            } else {
                split = DatasetSplit(try Self.dataset(task, seed: seed), seed: seed)
                settings = TrainingSettings()
                settings.task = task
                settings.mode = TrainingSettings.Mode(rawValue: mode)!
                settings.budget = budget
                settings.hidden = hidden
                settings.batch =
                    batch ?? TrainingDefaults.batch(for: settings.mode, budget: budget, trainCount: split.train.count)
                settings.finalBatch = finalBatch.map { $0 == "all" ? 0 : Int($0)! }
                settings.seed = seed
                let perSampleDirections = perSample ?? TrainingDefaults.perSample(budget: budget)
                settings.perturbative = TrainingDefaults.perturbative(
                    directions: directions, sigma: sigma ?? TrainingDefaults.sigma,
                    optimizer: OptimizerKind(rawValue: optimizer)!,
                    learningRate: lr ?? TrainingDefaults.learningRate(perSample: perSampleDirections, budget: budget))
                settings.perturbative.directionKind = try Self.directionKind(directionKind)
                settings.perturbative.sides = sides == "one" ? .one : .two
                settings.perturbative.schedule = schedule == "cosine" ? .cosine : .constant
                settings.perturbative.clipNorm = clipNorm
                settings.perturbative.rejectionTolerance = rejectAbove
                settings.perturbative.weightDecay = weightDecay ?? TrainingDefaults.weightDecay
                settings.perturbative.firstMomentDecay = beta1 ?? TrainingDefaults.firstMomentDecay
                settings.perturbative.perSampleDirections = perSampleDirections && settings.mode == .pgt
                settings.layerBlocks = layerBlocks
                if let lr, settings.mode == .backprop { settings.backpropLearningRate = lr }
                if settings.mode == .spsa, let lr { settings.perturbative.spsa.a = lr }
                directory = try runDirectory.map { try RunDirectory(path: $0) }
                try directory?.saveConfiguration(settings)
            }
            let training = DigitalTraining(settings: settings, split: split, runDirectory: directory, threads: threads)
            if resume != nil { try training.resume() }
            let report = trainingProgress(budget: settings.budget)
            return try training.run(progress: report)
        }
        if json {
            try printJSON(summary)
        } else {
            print(
                String(
                    format: "%@ on %@: test accuracy %.4f after %d forward passes (%.1f s, seed %llu)", summary.mode,
                    summary.task,
                    summary.test_accuracy, summary.forward_passes, summary.seconds, summary.seed))
            if let path = runDirectory ?? resume { print("run directory: \(path) (config, logs, checkpoint, summary, plots)") }
        }
    }

    /// `--model ring`: the ring model through the drive loop on the board (RingTrainRun).
    func runRing() throws {
        let summary = try reportingErrors { () throws -> RingTrainingSummary in
            var settings = RingTrainingSettings()
            settings.task = task
            settings.mode = RingTrainingSettings.Mode(rawValue: mode)!
            settings.budget = budget
            settings.batch = batch ?? settings.batch
            settings.seed = seed
            settings.board = board
            settings.sigma = sigma
            settings.shots = shots
            if let nodes { settings.nodes = nodes }
            if let lr { settings.preLearningRate = lr }
            if let readoutLR { settings.readoutLearningRate = readoutLR }
            if let weightDecay { settings.readoutWeightDecay = weightDecay }
            if let perSample { settings.perSampleDirections = perSample }
            settings.preHidden = preHidden
            return try RingTrainRun.run(
                settings: settings, feedback: feedback, runDirectory: runDirectory, resume: resume)
        }
        if json {
            try printJSON(summary)
            return
        }
        let metric =
            summary.test_nrmse.map { String(format: "test NRMSE %.4f", $0) }
            ?? String(
                format: "test accuracy %.4f (train %.4f)", summary.test_accuracy ?? .nan, summary.train_accuracy ?? .nan
            )
        print(
            String(
                format: "ring %@ on %@: %@ after %d forward passes, N = %d, converters %.1f%% busy, %.1f s, seed %llu",
                summary.mode, summary.task, metric, summary.forward_passes, summary.nodes,
                100 * summary.converter_utilization, summary.seconds, summary.seed))
        if let path = runDirectory ?? resume { print("run directory: \(path) (config, board.json, logs, plots)") }
    }

    static func directionKind(_ text: String) throws -> DirectionKind {
        switch text {
        case "gaussian": return .gaussian
        case "rademacher": return .rademacher
        case "orthogonal": return .orthogonal
        default:
            if text.hasPrefix("sparse:"), let fraction = Double(text.dropFirst(7)), fraction > 0, fraction <= 1 {
                return .sparse(fraction: fraction)
            }
            throw ValidationError(
                "--direction-kind must be gaussian, rademacher, orthogonal or sparse:FRACTION; found \(text)")
        }
    }

    static func dataset(_ task: String, seed: UInt64) throws -> Dataset {
        switch task {
        case "digits": return try Datasets.loadCSV(Composition.locateDefault("data/digits.csv"), name: "digits")
        case "moons": return Datasets.moons(seed: seed)
        default: return try Datasets.loadCSV(String(task.dropFirst(4)))
        }
    }
}

/// Progress on stderr: a bar on a terminal, plain lines otherwise.
func trainingProgress(budget: Int) -> (Evaluation) -> Void {
    let terminal = isatty(STDERR_FILENO) != 0
    let started = Date()
    return { evaluation in
        let fraction = Double(evaluation.forwardPasses) / Double(budget)
        let elapsed = Date().timeIntervalSince(started)
        let remaining = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let text = String(
            format: "%6.1f%%  step %d  passes %d  loss %.4f  train %.4f  test %.4f  ETA %.0f s", 100 * fraction,
            evaluation.step, evaluation.forwardPasses,
            evaluation.trainLoss, evaluation.trainAccuracy, evaluation.testAccuracy, remaining)
        if terminal {
            let filled = Int(fraction * 30)
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: 30 - filled)
            FileHandle.standardError.write(Data("\r\(bar) \(text)\(fraction >= 1 ? "\n" : "")".utf8))
        } else {
            FileHandle.standardError.write(Data("train: \(text)\n".utf8))
        }
    }
}

/// The defaults of `ringlab train`, chosen by the experiment recorded in docs/pgt.md.
enum TrainingDefaults {
    /// The sweeps favoured larger batches for PGT (less gradient noise per forward pass) and
    /// batch 64 for backprop (more steps for the same passes). From 50,000 passes on, PGT takes
    /// all of the training split but one sample per batch (the single-precision kernels on two
    /// threads make that affordable): a different sample is left out each step (docs/pgt.md).
    static func batch(for mode: TrainingSettings.Mode, budget: Int, trainCount: Int) -> Int {
        switch mode {
        case .backprop: return 64
        case .spsa: return 256
        case .pgt: return budget >= largeBudget ? max(trainCount - 1, 1) : 256
        }
    }
    /// Where the large-budget defaults (nearly whole-split batches, a lower rate) begin.
    static let largeBudget = 50_000
    static let directions = 1
    static let sigma = 1e-3
    static let optimizer = OptimizerKind.adam
    /// Adam's rate. Per-sample directions (short budgets): 0.005. Shared directions: 0.004 up
    /// to 50,000 passes, then 0.004·√(50,000/budget), since a longer run takes more, smaller
    /// steps (0.002 at 200,000 passes: mean 0.969 against 0.964 at 0.004; docs/pgt.md).
    /// Adam's rate. Per-sample directions (short budgets): 0.005. Shared directions on batches
    /// of 256: 0.004. From 50,000 passes (batches of the split less one sample): 0.002 — at
    /// 200,000 passes it beat 0.001 in two replicate sets of seeds 1–3 (means 0.977 and 0.971
    /// against 0.970 and 0.972) and 0.004 clearly (0.962); docs/pgt.md has the table.
    static func learningRate(perSample: Bool, budget: Int) -> Double {
        if perSample { return 5e-3 }
        return budget >= largeBudget ? 2e-3 : 4e-3
    }
    static let weightDecay = 0.0
    static let firstMomentDecay = 0.9
    static let directionKind = "rademacher"
    static let schedule = "cosine"
    /// Per-sample directions win on short budgets (0.949 against 0.920 at 10,000 passes) and
    /// cost 7× the compute; beyond 20,000 passes shared directions do as well (docs/pgt.md).
    static func perSample(budget: Int) -> Bool { budget <= 20_000 }

    static func perturbative(directions: Int, sigma: Double, optimizer: OptimizerKind, learningRate: Double)
        -> PerturbativeConfiguration
    {
        var configuration = PerturbativeConfiguration()
        configuration.directionCount = directions
        configuration.sigma = sigma
        configuration.optimizer = optimizer
        configuration.learningRate = learningRate
        return configuration
    }
}

/// A numeric option and the range it must lie in; `check` names the option, what was found and
/// the range, and refuses NaN and infinities.
struct NumericOption {
    var name: String
    var value: Double?
    var range: ClosedRange<Double>

    init(_ name: String, _ value: Double?, _ range: ClosedRange<Double>) {
        self.name = name
        self.value = value
        self.range = range
    }

    func check() throws {
        guard let value else { return }
        guard value.isFinite, range.contains(value) else {
            throw ValidationError("\(name) must be a number from \(Self.text(range.lowerBound)) to \(Self.text(range.upperBound)); found \(value.isFinite ? Self.text(value) : String(value))")
        }
    }

    private static func text(_ bound: Double) -> String {
        bound == bound.rounded() && abs(bound) < 1e15 ? String(Int(bound)) : String(bound)
    }
}
