import Foundation
import ReservoirTesting
import Testing

@Suite struct DemoCommandTests {
    @Test func theDemoPrintsBothModesWithTheirFigures() throws {
        let runs = NSTemporaryDirectory() + "ringlab-demo-\(UUID().uuidString)"
        let outcome = try CommandRunner.ringlab(["demo", "--budget", "400", "--runs", runs])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput.contains("runs: \(runs)/readout and \(runs)/pgt-hybrid"))
        for file in [
            "pgt-hybrid/summary.json", "pgt-hybrid/accuracy.svg", "pgt-hybrid/board.json", "readout/summary.json",
        ] {
            #expect(FileManager.default.fileExists(atPath: "\(runs)/\(file)"), "\(file) is missing")
        }
        let lines = outcome.standardOutput.split(separator: "\n")
        for mode in ["readout", "pgt-hybrid"] {
            let row = try #require(lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(mode + " ") })
            let fields = row.split(separator: " ")
            let accuracy = try #require(Double(fields[1]))
            #expect(accuracy > (mode == "readout" ? 0.85 : 0.8) && accuracy <= 1, "\(row)")
            // Readout: the training split for the fit, then both splits to evaluate (1797
            // samples); pgt-hybrid: 400 passes of 32 samples and its evaluations besides.
            let streamed = try #require(Int(fields[2]))
            #expect(mode == "readout" ? streamed > 1797 && streamed < 2 * 1797 : streamed > 400 * 32, "\(row)")
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
