import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirTraining

/// `ringlab train transformer`: a transformer whose block holds a reservoir (digital or the
/// ring), trained by backprop, PGT across the reservoir, or downstream only (docs/transformer.md).
struct TrainTransformerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transformer",
        abstract: "Train a transformer with a reservoir layer (defaults: TransformerSettings, docs/transformer.md).")

    @Option(name: .long, help: "mnist1d or csv:PATH (signals of tokens × patch samples).") var task = TransformerSettings().task
    @Option(name: .long, help: "backprop, pgt-hybrid or readout (upstream of the reservoir frozen).")
    var mode = TransformerSettings().mode.rawValue
    @Option(name: .long, help: "none (an ordinary feed-forward sublayer), digital or ring.")
    var reservoir = TransformerSettings().reservoir.rawValue
    @Option(name: .long, parsing: .unconditional, help: "Forward passes to spend (2 per step in every mode; default by mode and reservoir: TransformerDefaults).")
    var budget: Int?
    @Option(name: .long, parsing: .unconditional, help: "Budget as passes over the training split instead of passes.")
    var epochs: Double?
    @Option(name: .long, parsing: .unconditional, help: "Transformer blocks.") var blocks = TransformerSettings().shape.blocks
    @Option(name: .customLong("reservoir-block"), parsing: .unconditional, help: "The block (1-based) whose feed-forward sublayer the reservoir replaces.")
    var reservoirBlock = 1
    @Option(name: .long, parsing: .unconditional, help: "Token width d.") var width = TransformerSettings().shape.width
    @Option(name: .long, parsing: .unconditional, help: "Attention heads.") var heads = TransformerSettings().shape.heads
    @Option(name: .long, parsing: .unconditional, help: "Samples per token (the patch).") var patch = TransformerSettings().shape.patch
    @Option(name: .long, parsing: .unconditional, help: "Digital reservoir's expansion R (d → R → d).")
    var expansion = TransformerSettings().expansion
    @Option(name: .long, parsing: .unconditional, help: "Mini-batch size.") var batch = TransformerSettings().batch
    @Option(name: .long, parsing: .unconditional, help: "Adam's learning rate, cosine schedule (default: 0.002; 0.01 for readout).")
    var lr: Double?
    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "Decoupled weight decay λ of Adam (default: 1; 0 for readout).")
    var weightDecay: Double?
    @Option(name: .long, parsing: .unconditional, help: "σ of the reservoir-input perturbation (pgt-hybrid).")
    var sigma: Double?
    @Option(name: .long, help: "Board file of the ring (--reservoir ring).") var board: String?
    @Option(name: .long, parsing: .unconditional, help: "Repeats R of every ring evaluation, averaged (--reservoir ring).")
    var shots: Int?
    @Option(name: .long, parsing: .unconditional, help: "A twin drawn from this seed (--reservoir ring; calibrate it first).")
    var randomize: UInt64?
    @OptionGroup var common: RunOptions

    func validate() throws {
        for option in [
            NumericOption("--budget", budget.map(Double.init), 2...1e9), NumericOption("--epochs", epochs, 0.001...1e5),
            NumericOption("--blocks", Double(blocks), 1...8), NumericOption("--reservoir-block", Double(reservoirBlock), 1...8),
            NumericOption("--width", Double(width), 2...512), NumericOption("--heads", Double(heads), 1...64),
            NumericOption("--patch", Double(patch), 1...1_000), NumericOption("--expansion", Double(expansion), 1...8_192),
            NumericOption("--batch", Double(batch), 1...4_096), NumericOption("--lr", lr, 1e-9...10),
            NumericOption("--sigma", sigma, 1e-9...10), NumericOption("--weight-decay", weightDecay, 0...1e3),
            NumericOption("--shots", shots.map(Double.init), 1...64),
        ] { try option.check() }
        try refuse(budget != nil && epochs != nil, "--epochs", "with --budget (give one of them)")
        let settings = try self.settings(trainCount: 1)
        if let problem = settings.problem { throw ValidationError(problem) }
        try refuse(sigma != nil && settings.mode != .pgtHybrid, "--sigma", "to --mode \(mode) (pgt-hybrid only)")
        for (given, name) in [(board != nil, "--board"), (shots != nil, "--shots"), (randomize != nil, "--randomize")] {
            try refuse(given && settings.reservoir != .ring, name, "to --reservoir \(reservoir) (the ring only)")
        }
        try refuse(
            expansion != TransformerSettings().expansion && settings.reservoir != .digital, "--expansion",
            "to --reservoir \(reservoir) (the digital reservoir only)")
        guard task == "mnist1d" || task.hasPrefix("csv:") else {
            throw ValidationError("--task must be mnist1d or csv:PATH; found \(task)")
        }
    }

    /// The run these options ask for, for a training split of `trainCount` signals.
    func settings(trainCount: Int) throws -> TransformerSettings {
        var settings = TransformerSettings()
        settings.task = task
        guard let mode = TransformerSettings.Mode(rawValue: mode) else {
            throw ValidationError("--mode must be backprop, pgt-hybrid or readout; found \(self.mode)")
        }
        guard let reservoir = TransformerSettings.ReservoirKind(rawValue: reservoir) else {
            throw ValidationError("--reservoir must be none, digital or ring; found \(self.reservoir)")
        }
        settings.mode = mode
        settings.reservoir = reservoir
        settings.shape.blocks = blocks
        settings.shape.reservoirBlock = reservoir == .none ? nil : reservoirBlock - 1
        settings.shape.width = width
        settings.shape.heads = heads
        settings.shape.patch = patch
        settings.expansion = expansion
        settings.batch = batch
        settings.learningRate = lr ?? TransformerDefaults.learningRate(mode: mode)
        settings.weightDecay = weightDecay ?? TransformerDefaults.weightDecay(mode: mode)
        if let sigma { settings.sigma = sigma } else { settings.sigma = TransformerDefaults.sigma(reservoir: reservoir) }
        if let board { settings.board = board }
        if let shots { settings.shots = shots }
        settings.randomizedTwin = randomize
        settings.seed = common.seed
        settings.validation = common.validation
        settings.budget = budget ?? TransformerDefaults.budget(mode: mode, reservoir: reservoir)
        if let epochs { settings.budget = settings.budget(epochs: epochs, trainCount: trainCount) }
        return settings
    }

    func run() throws {
        try runTraining(folder: common.runDirectory, json: common.json) {
            let split = try TrainJobs.transformerSplit(task, seed: common.seed, validation: common.validation)
            var settings = try self.settings(trainCount: split.train.count)
            settings.shape.tokens = split.train.featureCount / patch
            guard settings.shape.signalLength == split.train.featureCount else {
                throw ValidationError(
                    "--patch \(patch) must divide the task's \(split.train.featureCount) samples per signal")
            }
            return try TrainJobs.transformer(
                settings, directory: common.runDirectory, progress: ProgressLines.training(metric: .accuracy))
        }
    }
}
