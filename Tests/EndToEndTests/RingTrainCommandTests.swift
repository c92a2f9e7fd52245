import Foundation
import ReservoirTesting
import Testing

/// `ringlab train ring`: reproducible, resumable, and the tasks beyond digits.
@Suite struct RingTrainCommandTests {
    func temporaryFolder() -> String { NSTemporaryDirectory() + "ringlab-ring-\(UUID().uuidString)" }

    @Test func theSameSeedGivesTheSameSummary() throws {
        let arguments = ["train", "ring", "--task", "moons", "--budget", "400", "--seed", "4", "--json"]
        let first = try CommandRunner.ringlabJSON(arguments)
        let second = try CommandRunner.ringlabJSON(arguments)
        for key in ["test_accuracy", "train_accuracy", "sigma", "forward_passes", "steps"] {
            #expect(first[key] != nil, "\(key) is missing")
            #expect("\(first[key] ?? "")" == "\(second[key] ?? "")", "\(key)")
        }
    }

    /// Either strategy, killed with SIGKILL after a checkpoint and resumed, ends as the
    /// uninterrupted run does (θ, the strategy's optimizer, step and σ are in the checkpoint;
    /// drive-space trains on noisy inputs here, whose draws follow the step).
    @Test(arguments: ["parameters", "drive"])
    func aRingRunKilledMidwayAndResumedEndsLikeAnUninterruptedOne(perturb: String) throws {
        let arguments =
            [
                "train", "ring", "--task", "digits", "--perturb", perturb, "--budget", "6000", "--nodes", "30", "--seed",
                "2", "--json",
            ] + (perturb == "drive" ? ["--input-noise", "0.3"] : [])
        let whole = temporaryFolder()
        let uninterrupted = try CommandRunner.ringlabJSON(arguments + ["--run-dir", whole])

        // The same run, killed with SIGKILL part-way (no chance to clean up), then resumed.
        let broken = temporaryFolder()
        let kill = try CommandRunner.killAfterFirstCheckpoint(arguments, folder: broken)
        #expect(kill.wasRunning && kill.endedBySignal && !kill.finished, "the kill must land mid-run: \(kill)")
        if perturb == "parameters" {
            // As a folder written before issue 14 holds it: without the settings added since
            // (a pgt-hybrid run without a perturbation perturbed the parameters).
            try Self.removeSettings(
                ["perturbation", "validation", "driveDirections", "driveDirectionKind", "preHidden", "preLearningRate"],
                from: broken + "/config.json")
        }
        let resumed = try CommandRunner.ringlabJSON(["train", "resume", broken, "--json"])

        for key in ["test_accuracy", "train_accuracy", "forward_passes", "steps", "sigma", "samples_streamed", "device_seconds"] {
            #expect("\(resumed[key] ?? "")" == "\(uninterrupted[key] ?? "")", "\(key)")
        }
        let parameters = { (folder: String) throws -> [Double] in
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/checkpoint.json"))
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            return (object?["model"] as? [String: Any])?["theta"] as? [Double] ?? []
        }
        #expect(try parameters(broken) == (try parameters(whole)))
        #expect(try !parameters(whole).isEmpty)
        for file in [
            "config.json", "board.json", "steps.jsonl", "evaluations.jsonl", "summary.json", "loss.svg", "accuracy.svg",
        ] {
            #expect(FileManager.default.fileExists(atPath: "\(broken)/\(file)"), "\(file) is missing")
        }
        // The board's identity: file, hash and the calibration the operating point came from.
        let board =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: broken + "/board.json"))) as? [String: Any]
        #expect((board?["board_file_sha256"] as? String)?.count == 64)
        #expect((board?["calibration_file"] as? String)?.contains("calibration/twin/default/") == true)
    }

    /// A readout run stopped after its checkpoint (the ridge fit and the evaluation done, no
    /// summary yet) resumes without fitting again: the same figures and passes.
    @Test func aReadoutRunResumedAfterItsCheckpointDoesNotFitAgain() throws {
        let folder = temporaryFolder()
        let arguments = ["train", "ring", "--mode", "readout", "--task", "moons", "--seed", "3", "--json"]
        let whole = try CommandRunner.ringlabJSON(arguments + ["--run-dir", folder])
        try FileManager.default.removeItem(atPath: folder + "/summary.json")
        let resumed = try CommandRunner.ringlabJSON(["train", "resume", folder, "--json"])
        for key in ["test_accuracy", "train_accuracy", "forward_passes", "steps", "samples_streamed", "device_seconds"] {
            #expect(resumed[key] != nil && "\(resumed[key] ?? "")" == "\(whole[key] ?? "")", "\(key)")
        }
    }

    /// A static-curve run killed in its offline fit (before its first checkpoint) resumes from
    /// the start, through the same calibration's curve, and ends as the whole run did.
    @Test func aStaticCurveRunResumedBeforeItsCheckpointFitsThroughTheCurve() throws {
        let folder = temporaryFolder()
        let arguments = ["train", "ring", "--mode", "static-curve", "--task", "digits", "--nodes", "30", "--seed", "2", "--json"]
        let whole = try CommandRunner.ringlabJSON(arguments + ["--run-dir", folder])
        for file in ["summary.json", "checkpoint.json"] { try FileManager.default.removeItem(atPath: folder + "/" + file) }
        let resumed = try CommandRunner.ringlabJSON(["train", "resume", folder, "--json"])
        for key in ["test_accuracy", "train_accuracy", "samples_streamed", "device_seconds"] {
            #expect(resumed[key] != nil && "\(resumed[key] ?? "")" == "\(whole[key] ?? "")", "\(key)")
        }
    }

    /// A drive-space run saved before drive-space took a hidden layer, a budget-dependent rate
    /// and noisy training inputs by default (its config.json without any of them) resumes as it
    /// was run then: no hidden layer, the pre-layer at 0.003, clean inputs.
    @Test func aDriveRunSavedBeforeTheHiddenLayerResumesWithoutOne() throws {
        let folder = temporaryFolder()
        let arguments = [
            "train", "ring", "--task", "digits", "--perturb", "drive", "--pre-hidden", "0", "--lr", "0.003",
            "--input-noise", "0", "--budget", "600", "--nodes", "30", "--seed", "2", "--json",
        ]
        let whole = try CommandRunner.ringlabJSON(arguments + ["--run-dir", folder])
        for file in ["summary.json", "checkpoint.json"] { try FileManager.default.removeItem(atPath: folder + "/" + file) }
        try Self.removeSettings(["preHidden", "preLearningRate", "inputNoise"], from: folder + "/config.json")
        let resumed = try CommandRunner.ringlabJSON(["train", "resume", folder, "--json"])
        for key in ["test_accuracy", "train_accuracy", "test_loss", "sigma", "samples_streamed"] {
            #expect(resumed[key] != nil && "\(resumed[key] ?? "")" == "\(whole[key] ?? "")", "\(key)")
        }
    }

    /// Rewrites a run's config.json without `keys` in its ring settings.
    static func removeSettings(_ keys: [String], from path: String) throws {
        let url = URL(fileURLWithPath: path)
        var configuration = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var ring = try #require(configuration["ring"] as? [String: Any])
        for key in keys { #expect(ring.removeValue(forKey: key) != nil, "\(key) not saved") }
        configuration["ring"] = ring
        try JSONSerialization.data(withJSONObject: configuration).write(to: url)
    }

    /// A budget in device seconds: the training drive it buys (plus σ calibration's 8 passes
    /// and the range probes; the bound allows 18) is what the summary reports, apart from the
    /// evaluations'.
    @Test func aDeviceSecondsBudgetSpendsThatMuchTrainingDrive() throws {
        let summary = try CommandRunner.ringlabJSON([
            "train", "ring", "--task", "moons", "--device-seconds", "3", "--perturb", "drive", "--json",
        ])
        let training = try #require(summary["device_seconds_training"] as? Double)
        let evaluation = try #require(summary["device_seconds_evaluation"] as? Double)
        let total = try #require(summary["device_seconds"] as? Double)
        #expect(training >= 2.9 && training < 3 + 18 * 0.032 + 0.2, "training drive \(training) s")
        #expect(abs(training + evaluation - total) < 1e-9 && evaluation > 0)
    }

    @Test func sineSquareIsLearnedThroughTheFeedbackLoop() throws {
        let summary = try CommandRunner.ringlabJSON([
            "train", "ring", "--task", "sine-square", "--budget", "1000", "--json",
        ])
        let accuracy = try #require(summary["test_accuracy"] as? Double)
        #expect(accuracy >= 0.97, "sine-square test accuracy \(accuracy)")
    }

    @Test func narma10ReportsItsNRMSEAndTheConvertersUtilization() throws {
        let summary = try CommandRunner.ringlabJSON([
            "train", "ring", "--task", "narma10", "--budget", "200", "--json",
        ])
        let nrmse = try #require(summary["test_nrmse"] as? Double)
        // Below 1: better than predicting the mean (the warm start's ridge fit alone gets ~0.6).
        #expect(nrmse > 0 && nrmse < 0.9, "NARMA10 NRMSE \(nrmse)")
        #expect(summary["test_accuracy"] == nil)
        let utilization = try #require(summary["converter_utilization"] as? Double)
        #expect(utilization > 0.5 && utilization <= 1, "utilization \(utilization)")
    }

    @Test func aHiddenPreLayerTrainsToo() throws {
        let summary = try CommandRunner.ringlabJSON([
            "train", "ring", "--task", "moons", "--budget", "600", "--pre-hidden", "8", "--json",
        ])
        let accuracy = try #require(summary["test_accuracy"] as? Double)
        #expect(accuracy > 0.8, "moons with a hidden pre-layer: \(accuracy)")
    }

    @Test func aBadModeIsRefusedWithTheChoices() throws {
        let outcome = try CommandRunner.ringlab(["train", "ring", "--mode", "spsa"])
        #expect(outcome.status != 0)
        #expect(outcome.standardError.contains("pgt-hybrid, pgt, readout or static-curve"))
    }
}
