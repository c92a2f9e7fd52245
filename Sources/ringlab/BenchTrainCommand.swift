import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirControl
import ReservoirHAL
import ReservoirHardware
import ReservoirTraining

/// `ringlab bench train`: what a ring training step costs beside its forward passes, how busy
/// the converters are against the paced twin, and the memory a training run needs.
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Measure ring training at the demo settings: bookkeeping per step, converter utilization, memory.")

    @Option(name: .long, parsing: .unconditional, help: "Forward passes of the lock-step run.")
    var budget = RingTrainingBenchmark.lockStepBudget

    @Option(name: .customLong("paced-budget"), parsing: .unconditional, help: "Forward passes of the run against the paced twin.")
    var pacedBudget = RingTrainingBenchmark.pacedBudget

    func validate() throws {
        try NumericOption("--budget", Double(budget), 2...1e7).check()
        try NumericOption("--paced-budget", Double(pacedBudget), 2...1e6).check()
    }

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let report = try reportingErrors {
            try RingTrainingBenchmark.measure(budget: budget, pacedBudget: pacedBudget) { text in
                FileHandle.standardError.write(Data("bench train: \(text)…\n".utf8))
            }
        }
        if json {
            try printJSON(report)
            return
        }
        print("ring training at the demo settings (digits, pgt-hybrid, N = \(report.nodes), batch \(report.batch))")
        print(
            String(
                format: "  per step (lock-step twin): forward passes %.3f ms, bookkeeping %.3f ms",
                report.forward_ms_per_step,
                report.bookkeeping_ms_per_step))
        print(
            String(
                format:
                    "  bookkeeping ÷ forward-pass time: %.2f %% of the lock-step twin's, %.2f %% of the streamed time (target ≤ 5 %%)",
                100 * report.bookkeeping_fraction_lockstep, 100 * report.bookkeeping_fraction_paced))
        print(
            String(
                format:
                    "  converter utilization: %.1f %% against the paced twin (%d deadline misses, %d stream restarts); %.1f %% as if paced in lock-step (target ≥ 95 %%)",
                100 * report.paced_utilization, report.paced_deadline_misses, report.paced_stream_restarts,
                100 * report.utilization_as_paced_lockstep))
        print(
            String(
                format: "  peak resident memory of the lock-step training run: %.1f MB", report.peak_resident_megabytes)
        )
        for notice in report.notices { print("  \(notice)") }
    }
}
