import ArgumentParser
import Foundation
import ReservoirBenchmarks
import ReservoirControl
import ReservoirHAL
import ReservoirHardware
import ReservoirTwin
import RinglabJobs

/// `ringlab run`: streams random input through the drive loop and prints its statistics.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Stream random input through the drive loop and print its statistics.")

    @Option(name: .long, help: "Board file.")
    var board: String = Composition.defaultBoardFile

    @Option(name: .long, parsing: .unconditional, help: "Seconds of board time to stream.")
    var seconds: Double = 5

    @Flag(name: .long, help: "Follow the wall clock (hardware always does); default for the twin: lock-step.")
    var paced = false

    @Option(name: .long, help: "Twin fault to inject, FAULT@SECONDS (\(TwinFault.names.joined(separator: ", "))).")
    var inject: [String] = []

    @Option(
        name: .customLong("watchdog-ms"), parsing: .unconditional,
        help: "Watchdog timeout in ms (default: 3 periods when paced, 2 s in lock-step).")
    var watchdogMilliseconds: Int?

    @Option(name: .long, parsing: .unconditional, help: "Seed of the input and the twin's noise.")
    var seed: UInt64 = 1

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func validate() throws {
        guard seconds > 0, seconds <= 86_400 else { throw ValidationError("--seconds must be in (0, 86400]") }
        if let watchdogMilliseconds, watchdogMilliseconds < 1 {
            throw ValidationError("--watchdog-ms must be at least 1")
        }
        for spec in inject { _ = try Self.fault(spec) }
    }

    /// A `FAULT@SECONDS` option, or a usage error naming what was wrong.
    static func fault(_ text: String) throws -> TwinFaultSpecification {
        do { return try TwinFaultSpecification(text) } catch { throw ValidationError("--inject: \(error)") }
    }

    struct Report: Encodable {
        var periods: Int
        var seconds_streamed: Double
        var deadline_misses: Int
        var underrun_samples: Int?
        var overrange_periods: Int
        var final_state: String
        var safe_reason: String
        var safe_detail: String
        var compute_us_mean: Double
        var compute_us_max: Double
        var wakeup_us: [String: Double]
        var interlock_to_safe_ms: Double?
        var memory_locked: Bool
        var fifo_scheduling: Bool
        var pinned_cpu: Int?
    }

    func run() throws {
        let report = try reportingErrors { () throws -> Report in
            let clock: any BoardClock = paced ? MonotonicClock() : ManualClock()
            let (board, twin) = try Composition.board(
                file: Composition.locateDefault(self.board), seed: seed, clock: clock)
            if !inject.isEmpty {
                guard let twin else { throw ValidationError("--inject needs a twin board; \(self.board) is hardware") }
                for spec in inject {
                    let fault = try Self.fault(spec)
                    twin.inject(fault.fault, at: .seconds(fault.seconds))
                }
            }
            let loop = try DriveLoop(
                board: board, settings: ReservoirSettings(operatingPoint: Composition.operatingPoint(of: board)),
                watchdogTimeout: watchdogMilliseconds.map { .milliseconds($0) })
            // A soak run counts late blocks rather than stopping at the first.
            loop.limits.stopsOnDeadlineMiss = false
            RealtimeThread.installStopSignalHandlers()
            let (outcome, setup) = RealtimeThread.run {
                RandomDriveRun.run(
                    loop: loop, seconds: seconds, inputScale: ReservoirExperiment.defaultInputScale, seed: seed)
            }
            if !json { for notice in setup.notices { FileHandle.standardError.write(Data("\(notice)\n".utf8)) } }
            let statistics = loop.statistics
            return Report(
                periods: statistics.periods, seconds_streamed: outcome.streamedSeconds,
                deadline_misses: statistics.deadlineMisses, underrun_samples: twin?.statistics.underrunSamples,
                overrange_periods: statistics.overRangePeriods,
                final_state: outcome.safeState.ringDisabled ? "safe" : "unsafe",
                safe_reason: outcome.reason.name, safe_detail: outcome.reason.description,
                compute_us_mean: statistics.meanComputeMicroseconds,
                compute_us_max: Double(statistics.maximumComputeNanoseconds) / 1000,
                wakeup_us: [
                    "p50": statistics.wakeUpMicroseconds(percentile: 50),
                    "p99": statistics.wakeUpMicroseconds(percentile: 99),
                    "p99.9": statistics.wakeUpMicroseconds(percentile: 99.9),
                    "max": statistics.maximumWakeUpMicroseconds,
                ],
                interlock_to_safe_ms: statistics.interlockToSafeNanoseconds.map { Double($0) / 1e6 },
                memory_locked: setup.memoryLocked, fifo_scheduling: setup.fifoScheduling, pinned_cpu: setup.pinnedCPU)
        }
        if json {
            try printJSON(report)
        } else {
            print(
                "periods            \(report.periods) (\(String(format: "%.3f", report.seconds_streamed)) s of board time)"
            )
            print("deadline misses    \(report.deadline_misses)")
            if let underruns = report.underrun_samples { print("DAC underruns      \(underruns) samples") }
            print("ADC over range     \(report.overrange_periods) periods")
            print(
                String(
                    format: "compute / period   %.1f µs mean, %.1f µs max", report.compute_us_mean,
                    report.compute_us_max))
            print(
                String(
                    format: "wake-up latency    p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs",
                    report.wakeup_us["p50"]!, report.wakeup_us["p99"]!, report.wakeup_us["p99.9"]!,
                    report.wakeup_us["max"]!))
            print("final state        \(report.final_state) (\(report.safe_detail))")
            if let reaction = report.interlock_to_safe_ms {
                print(String(format: "interlock reaction %.1f ms from the edge to the safe state", reaction))
            }
        }
        if report.safe_reason != SafeReason.endOfRun.name || report.final_state != "safe" { throw ExitCode.failure }
    }
}
