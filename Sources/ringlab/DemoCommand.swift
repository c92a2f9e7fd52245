import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirTraining

/// `ringlab demo` (what `make demo` runs): the ring as a trained layer, on the in-process twin;
/// the three ways to train it side by side at equal device time.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract:
            "Train the ring model on digits on the twin three ways at equal device time: a fixed mask (readout), PGT over the pre-layer's parameters, PGT over the ring's drives.")

    @Option(
        name: .customLong("device-seconds"), parsing: .unconditional,
        help: "Seconds of training drive each PGT run may stream (the fixed mask takes what its fit needs).")
    var deviceSeconds = TrainJobs.demoDeviceSeconds

    @Option(name: .long, parsing: .unconditional, help: "Virtual nodes N.")
    var nodes = RingSettings().nodes

    @Option(name: .long, parsing: .unconditional, help: "Seed of the split, the mask, the batches and the twin's noise.")
    var seed: UInt64 = 1

    @Option(name: .customLong("runs"), help: "Folder for the three run directories (default: runs/demo-<UTC time>).")
    var runsFolder: String?

    @Flag(name: .long, help: "Print the three runs' summaries as JSON.")
    var json = false

    func validate() throws {
        try NumericOption("--device-seconds", deviceSeconds, 0.01...1e6).check()
        try NumericOption("--nodes", Double(nodes), 1...4_096).check()
    }

    func run() throws {
        try reportingErrors {
            let stamp = ISO8601DateFormatter.string(
                from: Date(), timeZone: TimeZone(identifier: "UTC")!,
                formatOptions: [.withYear, .withMonth, .withDay, .withTime])
            let folder = runsFolder ?? "runs/demo-\(stamp)Z"
            if !json {
                print(
                    "ringlab demo: digits on the twin (N = \(nodes), seed \(seed)), the ring a layer of the network, trained three ways; up to \(Int(deviceSeconds)) device seconds each"
                )
            }
            fflush(nil)  // before the progress lines on stderr, also when stdout is a pipe
            var runs: [(name: String, summary: TrainingSummary, what: String)] = []
            for (name, what) in TrainJobs.demoRuns {
                var settings = RingSettings()
                settings.task = "digits"
                settings.nodes = nodes
                settings.seed = seed
                if name == "readout" {
                    settings.mode = .readout
                } else {
                    settings.perturbation = RingSettings.Perturbation(rawValue: name)!
                    settings.deviceSeconds = deviceSeconds
                }
                let summary = try TrainJobs.ring(
                    settings, feedback: nil, directory: "\(folder)/\(name)",
                    progress: ProgressLines.training(metric: .accuracy))
                runs.append((name, summary, what))
            }
            if json {
                try printJSON(Dictionary(uniqueKeysWithValues: runs.map { ($0.name, $0.summary) }))
                return
            }
            print("  training     test accuracy   device s (training)   samples streamed   wall time")
            for run in runs {
                print(
                    "  " + run.name.padding(toLength: 13, withPad: " ", startingAt: 0)
                        + String(
                            format: "%.4f          %-21.1f %-18d %.1f s  ", run.summary.test_accuracy ?? .nan,
                            run.summary.device_seconds_training ?? .nan, run.summary.samples_streamed ?? 0,
                            run.summary.seconds) + "(\(run.what))")
            }
            print("runs: " + runs.map { "\(folder)/\($0.name)" }.joined(separator: ", ") + " (config, board.json, logs, summary.json)")
            print("plots: \(folder)/drive/accuracy.svg (against device seconds), and the same in each run")
        }
    }
}
