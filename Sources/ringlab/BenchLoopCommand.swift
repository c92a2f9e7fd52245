import ArgumentParser
import Foundation
import ReservoirBenchmarks
import ReservoirControl
import ReservoirHAL
import ReservoirHardware
import RinglabJobs

/// `ringlab bench loop`: the drive loop's speed in lock-step, its own compute per period, and
/// its wake-up latency when paced, beside cyclictest's at the same period and priority.
struct BenchLoopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loop",
        abstract: "Measure the drive loop: lock-step speed, compute per period, paced wake-up latency.")

    @Option(name: .long, parsing: .unconditional, help: "Seconds of board time for the lock-step run.")
    var lockStepSeconds: Double = 10

    @Option(name: .long, parsing: .unconditional, help: "Wall seconds for the paced run and for cyclictest.")
    var pacedSeconds: Double = 3

    @Option(name: .long, help: "SCHED_FIFO priority of the loop thread and of cyclictest.")
    var priority: Int32 = 70

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    struct Report: Encodable {
        var lockstep_periods_per_second: Double
        var lockstep_realtime_factor: Double
        var compute_us_per_period_mean: Double
        var compute_us_per_period_max: Double
        var paced_wakeup_us: [String: Double]
        /// The ADC refill after the wake-up, timed apart (the paced twin simulates its period there).
        var paced_refill_us: [String: Double]
        var paced_deadline_misses: Int
        var cyclictest_wakeup_us: [String: Double]?
        var cyclictest_note: String?
        var loop_fifo_scheduling: Bool
    }

    func run() throws {
        let report = try reportingErrors { () throws -> Report in
            // Lock-step: the twin and the loop as fast as the CPU allows.
            let (lockBoard, _) = try Composition.board(
                file: Composition.locateDefault(Composition.defaultBoardFile), seed: 1)
            let settings = ReservoirSettings(operatingPoint: try Composition.operatingPoint(of: lockBoard, quiet: true))
            let lockLoop = try DriveLoop(board: lockBoard, settings: settings)
            let started = ContinuousClock.now
            _ = RandomDriveRun.run(
                loop: lockLoop, seconds: lockStepSeconds, inputScale: ReservoirExperiment.defaultInputScale, seed: 1)
            let wall = (ContinuousClock.now - started).seconds
            let periodsPerSecond = Double(lockLoop.statistics.periods) / wall

            // Paced: the same loop against the twin on CLOCK_MONOTONIC, on a real-time thread.
            let (pacedBoard, _) = try Composition.board(
                file: Composition.locateDefault(Composition.defaultBoardFile), seed: 1, clock: MonotonicClock())
            let pacedLoop = try DriveLoop(board: pacedBoard, settings: settings, watchdogTimeout: .seconds(1))
            pacedLoop.limits.stopsOnDeadlineMiss = false
            let (_, setup) = RealtimeThread.run(priority: priority) {
                RandomDriveRun.run(
                    loop: pacedLoop, seconds: pacedSeconds, inputScale: ReservoirExperiment.defaultInputScale, seed: 2)
            }
            let paced = pacedLoop.statistics
            let periodMicroseconds = Int(
                (Double(settings.samplesPerPeriod) / pacedBoard.sampleRate.value * 1e6).rounded())
            let cyclictest = Cyclictest.run(
                intervalMicroseconds: periodMicroseconds, loops: Int(pacedSeconds * 1e6) / periodMicroseconds,
                priority: priority)
            return Report(
                lockstep_periods_per_second: periodsPerSecond,
                lockstep_realtime_factor: periodsPerSecond * Double(periodMicroseconds) / 1e6,
                compute_us_per_period_mean: lockLoop.statistics.meanComputeMicroseconds,
                compute_us_per_period_max: Double(lockLoop.statistics.maximumComputeNanoseconds) / 1000,
                paced_wakeup_us: [
                    "p50": paced.wakeUpMicroseconds(percentile: 50), "p99": paced.wakeUpMicroseconds(percentile: 99),
                    "p99.9": paced.wakeUpMicroseconds(percentile: 99.9), "max": paced.maximumWakeUpMicroseconds,
                ],
                paced_refill_us: [
                    "p50": paced.refillMicroseconds(percentile: 50), "p99": paced.refillMicroseconds(percentile: 99),
                    "p99.9": paced.refillMicroseconds(percentile: 99.9), "max": Double(paced.refillTime.max) / 1000,
                ],
                paced_deadline_misses: paced.deadlineMisses,
                cyclictest_wakeup_us: cyclictest.percentiles, cyclictest_note: cyclictest.note,
                loop_fifo_scheduling: setup.fifoScheduling)
        }
        if json {
            try printJSON(report)
            return
        }
        print("drive loop benchmark (N = 50, S = 4, τ = 1 ms; twin board)")
        print(
            String(
                format: "  lock-step            %.0f periods/s (%.1f× real time)", report.lockstep_periods_per_second,
                report.lockstep_realtime_factor))
        print(
            String(
                format: "  loop compute/period  %.2f µs mean, %.1f µs max (twin simulation excluded; target ≤ 20 µs)",
                report.compute_us_per_period_mean, report.compute_us_per_period_max))
        func row(_ name: String, _ values: [String: Double]) -> String {
            String(
                format: "  %@ p50 %7.1f  p99 %7.1f  p99.9 %7.1f  max %7.1f µs",
                name.padding(toLength: 20, withPad: " ", startingAt: 0), values["p50"]!, values["p99"]!,
                values["p99.9"]!, values["max"]!)
        }
        print(
            "  wake-up latency (paced, SCHED_FIFO \(priority)\(report.loop_fifo_scheduling ? "" : " refused: ordinary thread")):"
        )
        print(row("ringlab loop", report.paced_wakeup_us))
        if let values = report.cyclictest_wakeup_us { print(row("cyclictest", values)) }
        if let note = report.cyclictest_note { print("  cyclictest: \(note)") }
        print("  after the wake-up, the refill (the paced twin simulating its period), apart:")
        print(row("refill", report.paced_refill_us))
        print("  paced deadline misses \(report.paced_deadline_misses)")
    }
}

