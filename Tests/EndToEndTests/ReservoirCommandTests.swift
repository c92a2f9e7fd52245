import Foundation
import ReservoirTesting
import Testing

/// The acceptance commands for the drive loop, run as a user runs them.
@Suite struct ReservoirCommandTests {
    @Test func theDefaultTwinMeetsTheBenchmarkTargetsOnAverage() throws {
        // Seeds 1, 2 and 3, mean (the acceptance protocol of issue 3).
        let reports = try (1...3).map { seed in
            try CommandRunner.ringlabJSON(["reservoir", "--task", "all", "--json", "--seed", "\(seed)"])
        }
        func mean(_ key: String) -> Double {
            reports.map { $0[key] as? Double ?? .nan }.reduce(0, +) / Double(reports.count)
        }
        #expect(mean("stm") >= 6.0)
        #expect(mean("pc") >= 1.7)
        #expect(mean("narma10_nrmse") <= 0.70)
        #expect(mean("sine_square_accuracy") >= 0.95)
    }

    @Test func oneTaskPrintsOnlyItsKey() throws {
        let report = try CommandRunner.ringlabJSON(["reservoir", "--task", "stm", "--json"])
        #expect(Array(report.keys) == ["stm"])
    }

    @Test func theSweepPrintsBothTables() throws {
        let outcome = try CommandRunner.ringlab(["reservoir", "sweep", "--feedbacks", "0", "2.4", "--biases", "1.7877"])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.contains("feedback sweep"))
        #expect(outcome.standardOutput.contains("bias sweep"))
    }

    @Test func aBadTaskNameIsRefused() throws {
        let outcome = try CommandRunner.ringlab(["reservoir", "--task", "memory"])
        #expect(outcome.status != 0)
        #expect(outcome.standardError.contains("--task must be"))
    }
}

@Suite struct RunCommandTests {
    @Test(arguments: [
        ("interlock", "interlock"), ("adc-dropout", "io-error"), ("adc-stuck", "adc-stuck"),
        ("dac-failure", "io-error"), ("amp-failure", "ring-silent"), ("adc-saturated", "adc-over-range"),
    ])
    func anInjectedFaultEndsSafeAndSaysWhy(fault: String, reason: String) throws {
        let outcome = try CommandRunner.ringlab([
            "run", "--board", "hardware/boards/twin.yaml", "--seconds", "5", "--inject", "\(fault)@2", "--json",
        ])
        #expect(outcome.status != 0)
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any])
        #expect(report["final_state"] as? String == "safe")
        #expect(report["safe_reason"] as? String == reason)
        // The fault struck at 2 s: about 2000 periods of 1 ms ran before it.
        let periods = try #require(report["periods"] as? Int)
        #expect((1990...2030).contains(periods))
    }

    @Test func aCleanRunEndsSafeWithStatistics() throws {
        let report = try CommandRunner.ringlabJSON(["run", "--seconds", "2", "--json"])
        #expect(report["final_state"] as? String == "safe")
        #expect(report["safe_reason"] as? String == "end-of-run")
        #expect(report["deadline_misses"] as? Int == 0)
        #expect((report["periods"] as? Int ?? 0) >= 2000)
        #expect((report["wakeup_us"] as? [String: Double])?.keys.sorted() == ["max", "p50", "p99", "p99.9"])
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalEndsARunInTheSafeState(signal: Int32) throws {
        // A real process, a real signal: the loop notices it within a period, enters the safe
        // state, prints its report and exits non-zero. (Lock-step, so that a loaded test
        // machine cannot trip the 3 ms watchdog of a paced run first.)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.executablePath)
        process.arguments = ["run", "--seconds", "120", "--json"]
        process.currentDirectoryURL = URL(fileURLWithPath: TwinFixtures.packageRoot)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        Thread.sleep(forTimeInterval: 1.5)
        kill(process.processIdentifier, signal)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(report["final_state"] as? String == "safe")
        #expect(report["safe_reason"] as? String == "signal")
        #expect((report["seconds_streamed"] as? Double ?? 120) < 100)
    }

    @Test func anUnknownFaultIsRefusedNamingTheChoices() throws {
        let outcome = try CommandRunner.ringlab(["run", "--inject", "meltdown@1"])
        #expect(outcome.status != 0)
        #expect(outcome.standardError.contains("unknown fault meltdown"))
    }
}

@Suite struct BenchLoopCommandTests {
    @Test func benchLoopPrintsItsFigures() throws {
        let report = try CommandRunner.ringlabJSON([
            "bench", "loop", "--lock-step-seconds", "1", "--paced-seconds", "0.5", "--json",
        ])
        for key in ["lockstep_periods_per_second", "compute_us_per_period_mean", "paced_wakeup_us"] {
            #expect(report[key] != nil, "\(key) is missing")
        }
    }
}
