import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirControl
import ReservoirFiles
import ReservoirHAL
import ReservoirHardware
import ReservoirTraining

/// `ringlab bench iio`: the network path against `ringlab twin serve` on 127.0.0.1 — streaming
/// throughput of ringlab's libiio client beside libiio's own `iio_readdev`, and how busy the
/// converters stay when a ring model trains over the network against the paced twin.
struct BenchIIOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iio", abstract: "Measure the IIO network path: client throughput and training utilization.")

    @Option(name: .long, parsing: .unconditional, help: "ADC samples each client reads.")
    var samples = 2_000_000

    @Option(name: .customLong("block"), parsing: .unconditional, help: "Samples per refill.")
    var blockSamples = 4_096

    @Option(name: .customLong("training-passes"), parsing: .unconditional, help: "Forward passes of the paced training run.")
    var trainingPasses = IIOPathBenchmark.trainingPasses

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let report = try reportingErrors {
            try IIOPathBenchmark.measure(
                executable: URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path,
                samples: samples, blockSamples: blockSamples, trainingPasses: trainingPasses)
        }
        if json {
            try printJSON(report)
            return
        }
        print(
            String(
                format:
                    "ADC streaming over ip (blocks of %d): ringlab %.0f samples/s, iio_readdev %.0f samples/s, ratio %.2f (target ≥ 0.9)",
                blockSamples, report.ringlab_samples_per_second, report.iio_readdev_samples_per_second,
                report.ringlab_samples_per_second / report.iio_readdev_samples_per_second))
        if report.iio_readdev_status != 0 { print("  (iio_readdev exited \(report.iio_readdev_status))") }
        print(
            String(
                format:
                    "training over ip against the paced twin (%d passes, moons, N = %d): converters busy %.1f %% (target ≥ 90 %%), %d deadline misses, %d stream restarts",
                trainingPasses, report.nodes, 100 * report.training_utilization, report.training_deadline_misses,
                report.training_stream_restarts))
    }
}
