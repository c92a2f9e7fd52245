import Foundation
import ReservoirTesting
import Testing

/// `ringlab train transformer` as a user runs it: MNIST-1D, every mode and reservoir, the
/// summary, refusals, and a run killed with SIGKILL that resumes to the uninterrupted end.
@Suite struct TransformerCommandTests {
    func temporaryFolder() -> String { NSTemporaryDirectory() + "ringlab-transformer-\(UUID().uuidString)" }

    @Test(arguments: [("none", "backprop"), ("digital", "backprop"), ("digital", "pgt-hybrid"), ("digital", "readout")])
    func aShortRunPrintsItsTestAccuracy(reservoir: String, mode: String) throws {
        let summary = try CommandRunner.ringlabJSON([
            "train", "transformer", "--task", "mnist1d", "--reservoir", reservoir, "--mode", mode, "--budget", "60",
            "--seed", "2", "--json",
        ])
        let accuracy = try #require(summary["test_accuracy"] as? Double)
        // 30 steps of 128 signals lift every mode above chance (10 %).
        #expect(accuracy > 0.13, "\(reservoir) \(mode): \(accuracy)")
        #expect(summary["model"] as? String == "transformer" && summary["mode"] as? String == mode)
        #expect(summary["reservoir"] as? String == reservoir)
        #expect(summary["forward_passes"] as? Int == 60)
        let parameters = try #require(summary["parameters"] as? Int)
        let trainable = try #require(summary["trainable_parameters"] as? Int)
        #expect(mode == "readout" ? trainable < parameters : trainable == parameters)
    }

    @Test func theRingRunsAsAReservoirAndReportsItsDeviceTime() throws {
        let summary = try CommandRunner.ringlabJSON([
            "train", "transformer", "--reservoir", "ring", "--mode", "pgt-hybrid", "--budget", "8", "--seed", "2", "--json",
        ])
        #expect(summary["reservoir"] as? String == "ring")
        #expect(summary["nodes"] as? Int == 32)
        // 4 steps × 2 evaluations × 128 signals × 10 tokens, one 0.64-ms period each.
        let training = try #require(summary["device_seconds_training"] as? Double)
        #expect(abs(training - 4 * 2 * 128 * 10 * 0.00064) < 1e-6, "\(training)")
        #expect((summary["samples_streamed"] as? Int ?? 0) > 4 * 2 * 128 * 10)
    }

    @Test func aRunKilledMidwayAndResumedEndsLikeAnUninterruptedOne() throws {
        let arguments = [
            "train", "transformer", "--mode", "pgt-hybrid", "--budget", "400", "--seed", "3", "--json",
        ]
        let whole = temporaryFolder()
        let uninterrupted = try CommandRunner.ringlabJSON(arguments + ["--run-dir", whole])
        let broken = temporaryFolder()
        let kill = try CommandRunner.killAfterFirstCheckpoint(arguments, folder: broken)
        #expect(kill.wasRunning && kill.endedBySignal && !kill.finished, "the kill must land mid-run: \(kill)")
        let resumed = try CommandRunner.ringlabJSON(["train", "resume", broken, "--json"])
        for key in ["test_accuracy", "train_accuracy", "test_loss", "forward_passes", "steps"] {
            #expect("\(resumed[key] ?? "")" == "\(uninterrupted[key] ?? "")", "\(key)")
        }
    }

    @Test(arguments: [
        (["--reservoir", "ring", "--mode", "backprop"], "--reservoir ring does not apply to --mode backprop: the ring cannot be differentiated"),
        (["--reservoir", "none", "--mode", "pgt-hybrid"], "--reservoir none does not apply to --mode pgt-hybrid"),
        (["--mode", "spsa"], "--mode must be backprop, pgt-hybrid or readout; found spsa"),
        (["--heads", "5"], "--heads 5 does not apply to --width 32"),
        (["--blocks", "1", "--reservoir-block", "2"], "--reservoir-block 2 does not apply to --blocks 1"),
        (["--mode", "backprop", "--sigma", "0.1"], "--sigma does not apply to --mode backprop"),
        (["--patch", "3"], "--patch 3 must divide the task's 40 samples per signal"),
        (["--task", "digits"], "--task must be mnist1d or csv:PATH; found digits"),
    ])
    func badOptionsAreRefusedWithOneClearLine(arguments: [String], message: String) throws {
        let outcome = try CommandRunner.ringlab(["train", "transformer", "--budget", "4"] + arguments)
        #expect(outcome.status != 0)
        #expect(outcome.standardError.contains(message), "\(outcome.standardError)")
    }
}
