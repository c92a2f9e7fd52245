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
    @Option(name: .long, help: "pgt-hybrid, pgt, readout (the fixed mask, ridge readouts) or static-curve (offline backprop through the calibrated curve: the ceiling).") var mode = RingSettings().mode.rawValue
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
    @Option(name: .long, parsing: .unconditional, help: "Learning rate of the pre-layer's Adam (default: the strategy's).") var lr: Double?
    @Option(name: .customLong("readout-lr"), parsing: .unconditional, help: "Learning rate of the readout's Adam (pgt-hybrid).")
    var readoutLR: Double?
    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "Weight decay λ of the readout's Adam (pgt-hybrid; default 0.1, drive-space 0.1·√(T/100 s) for T training device seconds).")
    var weightDecay: Double?
    @Option(name: .customLong("pre-hidden"), parsing: .unconditional, help: "Width of a hidden Dense + tanh layer in the pre-layer; 0: none (default 256 for drive-space and static-curve, none otherwise).")
    var preHidden: Int?
    @Option(
        name: .customLong("input-noise"), parsing: .unconditional,
        help: "σ of Gaussian noise on the training inputs' standardized features (default: drive-space none up to 300 training device seconds, 0.3 from 1,000 s; static-curve 0.3; others none).")
    var inputNoise: Double?
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
        settings.inputNoise = inputNoise
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
