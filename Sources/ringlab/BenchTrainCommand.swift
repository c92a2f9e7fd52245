import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirControl
import ReservoirHAL
import ReservoirHardware
import ReservoirTraining

#if canImport(Glibc)
    import Glibc
#endif

/// `ringlab bench train`: what a ring training step costs beside its forward passes, how busy
/// the converters are against the paced twin, and the memory a training run needs.
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Measure ring training at the demo settings: bookkeeping per step, converter utilization, memory.")

    @Option(name: .long, parsing: .unconditional, help: "Forward passes of the lock-step run.")
    var budget = 4_000

    @Option(name: .customLong("paced-budget"), parsing: .unconditional, help: "Forward passes of the run against the paced twin.")
    var pacedBudget = 300

    func validate() throws {
        try NumericOption("--budget", Double(budget), 2...1e7).check()
        try NumericOption("--paced-budget", Double(pacedBudget), 2...1e6).check()
    }

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    struct Report: Encodable {
        var nodes: Int
        var batch: Int
        var forward_passes: Int
        var steps: Int
        /// Per step, lock-step twin: forward passes (pre-layer, ring, readout loss) and the rest.
        var forward_ms_per_step: Double
        var bookkeeping_ms_per_step: Double
        /// Bookkeeping ÷ forward-pass time, lock-step (the twin's CPU time) and paced (the
        /// converters' streamed time of the step's passes).
        var bookkeeping_fraction_lockstep: Double
        var bookkeeping_fraction_paced: Double
        var utilization_as_paced_lockstep: Double
        /// Paced twin (CLOCK_MONOTONIC): evaluation periods' time ÷ wall time of the run.
        var paced_utilization: Double
        var paced_deadline_misses: Int
        var paced_stream_restarts: Int
        var peak_resident_megabytes: Double
        var notices: [String]
    }

    func run() throws {
        let report = try reportingErrors { () throws -> Report in
            var settings = RingSettings()
            settings.task = "digits"
            settings.budget = budget
            settings.evaluations = 1
            let task = try RingTask.named(
                "digits", seed: settings.seed, digitsFile: Composition.locateDefault("data/digits.csv"))

            // Lock-step: the twin as fast as the CPU runs it.
            var lockStep = settings
            let (loop, _) = try TrainJobs.ringLoop(for: &lockStep, chooseFeedback: true, feedback: nil, quiet: true)
            let training = RingModel(loop: loop, task: task, settings: lockStep)
            progress("lock-step run of \(budget) passes")
            _ = try TrainingRun(model: training, plan: lockStep.plan).run()
            let steps = Double(max(training.steps, 1))
            let forward = Double(training.forwardNanoseconds) / steps / 1e6
            let bookkeeping = Double(training.stepNanoseconds - training.forwardNanoseconds) / steps / 1e6
            let periodMilliseconds =
                Double(loop.samplesPerPeriod) / loop.board.sampleRate.value * 1e3
            // A step streams 2 passes of `batch` samples, one period each (no feedback: D = 1).
            let streamedPerStep = Double(2 * settings.batch * loop.delayPeriods) * periodMilliseconds
            let period = loop.board.sampleRate.duration(of: SampleCount(loop.samplesPerPeriod)).nanoseconds
            let asPaced = loop.statistics.utilizationAsPaced(periodNanoseconds: period)
            // Before the paced run: its real-time thread locks all memory (mlockall), which
            // makes every thread's reserved malloc arena resident.
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            let peakMegabytes = Double(usage.ru_maxrss) / 1024

            // Paced: the same training against the twin on CLOCK_MONOTONIC, on a real-time thread.
            var paced = settings
            paced.budget = pacedBudget
            let (pacedLoop, _) = try TrainJobs.ringLoop(
                for: &paced, chooseFeedback: true, feedback: nil, clock: MonotonicClock(), quiet: true)
            pacedLoop.limits.stopsOnDeadlineMiss = false
            progress(
                "paced run of \(pacedBudget) passes (\(String(format: "%.1f", Double(pacedBudget) * Double(settings.batch) * periodMilliseconds / 1000)) s of streaming)"
            )
            let pacedTraining = TrainingRun(model: RingModel(loop: pacedLoop, task: task, settings: paced), plan: paced.plan)
            let (outcome, setup) = RealtimeThread.run { () -> Result<(Double, Int64), Error> in
                let started = rt_now()
                do {
                    _ = try pacedTraining.run()
                    return .success((Double(rt_now() - started), 0))
                } catch {
                    return .failure(error)
                }
            }
            let wall = try outcome.get().0
            let pacedStatistics = pacedLoop.statistics
            let pacedUtilization = Double(pacedStatistics.evaluationPeriods) * Double(period) / wall

            return Report(
                nodes: loop.settings.nodes, batch: settings.batch, forward_passes: training.steps * training.passesPerStep,
                steps: training.steps, forward_ms_per_step: forward, bookkeeping_ms_per_step: bookkeeping,
                bookkeeping_fraction_lockstep: bookkeeping / forward,
                bookkeeping_fraction_paced: bookkeeping / streamedPerStep,
                utilization_as_paced_lockstep: asPaced, paced_utilization: pacedUtilization,
                paced_deadline_misses: pacedStatistics.deadlineMisses,
                paced_stream_restarts: pacedStatistics.streamRestarts,
                peak_resident_megabytes: peakMegabytes, notices: setup.notices)
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

    private func progress(_ text: String) {
        FileHandle.standardError.write(Data("bench train: \(text)…\n".utf8))
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
private func rt_now() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}
