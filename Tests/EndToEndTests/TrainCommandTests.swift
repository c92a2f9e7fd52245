import Foundation
import ReservoirTesting
import Testing

@Suite struct TrainCommandTests {
    func temporaryFolder() -> String { NSTemporaryDirectory() + "ringlab-run-\(UUID().uuidString)" }

    @Test func aRunKilledMidwayAndResumedEndsLikeAnUninterruptedOne() throws {
        let arguments = ["train", "mlp", "--task", "digits", "--mode", "pgt", "--budget", "30000", "--seed", "5", "--json"]
        let whole = temporaryFolder()
        let uninterrupted = try CommandRunner.ringlabJSON(arguments + ["--run-dir", whole])

        // The same run, killed with SIGKILL part-way (no chance to clean up), then resumed.
        let broken = temporaryFolder()
        let kill = try CommandRunner.killAfterFirstCheckpoint(arguments, folder: broken)
        #expect(kill.wasRunning && kill.endedBySignal && !kill.finished, "the kill must land mid-run: \(kill)")
        let resumed = try CommandRunner.ringlabJSON(["train", "resume", broken, "--json"])

        #expect(resumed["test_accuracy"] as? Double == uninterrupted["test_accuracy"] as? Double)
        #expect(resumed["forward_passes"] as? Int == uninterrupted["forward_passes"] as? Int)
        let parameters = { (folder: String) throws -> [Double] in
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/checkpoint.json"))
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let model = object?["model"] as? [String: Any]
            return (model?["update"] as? [String: Any])?["parameters"] as? [Double] ?? []
        }
        #expect(try parameters(broken) == (try parameters(whole)))
        for file in ["config.json", "steps.jsonl", "evaluations.jsonl", "summary.json", "loss.svg", "accuracy.svg"] {
            #expect(FileManager.default.fileExists(atPath: "\(broken)/\(file)"), "\(file) is missing")
        }
    }

    @Test func aRunKilledBeforeItsFirstCheckpointResumesFromTheStart() throws {
        let folder = temporaryFolder()
        let arguments = ["train", "mlp", "--task", "moons", "--mode", "backprop", "--budget", "4000", "--seed", "3", "--json"]
        let whole = try CommandRunner.ringlabJSON(arguments)
        // What a kill before the first checkpoint leaves: the configuration and no checkpoint.
        _ = try CommandRunner.ringlabJSON(arguments + ["--run-dir", folder])
        try FileManager.default.removeItem(atPath: folder + "/checkpoint.json")
        try FileManager.default.removeItem(atPath: folder + "/summary.json")
        let resumed = try CommandRunner.ringlabJSON(["train", "resume", folder, "--json"])
        #expect(resumed["test_accuracy"] as? Double == whole["test_accuracy"] as? Double)
    }

    @Test func resumingAFinishedRunSaysSoAndChangesNothing() throws {
        let folder = temporaryFolder()
        _ = try CommandRunner.ringlabJSON([
            "train", "mlp", "--task", "moons", "--mode", "backprop", "--budget", "2000", "--run-dir", folder, "--json",
        ])
        let files = ["summary.json", "checkpoint.json", "evaluations.jsonl", "steps.jsonl"]
        let before = try files.map { try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\($0)")) }
        let again = try CommandRunner.ringlab(["train", "resume", folder])
        #expect(again.status == 0)
        #expect(again.standardError.contains("finished already"), "\(again.standardError)")
        let after = try files.map { try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\($0)")) }
        #expect(before == after, "a finished run's files changed")
    }

    @Test func aTornLastLogLineIsToleratedOnResume() throws {
        let folder = temporaryFolder()
        let arguments = ["train", "mlp", "--task", "moons", "--mode", "backprop", "--budget", "4000", "--seed", "3", "--json"]
        let whole = try CommandRunner.ringlabJSON(arguments + ["--run-dir", folder])
        // What a crash mid-append leaves: no summary, half a line at the end of each log.
        try FileManager.default.removeItem(atPath: folder + "/summary.json")
        for log in ["evaluations.jsonl", "steps.jsonl"] {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(folder)/\(log)"))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("{\"forwardPas".utf8))
            try handle.close()
        }
        let resumed = try CommandRunner.ringlabJSON(["train", "resume", folder, "--json"])
        #expect(resumed["test_accuracy"] as? Double == whole["test_accuracy"] as? Double)
        // A damaged line that is not the last one is an error naming the file and line.
        try "{\"bad\": 1}\n".appendingFormat("%@", try String(contentsOfFile: folder + "/evaluations.jsonl", encoding: .utf8))
            .write(toFile: folder + "/evaluations.jsonl", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: folder + "/summary.json")
        let damaged = try CommandRunner.ringlab(["train", "resume", folder])
        #expect(damaged.status == 1)
        #expect(damaged.standardError.contains("evaluations.jsonl: line 1"), "\(damaged.standardError)")
    }

    @Test func aMissingOrUnwritableRunFolderIsOneLineNamingIt() throws {
        let missing = try CommandRunner.ringlab(["train", "resume", "/nonexistent/run"])
        #expect(missing.status == 1 && missing.standardError.contains("/nonexistent/run: no run folder"))
        let file = NSTemporaryDirectory() + "ringlab-a-file-\(UUID().uuidString)"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        let blocked = try CommandRunner.ringlab(["train", "mlp", "--budget", "100", "--run-dir", file + "/run"])
        #expect(blocked.status == 1)
        #expect(blocked.standardError == "ringlab: \(file)/run: cannot create the run folder: \(file) is a file, not a folder\n")
    }

    @Test func theSummaryHasTheDocumentedKeys() throws {
        let summary = try CommandRunner.ringlabJSON([
            "train", "mlp", "--task", "moons", "--mode", "backprop", "--budget", "4000", "--json",
        ])
        for key in ["test_accuracy", "forward_passes", "seconds", "mode", "seed"] {
            #expect(summary[key] != nil, "\(key) is missing")
        }
    }

    @Test func aBadCSVIsOneLineNamingFileLineAndColumn() throws {
        let path = NSTemporaryDirectory() + "ringlab-bad-\(UUID().uuidString).csv"
        try "a,b,label\n1,2,0\n3,oops,1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let outcome = try CommandRunner.ringlab(["train", "mlp", "--task", "csv:\(path)", "--budget", "100"])
        #expect(outcome.status != 0)
        #expect(outcome.standardError == "ringlab: \(path):3 column \"b\": found \"oops\", expected a number from −1e12 to 1e12\n")
    }
}
