import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirTraining

/// `ringlab train`: one subcommand per model, so that every option applies to the run it names.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train a model within a forward-pass budget.",
        subcommands: [TrainMLPCommand.self, TrainRingCommand.self, TrainTransformerCommand.self, TrainResumeCommand.self])
}

/// Options every training run has.
struct RunOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Seed of the split, the initialization, the batches and the directions.")
    var seed: UInt64 = 1

    @Option(name: .customLong("run-dir"), help: "Folder for the run's configuration, logs, checkpoints, summary and plots.")
    var runDirectory: String?

    @Flag(
        name: .long,
        help: "Evaluate on a validation split carved from the training split (20%), never the test split: for tuning.")
    var validation = false

    @Flag(name: .long, help: "Print the summary as JSON.")
    var json = false
}

/// Refuses an option the chosen model or mode does not use, naming it and why.
func refuse(_ given: Bool, _ option: String, _ reason: String) throws {
    if given { throw ValidationError("\(option) does not apply \(reason)") }
}

/// Runs a training job; an interrupted run with a checkpoint says how to continue it. A folder
/// that holds a finished run is left alone.
func runTraining(folder: String?, json: Bool, _ job: () throws -> TrainingSummary) throws {
    if let folder, let earlier = try? RunDirectory(resuming: folder), let summary = earlier.finishedSummary {
        FileHandle.standardError.write(
            Data("ringlab: \(folder) finished already (summary.json); nothing to resume, nothing changed\n".utf8))
        if json { FileHandle.standardOutput.write(summary) }
        return
    }
    let summary: TrainingSummary
    do {
        summary = try reportingErrors(job)
    } catch {
        if let folder, (try? RunDirectory(resuming: folder))?.canResume == true {
            FileHandle.standardError.write(
                Data("ringlab: the run's last checkpoint is in \(folder); continue it with: ringlab train resume \(folder)\n".utf8))
        }
        throw error
    }
    if json {
        try printJSON(summary)
        return
    }
    let metric =
        summary.test_nrmse.map { String(format: "test NRMSE %.4f", $0) }
        ?? String(format: "test accuracy %.4f (train %.4f)", summary.test_accuracy ?? .nan, summary.train_accuracy ?? .nan)
    var line = String(
        format: "%@ %@ on %@: %@ after %d forward passes", summary.model, summary.mode, summary.task, metric,
        summary.forward_passes)
    if let nodes = summary.nodes, let busy = summary.converter_utilization {
        line += String(format: ", N = %d, converters %.1f%% busy", nodes, 100 * busy)
    }
    print(line + String(format: " (%.1f s, seed %llu)", summary.seconds, summary.seed))
    if let folder { print("run directory: \(folder) (config, logs, checkpoint, summary, plots)") }
}

/// `ringlab train resume DIR`: continues a stopped run, whichever model it trains.
struct TrainResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Continue the run in a folder from its last checkpoint.")

    @Argument(help: "The run's folder.")
    var folder: String

    @Option(
        name: .long, parsing: .unconditional,
        help: "Threads for an MLP's forward passes (default: one per core, up to 2). Results do not depend on it.")
    var threads: Int?

    @Flag(name: .long, help: "Print the summary as JSON.")
    var json = false

    func validate() throws { try NumericOption("--threads", threads.map(Double.init), 1...64).check() }

    func run() throws {
        _ = try reportingErrors { try RunDirectory(resuming: folder) }
        try runTraining(folder: folder, json: json) {
            let configuration = try RunConfiguration.load(from: RunDirectory(resuming: folder))
            let metric = configuration.ring?.metric ?? .accuracy
            return try TrainJobs.resume(
                folder, threads: threads, progress: ProgressLines.training(metric: metric))
        }
    }
}
