import Foundation
import ReservoirTesting
import Testing

/// Issue 12's bad-input corpus: generated command lines, board files, calibration files and
/// CSVs that are wrong in the ways a user or a damaged file is. For each: exit status 1 (64
/// for usage), one line on stderr that names the option, file or field, done within 10 s,
/// and a peak resident set under 500 MB (measured per process with wait4).
@Suite struct BadInputCorpusTests {
    struct Case: CustomStringConvertible, Sendable {
        var arguments: [String]
        var environment: [String: String] = [:]
        var status: Int32
        /// What the one line must contain (the option, the file, the field).
        var names: [String]
        var description: String { arguments.joined(separator: " ") }
    }

    /// (option, values it refuses) of each command's numeric options.
    static let commandLines: [Case] = {
        let anyNumber = ["nan", "inf", "-inf", "1e30", "x"]
        let negative = ["-1", "=-1"]
        var cases: [Case] = []
        func add(_ command: [String], _ option: String, _ values: [String]) {
            for value in values {
                let arguments = value.hasPrefix("=") ? [option + value] : [option, value]
                cases.append(Case(arguments: command + arguments, status: 64, names: [option]))
            }
        }
        for option in [
            "--budget", "--hidden", "--batch", "--directions", "--sigma", "--lr", "--weight-decay", "--clip-norm",
            "--reject-above", "--threads",
        ] { add(["train", "mlp"], option, anyNumber + negative) }
        for option in [
            "--budget", "--batch", "--sigma", "--readout-lr", "--pre-hidden", "--shots", "--lr", "--weight-decay", "--nodes",
            "--device-seconds", "--sigma-multiple", "--drive-directions", "--input-noise",
        ] { add(["train", "ring"], option, anyNumber + negative) }
        add(["train", "ring"], "--randomize", ["x", "-1", "nan", "1e30"])
        add(["train", "ring"], "--direction-kind", ["bogus", ""])
        add(["train", "ring"], "--perturb", ["bogus", "drives"])
        add(["train", "ring"], "--mode", ["bogus", "static"])
        add(["train", "mlp"], "--beta1", anyNumber + negative + ["1"])
        add(["train", "ring"], "--feedback", anyNumber)
        add(["train", "mlp"], "--hidden", ["1000000000"])
        add(["train", "mlp"], "--directions", ["1000000000"])
        add(["train", "resume", "/nonexistent-run"], "--threads", anyNumber + negative)
        add(["run"], "--seconds", anyNumber + negative)
        add(["run"], "--watchdog-ms", anyNumber + negative)
        add(["run"], "--inject", ["interlock@1e300", "interlock@nan", "interlock@-1", "bogus@1", "interlock"])
        for option in ["--nodes", "--samples-per-node", "--shots", "--input-scale"] {
            add(["reservoir"], option, anyNumber + negative)
        }
        add(["demo"], "--device-seconds", anyNumber + negative)
        add(["demo"], "--nodes", anyNumber + negative)
        add(["bench", "train"], "--budget", anyNumber + negative + ["1000000000000"])
        add(["twin", "serve"], "--port", ["70000", "-1", "x"])
        add(["twin", "serve"], "--dead-man-ms", ["0", "nan", "1e30"])
        add(["twin", "serve"], "--max-connections", ["1", "100000"])
        cases.append(Case(arguments: ["twin", "serve", "--bind", "0.0.0.0"], status: 64, names: ["--allow-remote"]))
        return cases
    }()

    static let folder = NSTemporaryDirectory() + "ringlab-bad-input-\(getpid())"

    static func write(_ name: String, _ text: String) -> String {
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = "\(folder)/\(name)"
        try? text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Board files: the twin's, broken one field at a time, and YAML that must not be expanded.
    static let boardFiles: [Case] = {
        let root = TwinFixtures.packageRoot
        let original = (try? String(contentsOfFile: root + "/hardware/boards/twin.yaml", encoding: .utf8)) ?? ""
        let base = original.replacingOccurrences(
            of: "twin_parameters: ../twin/ring-default.yaml", with: "twin_parameters: \(root)/hardware/twin/ring-default.yaml")
        var laughs = "unused:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        var previous = "a"
        for name in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            laughs += "  \(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]\n"
            previous = name
        }
        let edits: [(String, String, String)] = [
            ("name: twin", "name: ../../etc", "name"), ("name: twin", "name: a/b", "name"),
            ("name: twin", "name: .hidden", "name"), ("serial: default", "serial: ../x", "serial"),
            ("sample_rate_hz: 200000", "sample_rate_hz: 1e30", "sample_rate_hz"),
            ("sample_rate_hz: 200000", "sample_rate_hz: nan", "sample_rate_hz"),
            ("sample_rate_hz: 200000", "sample_rate_hz: -5", "sample_rate_hz"),
            ("bits: 16", "bits: 1000", "bits"), ("bits: 12", "bits: -3", "bits"),
            ("max_volts: 2.2", "max_volts: .inf", "max_volts"), ("safe_volts: 0.0", "safe_volts: 99", "safe_volts"),
            ("backend: twin", "backend: laser", "backend"), ("clock: lock-step", "clock: sundial", "clock"),
        ]
        var cases: [Case] = []
        for (index, (from, to, field)) in edits.enumerated() where base.contains(from) {
            let path = write("board-\(index).yaml", base.replacingOccurrences(of: from, with: to))
            cases.append(Case(arguments: ["run", "--seconds", "0.1", "--board", path], status: 1, names: [path, field]))
        }
        for (name, text) in [
            ("laughs.yaml", base + laughs), ("anchor.yaml", base + "extra: &x 1\n"),
            ("unknown.yaml", base + "amplifier_power_watts: 3\n"), ("empty.yaml", ""), ("tabs.yaml", "\t- [\n"),
            ("huge.yaml", base + "# " + String(repeating: "x", count: 2 << 20) + "\n"),
        ] {
            let path = write(name, text)
            cases.append(Case(arguments: ["run", "--seconds", "0.1", "--board", path], status: 1, names: [path]))
        }
        for path in ["/nonexistent/board.yaml", NSTemporaryDirectory()] {
            cases.append(Case(arguments: ["run", "--board", path], status: 1, names: [path]))
        }
        return cases
    }()

    /// Calibration files in a state folder: each value made physically impossible.
    static let calibrationFiles: [Case] = {
        let root = TwinFixtures.packageRoot + "/calibration/twin/default"
        guard let pointer = FileManager.default.contents(atPath: root + "/current.json"),
            let name = (try? JSONSerialization.jsonObject(with: pointer) as? [String: Any])?["file"] as? String,
            let data = FileManager.default.contents(atPath: "\(root)/\(name)"),
            let original = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [] }
        var cases: [Case] = []
        func add(_ label: String, field: String, _ edit: (inout [String: Any]) -> Void) {
            var object = original
            edit(&object)
            let state = "\(folder)/state-\(label)"
            let directory = "\(state)/calibration/twin/default"
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let file = "\(directory)/bad.json"
            if let bytes = try? JSONSerialization.data(withJSONObject: object) {
                FileManager.default.createFile(atPath: file, contents: bytes)
            }
            FileManager.default.createFile(atPath: "\(directory)/current.json", contents: Data("{\"file\": \"bad.json\"}".utf8))
            cases.append(
                Case(
                    arguments: ["run", "--seconds", "0.1"], environment: ["RINGLAB_STATE": state], status: 1,
                    names: [file, field]))
        }
        let values = (original["values"] as? [String: Any]) ?? [:]
        for key in values.keys.sorted() {
            for (tag, number) in [("huge", 1e30), ("tiny", -1e30)] {
                add("\(key)-\(tag)", field: "values.\(key).value") { object in
                    var values = object["values"] as! [String: Any]
                    var entry = values[key] as! [String: Any]
                    entry["value"] = number
                    values[key] = entry
                    object["values"] = values
                }
            }
        }
        add("span-negative", field: "values.span_volts.value") { object in
            var values = object["values"] as! [String: Any]
            var entry = values["span_volts"] as! [String: Any]
            entry["value"] = -1
            values["span_volts"] = entry
            object["values"] = values
        }
        add("latency-fraction", field: "values.latency_samples.value") { object in
            var values = object["values"] as! [String: Any]
            var entry = values["latency_samples"] as! [String: Any]
            entry["value"] = 2.5
            values["latency_samples"] = entry
            object["values"] = values
        }
        for (tag, seed) in [("huge", 1e30 as Any), ("negative", -1 as Any), ("text", "one" as Any)] {
            add("seed-\(tag)", field: "provenance.seed") { object in
                var provenance = object["provenance"] as! [String: Any]
                provenance["seed"] = seed
                object["provenance"] = provenance
            }
        }
        add("curve", field: "transferCurve[0].upVolts") { object in
            var curve = object["transferCurve"] as! [[String: Any]]
            curve[0]["upVolts"] = 1e30
            object["transferCurve"] = curve
        }
        add("schema", field: "schemaVersion") { $0["schemaVersion"] = 99 }
        add("no-board", field: "board") { $0["board"] = nil }
        return cases
    }()

    /// CSV datasets for `train --task csv:PATH`.
    static let csvFiles: [Case] = {
        let rows = (0..<20).map { "\(Double($0) / 10),\($0 % 2)" }.joined(separator: "\n")
        var cases: [Case] = []
        for (name, text, field) in [
            ("int-max.csv", "a,label\n1,0\n2,9223372036854775807\n", "label"),
            ("billion.csv", "a,label\n1,0\n2,1000000000\n", "label"), ("negative.csv", "a,label\n1,-1\n", "label"),
            ("huge-feature.csv", "a,label\n1e308,0\n1,1\n", "a"), ("nan-feature.csv", "a,label\nnan,0\n", "a"),
            ("two-labels.csv", "a,label,label\n1,0,0\n", "label"), ("one-row.csv", "a,label\n1,0\n", "label"),
            ("two-rows.csv", "a,label\n1,0\n2,1\n", "label"), ("ragged.csv", "a,label\n" + rows + "\n1,2,3\n", "cells"),
            ("header-only.csv", "a,label\n", "no data rows"), ("empty.csv", "", "empty"),
            ("one-column.csv", "label\n0\n", "column"), ("text-label.csv", "a,label\n1,cat\n", "label"),
        ] {
            let path = write(name, text)
            cases.append(Case(arguments: ["train", "mlp", "--task", "csv:\(path)"], status: 1, names: [path, field]))
        }
        cases.append(Case(arguments: ["train", "mlp", "--task", "csv:\(NSTemporaryDirectory())"], status: 1, names: ["directory"]))
        cases.append(Case(arguments: ["train", "mlp", "--task", "csv:/nonexistent.csv"], status: 1, names: ["/nonexistent.csv"]))
        cases.append(Case(arguments: ["train", "resume", "/nonexistent-run"], status: 1, names: ["/nonexistent-run"]))
        return cases
    }()

    static let allCases = commandLines + boardFiles + calibrationFiles + csvFiles

    @Test func theCorpusHasAtLeast150CasesOverFourKinds() {
        #expect(Self.allCases.count >= 150, "\(Self.allCases.count) cases")
        #expect(Self.boardFiles.count >= 15 && Self.calibrationFiles.count >= 20 && Self.csvFiles.count >= 10)
    }

    @Test(arguments: allCases)
    func badInputGetsOneClearLine(_ bad: Case) throws {
        let outcome = try BoundedProcess.run(
            CommandRunner.executablePath, bad.arguments, environment: bad.environment, seconds: 10)
        #expect(!outcome.timedOut, "\(bad): still running after 10 s")
        #expect(outcome.status == bad.status, "\(bad): exit \(outcome.status), signal \(outcome.signal): \(outcome.standardError)")
        let lines = outcome.standardError.split(separator: "\n")
        #expect(lines.count == 1, "\(bad): \(outcome.standardError)")
        for name in bad.names {
            #expect(outcome.standardError.contains(name), "\(bad): the line should name \(name): \(outcome.standardError)")
        }
        #expect(outcome.maximumResidentKilobytes < 500_000, "\(bad): \(outcome.maximumResidentKilobytes) kB")
    }
}

/// A child process run with a time bound, its own peak resident set (wait4's rusage) and its
/// stderr.
enum BoundedProcess {
    struct Outcome {
        var status: Int32
        var signal: Int32
        var timedOut: Bool
        var standardError: String
        var maximumResidentKilobytes: Int
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String], seconds: Double) throws
        -> Outcome
    {
        let errorFile = NSTemporaryDirectory() + "ringlab-bounded-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: errorFile) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errorFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        var usage = rusage()
        var timedOut = false
        while wait4(pid, &status, WNOHANG, &usage) == 0 {
            if Date() > deadline {
                timedOut = true
                kill(pid, SIGKILL)
                wait4(pid, &status, 0, &usage)
                break
            }
            usleep(5_000)
        }
        let exited = status & 0x7f == 0
        return Outcome(
            status: exited ? (status >> 8) & 0xff : -1, signal: exited ? 0 : status & 0x7f, timedOut: timedOut,
            standardError: (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? "",
            maximumResidentKilobytes: usage.ru_maxrss)
    }
}
