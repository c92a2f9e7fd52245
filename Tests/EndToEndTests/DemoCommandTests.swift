import Foundation
import ReservoirTesting
import Testing

@Suite struct DemoCommandTests {
    @Test func theDemoPrintsTheThreeStrategiesAtEqualDeviceTime() throws {
        let runs = NSTemporaryDirectory() + "ringlab-demo-\(UUID().uuidString)"
        let outcome = try CommandRunner.ringlab(["demo", "--device-seconds", "12", "--runs", runs])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput.contains("runs: \(runs)/readout, \(runs)/parameters, \(runs)/drive"))
        for file in [
            "drive/summary.json", "drive/accuracy.svg", "drive/board.json", "parameters/summary.json",
            "readout/summary.json",
        ] {
            #expect(FileManager.default.fileExists(atPath: "\(runs)/\(file)"), "\(file) is missing")
        }
        let plot = try String(contentsOfFile: "\(runs)/drive/accuracy.svg", encoding: .utf8)
        #expect(plot.contains("training drive on the device (s)"))
        let lines = outcome.standardOutput.split(separator: "\n")
        for name in ["readout", "parameters", "drive"] {
            let row = try #require(lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(name + " ") })
            let fields = row.split(separator: " ")
            let accuracy = try #require(Double(fields[1]))
            #expect(accuracy > (name == "readout" ? 0.85 : 0.8) && accuracy <= 1, "\(row)")
            // The PGT runs stream 12 s of training (a pass of 32 samples is 32 ms: 375 passes);
            // the fixed mask what its fit streams, one pass over the training split (1.3 s).
            let seconds = try #require(Double(fields[2]))
            #expect(name == "readout" ? seconds > 1 && seconds < 2 : abs(seconds - 12) < 0.1, "\(row)")
        }
    }

    @Test(arguments: ["readout", "pgt-hybrid"])
    func theRingModelsJSONHasTheSummaryKeys(mode: String) throws {
        let summary = try CommandRunner.ringlabJSON(
            ["train", "ring", "--mode", mode, "--task", "moons", "--json"] + (mode == "readout" ? [] : ["--budget", "100"]))
        for key in ["test_accuracy", "train_accuracy", "converter_utilization"] {
            let value = try #require(summary[key] as? Double, "\(key) is missing")
            #expect(value > 0.5 && value <= 1, "\(key) \(value)")
        }
        #expect((summary["seconds"] as? Double ?? -1) > 0)
        #expect(summary["mode"] as? String == mode)
        #expect((summary["forward_passes"] as? Int ?? 0) > 0)
    }
}
