import Foundation
import ReservoirTesting
import Testing

/// Every option of every `ringlab train` form, under every mode, either changes the run (its
/// config.json or board.json differ from the run without it) or is refused with a line that
/// names it. The options are read from `--help`, so a new option without a sample value here
/// fails the walk until it gets one.
@Suite struct TrainOptionWalkTests {
    /// A value unlike the default and the base run's, per option (nil: a flag).
    static let samples: [String: [String: String?]] = [
        "mlp": [
            "--task": "digits", "--budget": "300", "--hidden": "5", "--batch": "7", "--final-batch": "all",
            "--directions": "2", "--sigma": "0.002", "--lr": "0.01", "--optimizer": "sgd",
            "--direction-kind": "gaussian", "--no-per-sample": nil, "--layer-blocks": nil, "--sides": "one",
            "--schedule": "constant", "--initialization": "fan-in", "--beta1": "0.5", "--weight-decay": "0.01", "--clip-norm": "1",
            "--reject-above": "0.5", "--seed": "9", "--validation": nil,
        ],
        "ring": [
            "--task": "csv:\(tinyCSV)", "--budget": "60", "--batch": "5", "--sigma": "0.03", "--lr": "0.01",
            "--readout-lr": "0.02", "--weight-decay": "0.2", "--pre-hidden": "3", "--no-per-sample": nil,
            "--shots": "2", "--board": TwinFixtures.packageRoot + "/hardware/boards/twin.yaml", "--nodes": "9",
            "--feedback": "0.5", "--seed": "9", "--perturb": "parameters", "--device-seconds": "3", "--validation": nil,
            "--sigma-multiple": "5", "--drive-directions": "2", "--direction-kind": "gaussian",
            "--input-noise": "0.05",
        ],
        "transformer": [
            "--task": "csv:\(tinySignals)", "--reservoir": "ring", "--budget": "6", "--epochs": "0.01", "--blocks": "2",
            "--reservoir-block": "2", "--width": "16", "--heads": "2", "--patch": "8", "--expansion": "16",
            "--batch": "16", "--lr": "0.03", "--weight-decay": "0.3", "--sigma": "0.1",
            "--board": TwinFixtures.packageRoot + "/hardware/boards/twin.yaml", "--shots": "2", "--seed": "9",
            "--validation": nil,
        ],
    ]
    /// What is not walked: the mode (the walk's axis), where and how the result is written, and
    /// the thread count, which by design changes how fast, not what (the thread-count test), and
    /// a randomized twin, which needs its own calibration first (CalibrateCommandTests).
    static let exempt: Set<String> = [
        "--mode", "--run-dir", "--json", "--help", "-h", "--threads", "--per-sample", "--randomize",
    ]
    static let modes = [
        "mlp": ["pgt", "backprop", "spsa"], "ring": ["pgt-hybrid", "pgt", "readout", "static-curve"],
        "transformer": ["backprop", "pgt-hybrid", "readout"],
    ]

    static let tinyCSV: String = {
        let path = NSTemporaryDirectory() + "ringlab-walk-\(getpid()).csv"
        var lines = ["a,b,label"]
        for row in 0..<24 { lines.append("\(Double(row % 5) / 4),\(Double(row % 3) / 2),\(row % 2)") }
        try? (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    /// 40 classes-of-2 signals of 40 samples, for the transformer's --task.
    static let tinySignals: String = {
        let path = NSTemporaryDirectory() + "ringlab-walk-signals-\(getpid()).csv"
        var lines = [(0..<40).map { "x\($0)" }.joined(separator: ",") + ",label"]
        for row in 0..<40 { lines.append((0..<40).map { "\(Double(($0 * (row + 1)) % 7) / 7)" }.joined(separator: ",") + ",\(row % 2)") }
        try? (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    static func base(_ model: String, mode: String) -> [String] {
        if model == "transformer" { return ["--budget", "4", "--batch", "8"] }
        if model == "mlp" { return ["--task", "moons", "--budget", "200", "--hidden", "4"] }
        return ["--task", "moons", "--nodes", "8"] + (mode == "readout" || mode == "static-curve" ? [] : ["--budget", "40", "--sigma", "0.02"])
    }

    /// The options `ringlab train MODEL --help` lists.
    static func options(_ model: String) throws -> [String] {
        let help = try CommandRunner.ringlab(["train", model, "--help"]).standardOutput
        var found: [String] = []
        for line in help.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("--") || trimmed.hasPrefix("-h") else { continue }
            let names = trimmed.split(separator: " ")[0].split(separator: ",").flatMap { $0.split(separator: "/") }
            found += names.map(String.init).filter { $0.hasPrefix("-") }
        }
        return found
    }

    /// config.json and board.json of a run in a fresh folder.
    static func record(_ arguments: [String]) throws -> (CommandRunner.Outcome, Data) {
        let folder = NSTemporaryDirectory() + "ringlab-walk-\(UUID().uuidString)"
        let outcome = try CommandRunner.ringlab(arguments + ["--run-dir", folder])
        let files = ["config.json", "board.json"].compactMap { FileManager.default.contents(atPath: "\(folder)/\($0)") }
        try? FileManager.default.removeItem(atPath: folder)
        return (outcome, files.reduce(Data(), +))
    }

    @Test(arguments: ["mlp", "ring", "transformer"])
    func everyOptionChangesTheRunOrIsRefused(model: String) throws {
        let options = try Self.options(model)
        #expect(options.count > 10, "\(options)")
        for option in options where !Self.exempt.contains(option) {
            #expect(Self.samples[model]![option] != nil, "\(option) has no sample value in the walk")
        }
        for mode in Self.modes[model]! {
            let base = ["train", model, "--mode", mode] + Self.base(model, mode: mode)
            let (baseline, baseRecord) = try Self.record(base)
            #expect(baseline.status == 0, "\(base): \(baseline.standardError)")
            for option in options where !Self.exempt.contains(option) {
                guard let sample = Self.samples[model]![option] else { continue }
                var arguments = base
                if let index = arguments.firstIndex(of: option) {
                    arguments.removeSubrange(index...(index + 1))
                }
                arguments += [option] + (sample.map { [$0] } ?? [])
                let (outcome, record) = try Self.record(arguments)
                if outcome.status == 64 {
                    #expect(
                        outcome.standardError.contains(option) && outcome.standardError.contains("does not apply"),
                        "\(mode) \(option): \(outcome.standardError)")
                } else {
                    #expect(outcome.status == 0, "\(mode) \(option): \(outcome.standardError)")
                    #expect(record != baseRecord, "\(model) \(mode): \(option) was accepted but changed nothing")
                }
            }
        }
    }
}
