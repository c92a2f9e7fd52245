import ArgumentParser
import Foundation
import NeuralNet
import PerturbativeTraining
import RinglabJobs
import ReservoirTraining

/// `ringlab train mlp`: a digital network (64-40-10 tanh on digits) by PGT, backprop or SPSA.
struct TrainMLPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlp", abstract: "Train a digital network by PGT, backprop or SPSA (defaults: MLPDefaults, docs/pgt.md).")

    @Option(name: .long, help: "digits, moons, mnist1d or csv:PATH.") var task = MLPChoices().task
    @Option(name: .long, help: "pgt, backprop or spsa.") var mode = MLPChoices().mode.rawValue
    @Option(name: .long, parsing: .unconditional, help: "Forward passes to spend (backprop counts 2 per step).")
    var budget = MLPChoices().budget
    @Option(name: .long, help: "Hidden layers' widths, input side first (40, or 100,100).")
    var hidden = MLPChoices().hidden.description
    @Option(name: .long, parsing: .unconditional, help: "Mini-batch size (default: by mode and budget).") var batch: Int?
    @Option(name: .customLong("final-batch"), help: "Grow the batch as t² to this size by the end (all: the whole split).")
    var finalBatch: String?
    @Option(name: .long, parsing: .unconditional, help: "Directions K per step (pgt).") var directions: Int?
    @Option(name: .long, parsing: .unconditional, help: "Perturbation scale σ (pgt; default 0.001).") var sigma: Double?
    @Option(name: .long, parsing: .unconditional, help: "Learning rate (PGT's optimizer, backprop's Adam, SPSA's a).")
    var lr: Double?
    @Option(name: .long, help: "adam, sgd or momentum (pgt, spsa).") var optimizer: String?
    @Option(name: .customLong("direction-kind"), help: "gaussian, rademacher, orthogonal or sparse:FRACTION (pgt).")
    var directionKind: String?
    @Flag(name: .customLong("per-sample"), inversion: .prefixedNo, help: "One direction per sample (pgt; default: up to 20,000 passes).")
    var perSample: Bool?
    @Flag(name: .customLong("layer-blocks"), help: "Perturb one layer per step, in turn (pgt, spsa).") var layerBlocks = false
    @Option(name: .long, help: "two or one (sided differences; pgt).") var sides: String?
    @Option(name: .long, help: "constant or cosine learning-rate schedule (default: cosine for pgt, spsa; constant for backprop).")
    var schedule: String?
    @Option(name: .long, help: "glorot (default) or fan-in (PyTorch's nn.Linear: weights and biases U(±1/√fan_in)).")
    var initialization: String?
    @Option(name: .customLong("beta1"), parsing: .unconditional, help: "Adam's β₁ (pgt, spsa).") var beta1: Double?
    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "Decoupled weight decay λ (pgt, spsa).")
    var weightDecay: Double?
    @Option(name: .customLong("clip-norm"), parsing: .unconditional, help: "Clip ĝ to this norm (pgt, spsa).") var clipNorm: Double?
    @Option(name: .customLong("reject-above"), parsing: .unconditional, help: "Undo a step whose loss rose by more (pgt, spsa).")
    var rejectAbove: Double?
    @Option(name: .long, parsing: .unconditional, help: "Threads for the forward passes. Results do not depend on it.")
    var threads: Int?
    @OptionGroup var common: RunOptions

    func validate() throws {
        for option in [
            NumericOption("--budget", Double(budget), 2...1e9),
            NumericOption("--batch", batch.map(Double.init), 1...1e6),
            NumericOption("--directions", directions.map(Double.init), 1...4_096),
            NumericOption("--sigma", sigma, 1e-12...10), NumericOption("--lr", lr, 1e-12...10),
            NumericOption("--beta1", beta1, 0...0.999999), NumericOption("--weight-decay", weightDecay, 0...1e6),
            NumericOption("--clip-norm", clipNorm, 1e-12...1e12), NumericOption("--reject-above", rejectAbove, 0...1e12),
            NumericOption("--threads", threads.map(Double.init), 1...64),
        ] { try option.check() }
        let choices = try self.choices()
        let perturbativeOnly = "to --mode \(mode)"
        if choices.mode != .pgt {
            for (given, name) in [
                (directions != nil, "--directions"), (sigma != nil, "--sigma"), (directionKind != nil, "--direction-kind"),
                (perSample != nil, "--per-sample/--no-per-sample"), (sides != nil, "--sides"),
            ] { try refuse(given, name, "\(perturbativeOnly) (pgt only)") }
        }
        try refuse(schedule != nil && choices.mode == .spsa, "--schedule", "\(perturbativeOnly) (SPSA's gains set its rates)")
        if choices.mode == .backprop {
            for (given, name) in [
                (optimizer != nil, "--optimizer"), (layerBlocks, "--layer-blocks"), (beta1 != nil, "--beta1"),
                (weightDecay != nil, "--weight-decay"), (clipNorm != nil, "--clip-norm"),
                (rejectAbove != nil, "--reject-above"),
            ] { try refuse(given, name, "\(perturbativeOnly) (backprop is plain Adam)") }
        }
        guard ["digits", "moons", "mnist1d"].contains(task) || task.hasPrefix("csv:") else {
            throw ValidationError("--task must be digits, moons, mnist1d or csv:PATH; found \(task)")
        }
    }

    /// The run these options ask for; the defaults left open are `MLPDefaults`'.
    func choices() throws -> MLPChoices {
        var choices = MLPChoices()
        choices.task = task
        guard let mode = MLPSettings.Mode(rawValue: mode) else {
            throw ValidationError("--mode must be pgt, backprop or spsa; found \(self.mode)")
        }
        choices.mode = mode
        choices.budget = budget
        guard let widths = HiddenWidths(parsing: hidden) else {
            throw ValidationError("--hidden must be 1 to 8 widths from 1 to 4096, comma-separated (e.g. 100,100); found \(hidden)")
        }
        choices.hidden = widths
        choices.batch = batch
        if let finalBatch {
            guard finalBatch == "all" || (Int(finalBatch) ?? 0) >= 1 else {
                throw ValidationError("--final-batch must be a positive whole number or all; found \(finalBatch)")
            }
            choices.finalBatch = finalBatch == "all" ? 0 : Int(finalBatch)!
        }
        if let directions { choices.directions = directions }
        choices.sigma = sigma
        choices.learningRate = lr
        if let optimizer {
            guard let kind = OptimizerKind(rawValue: optimizer) else {
                throw ValidationError("--optimizer must be adam, sgd or momentum; found \(optimizer)")
            }
            choices.optimizer = kind
        }
        if let directionKind {
            guard let kind = DirectionKind(parsing: directionKind) else {
                throw ValidationError("--direction-kind must be gaussian, rademacher, orthogonal or sparse:FRACTION; found \(directionKind)")
            }
            choices.directionKind = kind
        }
        choices.perSample = perSample
        choices.layerBlocks = layerBlocks
        if let sides {
            guard let value = PerturbativeEstimator.Sides(rawValue: sides) else {
                throw ValidationError("--sides must be two or one; found \(sides)")
            }
            choices.sides = value
        }
        if let schedule {
            guard let value = ["constant": Schedule.constant, "cosine": .cosine][schedule] else {
                throw ValidationError("--schedule must be constant or cosine; found \(schedule)")
            }
            choices.schedule = value
        }
        if let initialization {
            guard let value = Initialization(rawValue: initialization) else {
                throw ValidationError("--initialization must be glorot or fan-in; found \(initialization)")
            }
            choices.initialization = value
        }
        choices.firstMomentDecay = beta1
        choices.weightDecay = weightDecay
        choices.clipNorm = clipNorm
        choices.rejectAbove = rejectAbove
        choices.seed = common.seed
        choices.validation = common.validation
        return choices
    }

    func run() throws {
        let choices = try self.choices()
        try runTraining(folder: common.runDirectory, json: common.json) {
            try TrainJobs.mlp(
                choices, directory: common.runDirectory, threads: threads,
                progress: ProgressLines.training(metric: .accuracy))
        }
    }
}
