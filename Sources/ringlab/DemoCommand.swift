import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirTraining

/// `ringlab demo` (what `make demo` runs): the ring as a trained layer, on the in-process twin.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train the ring model on digits on the twin: PGT (pgt-hybrid) against a fixed mask (readout).")

    @Option(name: .long, parsing: .unconditional, help: "Forward passes of the PGT run.")
    var budget = TrainJobs.demoBudget

    @Option(name: .long, parsing: .unconditional, help: "Virtual nodes N.")
    var nodes = RingSettings().nodes

    @Option(name: .long, parsing: .unconditional, help: "Seed of the split, the mask, the batches and the twin's noise.")
    var seed: UInt64 = 1

    @Option(name: .customLong("runs"), help: "Folder for the two run directories (default: runs/demo-<UTC time>).")
    var runsFolder: String?

    @Flag(name: .long, help: "Print the two runs' summaries as JSON.")
    var json = false

    func validate() throws {
        try NumericOption("--budget", Double(budget), 2...1e9).check()
        try NumericOption("--nodes", Double(nodes), 1...4_096).check()
    }

    func run() throws {
        try reportingErrors {
            let stamp = ISO8601DateFormatter.string(
                from: Date(), timeZone: TimeZone(identifier: "UTC")!,
                formatOptions: [.withYear, .withMonth, .withDay, .withTime])
            let folder = runsFolder ?? "runs/demo-\(stamp)Z"
            if !json {
                print("ringlab demo: digits on the twin (N = \(nodes), seed \(seed)); the ring is a layer of the network")
            }
            fflush(nil)  // before the progress lines on stderr, also when stdout is a pipe

            var settings = RingSettings()
            settings.task = "digits"
            settings.nodes = nodes
            settings.seed = seed
            settings.budget = budget
            settings.mode = .readout
            let readout = try TrainJobs.ring(
                settings, feedback: nil, directory: "\(folder)/readout",
                progress: ProgressLines.training(metric: .accuracy))
            settings.mode = .pgtHybrid
            let hybrid = try TrainJobs.ring(
                settings, feedback: nil, directory: "\(folder)/pgt-hybrid",
                progress: ProgressLines.training(metric: .accuracy))

            if json {
                try printJSON(["readout": readout, "pgt-hybrid": hybrid])
                return
            }
            print("  mode         test accuracy   samples streamed   wall time")
            print(
                String(
                    format: "  readout      %.4f          %-18d %.1f s  (fixed mask, ridge readouts)",
                    readout.test_accuracy ?? .nan, readout.samples_streamed ?? 0, readout.seconds))
            print(
                String(
                    format: "  pgt-hybrid   %.4f          %-18d %.1f s  (pre-layer by PGT through the ring, %d passes of %d)",
                    hybrid.test_accuracy ?? .nan, hybrid.samples_streamed ?? 0, hybrid.seconds, hybrid.forward_passes,
                    settings.batch))
            print(
                String(
                    format: "  converters busy %.1f%% of the pgt-hybrid run's streamed time (as if paced)",
                    100 * (hybrid.converter_utilization ?? .nan)))
            print("runs: \(folder)/readout and \(folder)/pgt-hybrid (config, board.json, logs, summary.json)")
            print("plots: \(folder)/pgt-hybrid/accuracy.svg and \(folder)/pgt-hybrid/loss.svg")
        }
    }
}
