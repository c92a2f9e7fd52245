import Foundation
import ReservoirControl
import ReservoirHAL
import ReservoirHardware
import ReservoirTraining

#if canImport(Glibc)
    import Glibc
#endif

/// `ringlab bench train`: what a ring training step costs beside its forward passes, how busy
/// the converters are against the paced twin, and the memory a training run needs, at the
/// demo settings (digits, pgt-hybrid).
public enum RingTrainingBenchmark {
    /// Forward passes of the lock-step run: 2,000 steps, enough for stable per-step means.
    public static let lockStepBudget = 4_000
    /// Forward passes against the paced twin: about 10 s of streaming at N = 50, batch 32.
    public static let pacedBudget = 300
    public struct Report: Encodable, Sendable {
        public var nodes: Int
        public var batch: Int
        public var forward_passes: Int
        public var steps: Int
        /// Per step, lock-step twin: forward passes (pre-layer, ring, readout loss) and the rest.
        public var forward_ms_per_step: Double
        public var bookkeeping_ms_per_step: Double
        /// Bookkeeping ÷ forward-pass time, lock-step (the twin's CPU time) and paced (the
        /// converters' streamed time of the step's passes).
        public var bookkeeping_fraction_lockstep: Double
        public var bookkeeping_fraction_paced: Double
        public var utilization_as_paced_lockstep: Double
        /// Paced twin (CLOCK_MONOTONIC): evaluation periods' time ÷ wall time of the run.
        public var paced_utilization: Double
        public var paced_deadline_misses: Int
        public var paced_stream_restarts: Int
        public var peak_resident_megabytes: Double
        public var notices: [String]
    }


    /// A lock-step run of `budget` passes, then a paced one of `pacedBudget` on a real-time
    /// thread; `progress` hears of each.
    public static func measure(budget: Int, pacedBudget: Int, progress: (String) -> Void) throws -> Report {

        var settings = RingSettings()
        settings.task = "digits"
        settings.budget = budget
        settings.evaluations = 1
        let task = try RingTask.named(
            "digits", seed: settings.seed, digitsFile: Composition.locateDefault("data/digits.csv"))

        // Lock-step: the twin as fast as the CPU runs it.
        var lockStep = settings
        let loop = try TrainJobs.ringLoop(for: &lockStep, chooseFeedback: true, feedback: nil, quiet: true).loop
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
        let period = loop.period.nanoseconds
        let asPaced = loop.statistics.utilizationAsPaced(periodNanoseconds: period)
        // Before the paced run: its real-time thread locks all memory (mlockall), which
        // makes every thread's reserved malloc arena resident.
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let peakMegabytes = Double(usage.ru_maxrss) / 1024

        // Paced: the same training against the twin on CLOCK_MONOTONIC, on a real-time thread.
        var paced = settings
        paced.budget = pacedBudget
        let pacedLoop = try TrainJobs.ringLoop(
            for: &paced, chooseFeedback: true, feedback: nil, clock: MonotonicClock(), quiet: true
        ).loop
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
}

/// CLOCK_MONOTONIC in nanoseconds.
private func rt_now() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}
