import ArgumentParser
import Foundation
import ReservoirControl
import ReservoirHAL
import ReservoirTraining

/// `ringlab demo` (what `make demo` runs): the ring as a trained layer, on the in-process twin.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train the ring model on digits on the twin: PGT (pgt-hybrid) against a fixed mask (readout).")

    @Option(name: .long, help: "Forward passes of the PGT run.")
    var budget = 10_000

    @Option(name: .long, help: "Virtual nodes N.")
    var nodes = 50

    @Option(name: .long, help: "Seed of the split, the mask, the batches and the twin's noise.")
    var seed: UInt64 = 1

    func run() throws {
        try reportingErrors {
            let split = DatasetSplit(
                try Datasets.loadCSV(Composition.locateDefault("data/digits.csv"), name: "digits"), seed: seed)
            func loop() throws -> DriveLoop {
                let (board, _) = try Composition.board(
                    file: Composition.locateDefault(Composition.defaultBoardFile), seed: seed)
                var settings = ReservoirSettings(operatingPoint: try Composition.operatingPoint(of: board, quiet: true))
                settings.nodes = nodes
                settings.feedback = 0
                return try DriveLoop(board: board, settings: settings)
            }
            print("ringlab demo: digits on the twin (N = \(nodes), seed \(seed)); the ring is a layer of the network")
            fflush(nil)  // before the progress lines on stderr, also when stdout is a pipe

            var started = Date()
            let readout = try RingReadoutTraining(
                loop: try loop(), inputScale: ReservoirExperiment.defaultInputScale, seed: seed
            ).run(split: split)
            let readoutSeconds = Date().timeIntervalSince(started)

            var settings = RingHybridTraining.Settings()
            settings.budget = budget
            settings.seed = seed
            let hybrid = RingHybridTraining(loop: try loop(), split: split, settings: settings)
            started = Date()
            var nextReport = budget / 10
            let accuracy = try hybrid.run { passes, loss in
                guard passes >= nextReport else { return }
                nextReport += budget / 10
                let elapsed = Date().timeIntervalSince(started)
                let eta = elapsed * Double(budget - passes) / Double(max(passes, 1))
                FileHandle.standardError.write(
                    Data(
                        String(
                            format: "demo: pgt-hybrid %3.0f%%  passes %d  loss %.3f  ETA %.0f s\n",
                            100 * Double(passes) / Double(budget), passes, loss, eta
                        ).utf8))
            }
            let hybridSeconds = Date().timeIntervalSince(started)

            print("  mode         test accuracy   forward passes   wall time")
            print(
                String(
                    format: "  readout      %.4f          %-16d %.1f s  (fixed mask, ridge readouts)",
                    readout.testAccuracy,
                    readout.samplesStreamed, readoutSeconds))
            print(
                String(
                    format: "  pgt-hybrid   %.4f          %-16d %.1f s  (pre-layer by PGT through the ring)", accuracy,
                    hybrid.forwardPasses, hybridSeconds))
            print("  (a readout pass streams one sample; a pgt-hybrid pass streams a batch of \(settings.batch))")
        }
    }
}
