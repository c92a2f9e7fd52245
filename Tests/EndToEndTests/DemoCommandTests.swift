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
            #expect(accuracy > 0.5 && accuracy <= 1, "\(row)")
            #expect(Int(fields[2]) == (mode == "readout" ? 1797 : 400), "\(row)")
        }
    }

    @Test(arguments: ["readout", "pgt-hybrid"])
    func theRingModelsJSONHasTheSummaryKeys(mode: String) throws {
        let summary = try CommandRunner.ringlabJSON(
            ["train", "--model", "ring", "--mode", mode, "--budget", "100", "--task", "moons", "--json"])
        for key in ["test_accuracy", "train_accuracy", "seconds", "converter_utilization"] {
            let value = try #require(summary[key] as? Double, "\(key) is missing")
            #expect(value.isFinite && value >= 0)
        }
        #expect(summary["mode"] as? String == mode)
        #expect((summary["forward_passes"] as? Int ?? 0) > 0)
    }
}
