import Foundation
import ReservoirCalibration
import ReservoirControl
import ReservoirFiles
import ReservoirHAL
import ReservoirTraining

/// What a ring run records of the device it ran on (board.json in the run directory).
public struct RunBoardIdentity: Codable, Sendable {
    public var board_file: String
    public var board_file_sha256: String
    public var board_name: String
    public var serial: String
    public var backend: String
    /// The calibration the operating point came from (nil: the board file's operating point).
    public var calibration_file: String?
    public var calibration_sha256: String?
    public var calibration_evaluation_noise: Double?
    public var bias_volts: Double
    public var span_volts: Double
    public var latency_samples: Int
    public var feedback: Double
    public var nodes: Int
    public var samples_per_node: Int
    public var shots: Int
    public var sample_rate_hz: Double
}

/// Training runs as a command or a service starts them: build the model from its settings,
/// run it in its folder (or continue the folder's run), report progress.
public enum TrainJobs {
    /// Training device seconds of each of `ringlab demo`'s PGT runs: 300 s (about half a
    /// minute each on the lock-step twin) is where drive-space PGT is well ahead of both the
    /// fixed mask and parameter-space PGT (docs/results.md).
    public static let demoDeviceSeconds = 300.0

    /// The demo's runs, in order: the strategy (a `RingSettings.Perturbation`, or the fixed
    /// mask) and what it does.
    public static let demoRuns: [(name: String, what: String)] = [
        ("readout", "fixed mask, ridge readouts"),
        ("parameters", "PGT over the pre-layer's parameters"),
        ("drive", "PGT over the ring's drives, chain rule upstream"),
    ]

    /// Trains the MLP as `choices` say, in `directory` if given.
    public static func mlp(
        _ choices: MLPChoices, directory: String?, threads: Int? = nil,
        progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> TrainingSummary {
        let split = try mlpSplit(choices.task, seed: choices.seed, validation: choices.validation)
        let settings = choices.settings(trainCount: split.train.count)
        let folder = try directory.map { try RunDirectory(path: $0) }
        try folder?.saveConfiguration(RunConfiguration(model: "mlp", mlp: settings, ring: nil))
        let run = TrainingRun(
            model: MLPModel(settings: settings, split: split, threads: threads), plan: settings.plan,
            directory: folder)
        return try run.run(progress: progress)
    }

    /// Trains the ring model as `settings` say on their board, in `directory` if given; the
    /// loop's feedback is `feedback`, or the task's default at the board's operating point.
    public static func ring(
        _ settings: RingSettings, feedback: Double?, directory: String?, progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> TrainingSummary {
        var settings = settings
        let folder = try directory.map { try RunDirectory(path: $0) }
        let setup = try ringLoop(for: &settings, chooseFeedback: true, feedback: feedback)
        let loop = setup.loop
        let task = try ringTask(settings)
        if let seconds = settings.deviceSeconds {
            settings.budget = settings.passes(
                forDeviceSeconds: seconds, delayPeriods: loop.delayPeriods, periodSeconds: loop.periodSeconds,
                sequence: task.isSequence)
        }
        if settings.mode == .pgtHybrid {
            // Saved resolved, so that a resume does not depend on the defaults of its day.
            settings.perturbation = settings.resolvedPerturbation(sequence: task.isSequence)
            settings.readoutWeightDecay = RingModel.readoutWeightDecay(settings, loop: loop, sequence: task.isSequence)
        }
        if settings.mode == .pgtHybrid || settings.mode == .staticCurve {
            settings.preLearningRate = RingModel.preLearningRate(settings, loop: loop, sequence: task.isSequence)
        }
        settings.preHidden = settings.resolvedPreHidden(sequence: task.isSequence) ?? 0
        settings.inputNoise = RingModel.inputNoise(settings, loop: loop, sequence: task.isSequence)
        try folder?.saveConfiguration(RunConfiguration(model: "ring", mlp: nil, ring: settings))
        try folder?.saveRecord(setup.identity, named: "board.json")
        let run = TrainingRun(
            model: try setup.model(task: task, settings: settings), plan: settings.plan, directory: folder)
        return try runRecoveringNetworkFaults(run, backend: setup.identity.backend, folder: folder, progress: progress)
    }

    /// How many times a ring run on a network board (an `ip:` URI) reconnects and resumes
    /// from its last checkpoint after a stream fault before the fault ends it.
    public static let networkResumeAttempts = 3

    /// Runs `run`; when a stream fault on a network board stops it (the connection dropped,
    /// a refill failed or timed out, the watchdog fired: the loop has driven the board safe
    /// first), opens a new context and resumes from the run's last checkpoint, at most
    /// `networkResumeAttempts` times. A run without a folder has no checkpoint and stops.
    /// The resumed stream starts afresh, so nothing continues on a misaligned stream.
    static func runRecoveringNetworkFaults(
        _ run: TrainingRun<RingModel>, backend: String, folder: RunDirectory?, progress: (TrainingProgress) -> Void
    ) throws -> TrainingSummary {
        var run = run
        var attempts = 0
        while true {
            do { return try run.run(progress: progress) } catch let stopped as LoopStopped {
                let streamFault: Bool
                switch stopped.reason {
                case .ioError, .watchdog: streamFault = true
                default: streamFault = false
                }
                guard streamFault, backend.hasPrefix("iio:ip:"), let folder, attempts < networkResumeAttempts else {
                    throw stopped
                }
                attempts += 1
                FileHandle.standardError.write(
                    Data(
                        "train: stream fault on the network board (\(stopped)); reconnecting and resuming \(folder.path) from its last checkpoint (attempt \(attempts) of \(networkResumeAttempts))\n"
                            .utf8))
                let configuration = try RunConfiguration.load(from: folder)
                guard var settings = configuration.ring else { throw stopped }
                let setup = try ringLoop(for: &settings, chooseFeedback: false, feedback: nil)
                run = TrainingRun(
                    model: try setup.model(task: try ringTask(settings), settings: settings), plan: settings.plan,
                    directory: try RunDirectory(resuming: folder.path))
                try run.resume()
            }
        }
    }

    /// Continues the run in `path` from its last checkpoint, whichever model it trains.
    public static func resume(
        _ path: String, threads: Int? = nil, progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> TrainingSummary {
        let folder = try RunDirectory(resuming: path)
        let configuration = try RunConfiguration.load(from: folder)
        if let settings = configuration.mlp, configuration.model == "mlp" {
            let split = try mlpSplit(settings.task, seed: settings.seed, validation: settings.validation)
            let run = TrainingRun(
                model: MLPModel(settings: settings, split: split, threads: threads), plan: settings.plan,
                directory: folder)
            try run.resume()
            return try run.run(progress: progress)
        }
        if let settings = configuration.transformer, configuration.model == "transformer" {
            return try transformer(settings, folder: folder, resuming: true, progress: progress)
        }
        guard var settings = configuration.ring, configuration.model == "ring" else {
            throw RunDirectoryError(
                description: "\(path)/config.json: model must be mlp, ring or transformer (with its settings); found \(configuration.model)")
        }
        // The loop's feedback is part of the configuration, so a resume rebuilds it exactly.
        let setup = try ringLoop(for: &settings, chooseFeedback: false, feedback: nil)
        let run = TrainingRun(
            model: try setup.model(task: try ringTask(settings), settings: settings), plan: settings.plan,
            directory: folder)
        try run.resume()
        return try runRecoveringNetworkFaults(run, backend: setup.identity.backend, folder: folder, progress: progress)
    }

    /// The split an MLP trains and evaluates on: the task's, or its validation split.
    static func mlpSplit(_ task: String, seed: UInt64, validation: Bool) throws -> DatasetSplit {
        if task == "mnist1d" { return try transformerSplit(task, seed: seed, validation: validation) }
        let split = DatasetSplit(try dataset(task, seed: seed), seed: seed)
        return validation ? split.carvingValidation(seed: seed) : split
    }

    /// The dataset a digital task names: digits, moons or csv:PATH.
    public static func dataset(_ task: String, seed: UInt64) throws -> Dataset {
        switch task {
        case "digits": return try Datasets.loadCSV(Composition.locateDefault("data/digits.csv"), name: "digits")
        case "moons": return Datasets.moons(seed: seed)
        default:
            guard task.hasPrefix("csv:") else {
                throw RingTaskError(description: "unknown task \(task); expected digits, moons or csv:PATH")
            }
            return try Datasets.loadCSV(String(task.dropFirst(4)))
        }
    }

    /// The ring task `settings` name.
    public static func ringTask(_ settings: RingSettings) throws -> RingTask {
        try RingTask.named(
            settings.task, seed: settings.seed, digitsFile: Composition.locateDefault("data/digits.csv"),
            validation: settings.validation)
    }

    /// A drive loop for `settings` on its board, with the board's identity for the run
    /// directory and the calibration the operating point came from. A new run
    /// (`chooseFeedback`) sets the settings' feedback: `feedback`, or the default for its task
    /// at the board's operating point; a resumed run keeps its own.
    public static func ringLoop(
        for settings: inout RingSettings, chooseFeedback: Bool, feedback: Double?,
        clock: any BoardClock = ManualClock(), quiet: Bool = false
    ) throws -> RingLoopSetup {
        let path = Composition.locateDefault(settings.board)
        let (board, _) = try Composition.board(
            file: path, seed: settings.seed, clock: clock, randomize: settings.randomizedTwin)
        let (point, calibration) = try Composition.calibratedOperatingPoint(
            of: board, randomize: settings.randomizedTwin, quiet: quiet)
        if let draw = settings.randomizedTwin, calibration == nil {
            // The board file's operating point is the default twin's, wrong for another draw.
            throw RingTaskError(
                description:
                    "no calibration of \(board.wiring.name)/\(Composition.serial(of: board, randomize: draw)): run ringlab calibrate --randomize \(draw) first"
            )
        }
        if chooseFeedback {
            settings.feedback =
                feedback ?? RingSettings.defaultFeedback(task: settings.task, operatingPointFeedback: point.feedback)
        }
        var reservoir = ReservoirSettings(operatingPoint: point)
        reservoir.nodes = settings.nodes
        reservoir.feedback = settings.feedback
        reservoir.shots = settings.shots
        let loop = try DriveLoop(board: board, settings: reservoir)
        let backend: String
        switch board.wiring.backend {
        case .twin: backend = "twin"
        case .iio(let uri): backend = "iio:\(uri)"
        }
        let identity = RunBoardIdentity(
            board_file: path, board_file_sha256: try SHA256.hexDigest(ofFile: path), board_name: board.wiring.name,
            serial: Composition.serial(of: board, randomize: settings.randomizedTwin), backend: backend, calibration_file: calibration?.path,
            calibration_sha256: try calibration.map { try SHA256.hexDigest(ofFile: $0.path) },
            calibration_evaluation_noise: calibration?.record.values["evaluation_noise"]?.value,
            bias_volts: point.biasVolts.value, span_volts: point.spanVolts.value,
            latency_samples: point.latencySamples, feedback: reservoir.feedback, nodes: reservoir.nodes,
            samples_per_node: reservoir.samplesPerNode, shots: reservoir.shots, sample_rate_hz: board.sampleRate.value)
        return RingLoopSetup(loop: loop, identity: identity, calibration: calibration?.record)
    }
}

/// A ring run's drive loop and where its operating point came from (`TrainJobs.ringLoop`).
public struct RingLoopSetup {
    public let loop: DriveLoop
    public let identity: RunBoardIdentity
    /// The calibration read once for the operating point (nil: the board file's), so that a
    /// run's transfer curve is the same calibration's even if a new one lands meanwhile.
    public let calibration: CalibrationRecord?

    /// The ring model `settings` describe on this loop (static-curve: with the calibration's
    /// transfer curve, for a new run and a resumed one alike).
    public func model(task: RingTask, settings: RingSettings) throws -> RingModel {
        let curve = settings.mode == .staticCurve ? try transferCurve() : nil
        return RingModel(loop: loop, task: task, settings: settings, transferCurve: curve)
    }

    /// The static transfer curve of the board, from the calibration (the mean of the up and
    /// down sweeps), under the loop's drive map; nil without a calibration.
    public func transferCurve() throws -> StaticTransferCurve? {
        guard let calibration else { return nil }
        return try StaticTransferCurve(
            points: calibration.transferCurve.map { ($0.driveVolts, ($0.upVolts + $0.downVolts) / 2) },
            map: loop.driveMap)
    }
}
