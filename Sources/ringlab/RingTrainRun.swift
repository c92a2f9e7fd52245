import Foundation
import ReservoirCalibration
import ReservoirControl
import ReservoirFiles
import ReservoirHAL
import ReservoirTraining

/// What a ring run records of the device it ran on (board.json in the run directory).
struct RunBoardIdentity: Codable {
    var board_file: String
    var board_file_sha256: String
    var board_name: String
    var serial: String
    var backend: String
    /// The calibration the operating point came from (nil: the board file's operating point).
    var calibration_file: String?
    var calibration_sha256: String?
    var calibration_evaluation_noise: Double?
    var bias_volts: Double
    var span_volts: Double
    var latency_samples: Int
    var feedback: Double
    var nodes: Int
    var samples_per_node: Int
    var shots: Int
    var sample_rate_hz: Double
}

/// `ringlab train --model ring`: builds the loop on the board, then trains (or resumes) the
/// ring model, or fits the classic reservoir's readout (`--mode readout`).
enum RingTrainRun {
    /// The ring model's feedback default: 0 for independent samples (one sample's state would
    /// leak into the next), the operating point's for sequences (their memory).
    static func defaultFeedback(task: String, point: BoardDescription.OperatingPoint) -> Double {
        task == "sine-square" || task == "narma10" ? point.feedback : 0
    }

    /// A drive loop for `settings` on its board; the board's identity for the run directory.
    /// A new run (`chooseFeedback`) sets the settings' feedback: `feedback`, or the default
    /// for its task at the board's operating point; a resumed run keeps its own.
    static func loop(
        for settings: inout RingTrainingSettings, chooseFeedback: Bool, feedback: Double?,
        clock: any BoardClock = ManualClock(), quiet: Bool = false
    ) throws -> (DriveLoop, RunBoardIdentity) {
        let path = Composition.locateDefault(settings.board)
        let (board, _) = try Composition.board(file: path, seed: settings.seed, clock: clock)
        let (point, calibration) = try Composition.calibratedOperatingPoint(of: board, quiet: quiet)
        if chooseFeedback { settings.feedback = feedback ?? defaultFeedback(task: settings.task, point: point) }
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
            serial: board.wiring.serial, backend: backend, calibration_file: calibration?.path,
            calibration_sha256: try calibration.map { try SHA256.hexDigest(ofFile: $0.path) },
            calibration_evaluation_noise: calibration?.record.values["evaluation_noise"]?.value,
            bias_volts: point.biasVolts.value, span_volts: point.spanVolts.value,
            latency_samples: point.latencySamples, feedback: reservoir.feedback, nodes: reservoir.nodes,
            samples_per_node: reservoir.samplesPerNode, shots: reservoir.shots, sample_rate_hz: board.sampleRate.value)
        return (loop, identity)
    }

    /// Trains as `settings` say (or continues the run in `resume`), reporting progress on
    /// stderr; returns the summary.
    static func run(
        settings newSettings: RingTrainingSettings, feedback: Double?, runDirectory: String?, resume: String?,
        showProgress: Bool = true
    ) throws -> RingTrainingSummary {
        let directory = try resume.map { try RunDirectory(resuming: $0) } ?? runDirectory.map { try RunDirectory(path: $0) }
        var settings = newSettings
        if resume != nil {
            settings = try directory!.loadConfiguration(RingTrainingSettings.self)
        }
        // The loop's feedback is part of the configuration, so a resume rebuilds it exactly.
        let (loop, identity) = try loop(for: &settings, chooseFeedback: resume == nil, feedback: feedback)
        if resume == nil {
            try directory?.saveConfiguration(settings)
            try directory?.saveRecord(identity, named: "board.json")
        }
        let task = try RingTask.named(
            settings.task, seed: settings.seed, digitsFile: Composition.locateDefault("data/digits.csv"))
        if settings.mode == .readout {
            let summary = try readout(task: task, loop: loop, settings: settings)
            try directory?.saveRecord(summary, named: "summary.json")
            return summary
        }
        let training = RingTraining(loop: loop, task: task, settings: settings, runDirectory: directory)
        if resume != nil { try training.resume() }
        return try training.run(progress: showProgress ? progressLines(settings: settings) : { _ in })
    }

    /// Classic reservoir computing through the ring: the fixed mask, ridge readouts.
    static func readout(task: RingTask, loop: DriveLoop, settings: RingTrainingSettings) throws
        -> RingTrainingSummary
    {
        let started = Date()
        var summary = RingTrainingSummary(
            task: settings.task, mode: settings.mode.rawValue, seed: settings.seed, nodes: loop.settings.nodes,
            forward_passes: 0, steps: 0, converter_utilization: 0, seconds: 0)
        switch task {
        case .samples(let split):
            let result = try RingReadoutTraining(loop: loop, inputScale: settings.inputScale, seed: settings.seed)
                .run(split: split)
            summary.test_accuracy = result.testAccuracy
            summary.train_accuracy = result.trainAccuracy
            summary.forward_passes = result.samplesStreamed
        case .sequence(let kind, let data):
            let experiment = ReservoirExperiment(loop: loop, inputScale: settings.inputScale, seed: settings.seed)
            let states = try experiment.states(
                inputs: data.inputs, centre: data.inputCentre, halfRange: data.inputHalfRange)
            let metric = TaskScore.score(kind, data: data, states: states, width: loop.settings.nodes)
            if kind == .narma10 { summary.test_nrmse = metric } else { summary.test_accuracy = metric }
            summary.forward_passes = 1
        }
        summary.converter_utilization = loop.statistics.utilizationAsPaced(
            periodNanoseconds: loop.board.sampleRate.duration(of: SampleCount(loop.samplesPerPeriod)).nanoseconds)
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// Progress on stderr: the σ calibration, then a line per evaluation and, on a terminal,
    /// a bar updated every half second.
    static func progressLines(settings: RingTrainingSettings) -> (RingProgress) -> Void {
        let terminal = isatty(STDERR_FILENO) != 0
        let started = Date()
        var lastBar = Date.distantPast
        let metric = settings.task == "narma10" ? "nrmse" : "accuracy"
        func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
        return { event in
            switch event {
            case .sigma(let sigma, let noise, let difference):
                write(
                    String(
                        format:
                            "train: σ calibrated on the board: %.4g (loss noise %.3g, pilot |ΔL| %.3g at σ₀ 0.02)\n",
                        sigma, noise, difference))
            case .step(_, let passes, let loss):
                guard terminal, Date().timeIntervalSince(lastBar) > 0.5 else { return }
                lastBar = Date()
                let fraction = Double(passes) / Double(settings.budget)
                let elapsed = Date().timeIntervalSince(started)
                let filled = Int(fraction * 30)
                write(
                    "\r" + String(repeating: "█", count: filled) + String(repeating: "·", count: 30 - filled)
                        + String(
                            format: " %5.1f%%  passes %d  loss %.4f  ETA %.0f s ", 100 * fraction, passes, loss,
                            fraction > 0 ? elapsed * (1 - fraction) / fraction : 0))
            case .evaluation(let evaluation):
                let fraction = Double(evaluation.forwardPasses) / Double(settings.budget)
                let elapsed = Date().timeIntervalSince(started)
                write(
                    (terminal ? "\r" : "")
                        + String(
                            format: "train: %5.1f%%  step %d  passes %d  train %@ %.4f  test %@ %.4f  ETA %.0f s\n",
                            100 * fraction, evaluation.step, evaluation.forwardPasses, metric,
                            evaluation.trainMetric, metric, evaluation.testMetric,
                            fraction > 0 ? elapsed * max(1 - fraction, 0) / fraction : 0))
            }
        }
    }
}
