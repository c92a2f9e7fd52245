import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirTraining

/// `ringlab train ring`: the ring as a layer (pre-layer → ring → readout) through the drive loop
/// on a board.
struct TrainRingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ring", abstract: "Train the ring model through the drive loop on a board (defaults: RingSettings).")

    @Option(name: .long, help: "digits, moons, sine-square, narma10 or csv:PATH.") var task = RingSettings().task
    @Option(name: .long, help: "pgt-hybrid, pgt or readout (the fixed mask, ridge readouts).") var mode = RingSettings().mode.rawValue
    @Option(name: .long, parsing: .unconditional, help: "Forward passes to spend (pgt, pgt-hybrid).") var budget: Int?
    @Option(
        name: .customLong("device-seconds"), parsing: .unconditional,
        help: "Budget in seconds of training drive on the board instead of passes (pgt, pgt-hybrid).")
    var deviceSeconds: Double?
    @Option(name: .long, help: "parameters (PGT over the pre-layer) or drive (the N drives, chain rule upstream; pgt-hybrid).")
    var perturb: String?
    @Option(name: .customLong("drive-directions"), parsing: .unconditional, help: "± pairs per sample and step (--perturb drive).")
    var driveDirections: Int?
    @Option(name: .customLong("direction-kind"), help: "rademacher, gaussian or orthogonal within a batch (--perturb drive).")
    var directionKind: String?
    @Option(name: .long, parsing: .unconditional, help: "Samples per mini-batch, or scored rows of a window (pgt, pgt-hybrid).")
    var batch: Int?
    @Option(name: .long, parsing: .unconditional, help: "σ in drive units (default: calibrated on the board).") var sigma: Double?
    @Option(
        name: .customLong("sigma-multiple"), parsing: .unconditional,
        help: "σ calibration's target |ΔL| in loss-noise standard deviations (default: the strategy's).")
    var sigmaMultiple: Double?
    @Option(name: .long, parsing: .unconditional, help: "Learning rate of the pre-layer's Adam.") var lr: Double?
    @Option(name: .customLong("readout-lr"), parsing: .unconditional, help: "Learning rate of the readout's Adam (pgt-hybrid).")
    var readoutLR: Double?
    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "Weight decay λ of the readout's Adam (pgt-hybrid).")
    var weightDecay: Double?
    @Option(name: .customLong("pre-hidden"), parsing: .unconditional, help: "Width of a hidden Dense + tanh layer in the pre-layer.")
    var preHidden: Int?
    @Flag(name: .customLong("per-sample"), inversion: .prefixedNo, help: "One direction per sample (digits-like tasks; default on).")
    var perSample: Bool?
    @Option(name: .long, parsing: .unconditional, help: "Repeats R of every evaluation, averaged.") var shots: Int?
    @Option(name: .long, help: "Board file.") var board = Composition.defaultBoardFile
    @Option(name: .long, parsing: .unconditional, help: "A twin drawn from this seed (calibrate it first: ringlab calibrate --randomize).")
    var randomize: UInt64?
    @Option(name: .long, parsing: .unconditional, help: "Virtual nodes N.") var nodes: Int?
    @Option(name: .long, parsing: .unconditional, help: "Feedback η (default: 0 for samples, the board's for sequences).")
    var feedback: Double?
    @OptionGroup var common: RunOptions

    func validate() throws {
        for option in [
            NumericOption("--budget", budget.map(Double.init), 2...1e9),
            NumericOption("--device-seconds", deviceSeconds, 0.001...1e7),
            NumericOption("--batch", batch.map(Double.init), 1...1e6),
            NumericOption("--drive-directions", driveDirections.map(Double.init), 1...64), NumericOption("--sigma", sigma, 1e-12...10),
            NumericOption("--sigma-multiple", sigmaMultiple, 1e-3...1e3),
            NumericOption("--lr", lr, 1e-12...10), NumericOption("--readout-lr", readoutLR, 0...10),
            NumericOption("--weight-decay", weightDecay, 0...1e6),
            NumericOption("--pre-hidden", preHidden.map(Double.init), 1...4_096),
            NumericOption("--shots", shots.map(Double.init), 1...1_000),
            NumericOption("--nodes", nodes.map(Double.init), 1...4_096), NumericOption("--feedback", feedback, -100...100),
        ] { try option.check() }
        guard let mode = RingSettings.Mode(rawValue: mode) else {
            throw ValidationError("--mode must be pgt-hybrid, pgt or readout; found \(self.mode)")
        }
        guard ["digits", "moons", "sine-square", "narma10"].contains(task) || task.hasPrefix("csv:") else {
            throw ValidationError("--task must be digits, moons, sine-square, narma10 or csv:PATH; found \(task)")
        }
        let sequence = task == "sine-square" || task == "narma10"
        if let perturb {
            guard let value = RingSettings.Perturbation(rawValue: perturb) else {
                throw ValidationError("--perturb must be parameters or drive; found \(perturb)")
            }
            try refuse(mode != .pgtHybrid, "--perturb", "to --mode \(mode.rawValue) (pgt-hybrid chooses where its perturbation lives)")
            if value == .drive {
                try refuse(sequence, "--perturb", "as drive to a sequence task (a drive moves later rows' states)")
                try refuse(perSample != nil, "--per-sample/--no-per-sample", "with --perturb drive (one drive direction per sample, always)")
            }
        }
        try refuse(common.validation && sequence, "--validation", "to a sequence task (it is carved from independent samples)")
        try refuse(sigma != nil && sigmaMultiple != nil, "--sigma-multiple", "with --sigma (σ is given, not calibrated)")
        let drive = perturb.flatMap(RingSettings.Perturbation.init(rawValue:)) == .drive
        try refuse(!drive && driveDirections != nil, "--drive-directions", "without --perturb drive")
        try refuse(!drive && directionKind != nil, "--direction-kind", "without --perturb drive")
        if let directionKind {
            guard let kind = RingSettings.DriveDirectionKind(rawValue: directionKind) else {
                throw ValidationError("--direction-kind must be rademacher, gaussian or orthogonal; found \(directionKind)")
            }
            let samples = batch ?? RingSettings().batch
            let nodes = nodes ?? RingSettings().nodes
            try refuse(
                kind == .orthogonal && samples > nodes, "--direction-kind orthogonal",
                "to a batch of \(samples) in \(nodes) drive dimensions (at most N orthogonal directions)")
        }
        try refuse(budget != nil && deviceSeconds != nil, "--device-seconds", "with --budget (one budget, please)")
        if mode == .readout {
            for (given, name) in [
                (budget != nil, "--budget"), (deviceSeconds != nil, "--device-seconds"), (batch != nil, "--batch"), (sigma != nil, "--sigma"), (sigmaMultiple != nil, "--sigma-multiple"), (lr != nil, "--lr"),
                (readoutLR != nil, "--readout-lr"), (weightDecay != nil, "--weight-decay"), (perSample != nil, "--per-sample/--no-per-sample"),
            ] { try refuse(given, name, "to --mode readout (the pre-layer stays the fixed mask; the readout is a ridge fit)") }
        }
        if mode == .pgt {
            try refuse(readoutLR != nil, "--readout-lr", "to --mode pgt (the readout is perturbed with the pre-layer)")
            try refuse(weightDecay != nil, "--weight-decay", "to --mode pgt (the readout has no Adam of its own)")
        }
        try refuse(
            perSample != nil && (sequence || preHidden != nil), "--per-sample/--no-per-sample",
            "to a sequence task or a pre-layer with a hidden layer (one direction per batch there)")
    }

    /// The run these options ask for; what they leave open is `RingSettings`' default.
    var settings: RingSettings {
        var settings = RingSettings()
        settings.task = task
        settings.mode = RingSettings.Mode(rawValue: mode)!
        if let perturb { settings.perturbation = RingSettings.Perturbation(rawValue: perturb)! }
        if let budget { settings.budget = budget }
        settings.deviceSeconds = deviceSeconds
        if let batch { settings.batch = batch }
        if let driveDirections { settings.driveDirections = driveDirections }
        if let directionKind { settings.driveDirectionKind = RingSettings.DriveDirectionKind(rawValue: directionKind)! }
        settings.seed = common.seed
        settings.validation = common.validation
        settings.board = board
        settings.randomizedTwin = randomize
        settings.sigma = sigma
        settings.sigmaMultiple = sigmaMultiple
        if let shots { settings.shots = shots }
        if let nodes { settings.nodes = nodes }
        if let lr { settings.preLearningRate = lr }
        if let readoutLR { settings.readoutLearningRate = readoutLR }
        if let weightDecay { settings.readoutWeightDecay = weightDecay }
        if let perSample { settings.perSampleDirections = perSample }
        settings.preHidden = preHidden
        return settings
    }

    func run() throws {
        let settings = settings
        try runTraining(folder: common.runDirectory, json: common.json) {
            try TrainJobs.ring(
                settings, feedback: feedback, directory: common.runDirectory,
                progress: ProgressLines.training(metric: settings.metric))
        }
    }
}
