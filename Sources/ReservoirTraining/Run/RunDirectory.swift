import Foundation
import ReservoirFiles

/// A training run's folder: configuration, per-step JSON lines, evaluations, an atomic
/// checkpoint, the summary and SVG plots.
public struct RunDirectory: Sendable {
    public let path: String

    /// Uses (creating if needed) the folder at `path`.
    public init(path: String) throws {
        self.path = path
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw RunDirectoryError(description: "\(path): cannot create the run folder: \(Self.whyNotCreatable(path))")
        }
    }

    /// An earlier run's folder, for `--resume`: it must exist and hold the run's config.json.
    public init(resuming path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RunDirectoryError(
                description: "\(path): no run folder here (expected the --run-dir of an earlier ringlab train)")
        }
        self.path = path
        guard FileManager.default.fileExists(atPath: configurationPath) else {
            throw RunDirectoryError(description: "\(path): not a run folder (it has no config.json)")
        }
    }

    /// The summary.json of a run that finished, or nil while it has not.
    public var finishedSummary: Data? { FileManager.default.contents(atPath: "\(path)/summary.json") }

    /// Whether a checkpoint has been written (an interrupted run can be resumed).
    public var canResume: Bool { hasCheckpoint && finishedSummary == nil }

    /// Why `path` cannot be made: the nearest existing ancestor is a file, or not writable.
    private static func whyNotCreatable(_ path: String) -> String {
        var ancestor = (path as NSString).deletingLastPathComponent
        while !ancestor.isEmpty && !FileManager.default.fileExists(atPath: ancestor) {
            ancestor = (ancestor as NSString).deletingLastPathComponent
        }
        let folder = ancestor.isEmpty ? "." : ancestor
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            return "a file of that name exists"
        }
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), !isDirectory.boolValue {
            return "\(folder) is a file, not a folder"
        }
        if !FileManager.default.isWritableFile(atPath: folder) { return "permission denied in \(folder)" }
        return "the file system refused"
    }

    var stepsPath: String { "\(path)/steps.jsonl" }
    var evaluationsPath: String { "\(path)/evaluations.jsonl" }
    var checkpointPath: String { "\(path)/checkpoint.json" }
    var configurationPath: String { "\(path)/config.json" }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// Writes the configuration (atomically).
    public func saveConfiguration<Settings: Encodable>(_ settings: Settings) throws {
        let pretty = JSONEncoder()
        pretty.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DataFile.writeAtomically(
            String(decoding: try pretty.encode(settings), as: UTF8.self) + "\n", to: configurationPath)
    }

    /// The configuration saved in the folder. A key the file lacks takes its value from
    /// `defaults` (objects merged key by key, at every depth), so a folder written before a
    /// setting existed still resumes, at the value that setting's absence meant.
    public func loadConfiguration<Settings: Codable>(_ type: Settings.Type, defaults: Settings) throws -> Settings {
        do {
            let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configurationPath)))
            let base = try JSONSerialization.jsonObject(with: JSONEncoder().encode(defaults))
            let merged = Self.merging(saved, over: base)
            return try JSONDecoder().decode(type, from: JSONSerialization.data(withJSONObject: merged))
        } catch {
            throw RunDirectoryError(description: "\(configurationPath): cannot read the run's configuration: \(error)")
        }
    }

    /// `saved` with every key it lacks taken from `base`, recursively through objects that
    /// share a key (a struct's fields); any other value of `saved` stands as it is — an array, a
    /// number, null, or an object with no key in common with `base`'s, which is another case of
    /// an enum with associated values (`{"gaussian": {}}` against `{"rademacher": {}}`).
    static func merging(_ saved: Any, over base: Any) -> Any {
        guard let savedObject = saved as? [String: Any], let baseObject = base as? [String: Any],
            savedObject.keys.contains(where: { baseObject[$0] != nil })
        else { return saved }
        return savedObject.merging(baseObject, uniquingKeysWith: { savedValue, baseValue in merging(savedValue, over: baseValue) })
    }

    /// Writes another JSON record of the run (the board's identity, say) atomically.
    public func saveRecord<Record: Encodable>(_ record: Record, named name: String) throws {
        let pretty = JSONEncoder()
        pretty.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DataFile.writeAtomically(
            String(decoding: try pretty.encode(record), as: UTF8.self) + "\n", to: "\(path)/\(name)")
    }

    func append(_ lines: [String], to file: String) throws {
        guard !lines.isEmpty else { return }
        if !FileManager.default.fileExists(atPath: file), !FileManager.default.createFile(atPath: file, contents: nil) {
            throw RunDirectoryError(description: "\(file): cannot create the log file")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    func appendSteps(_ lines: [String]) throws { try append(lines, to: stepsPath) }

    func appendEvaluation<Record: Encodable>(_ evaluation: Record) throws {
        try append([String(decoding: try Self.encoder.encode(evaluation), as: UTF8.self)], to: evaluationsPath)
    }

    /// The evaluations logged so far. A torn last line (a crash mid-append) is dropped; a bad
    /// line elsewhere is an error naming the file and line.
    func loadEvaluations<Record: Decodable>() throws -> [Record] {
        guard let data = FileManager.default.contents(atPath: evaluationsPath) else { return [] }
        let lines = data.split(separator: UInt8(ascii: "\n"))
        var records: [Record] = []
        for (index, line) in lines.enumerated() {
            do { records.append(try JSONDecoder().decode(Record.self, from: Data(line))) } catch {
                if index == lines.count - 1 && data.last != UInt8(ascii: "\n") { break }
                throw RunDirectoryError(
                    description: "\(evaluationsPath): line \(index + 1) is not an evaluation record; the run's log is damaged")
            }
        }
        return records
    }

    func saveCheckpoint<Checkpoint: Encodable>(_ checkpoint: Checkpoint) throws {
        try DataFile.writeAtomically(
            String(decoding: try Self.encoder.encode(checkpoint), as: UTF8.self), to: checkpointPath)
    }

    /// Whether a checkpoint has been written.
    var hasCheckpoint: Bool { FileManager.default.fileExists(atPath: checkpointPath) }

    func loadCheckpoint<Checkpoint: Decodable>() throws -> Checkpoint {
        do {
            return try JSONDecoder().decode(
                Checkpoint.self, from: Data(contentsOf: URL(fileURLWithPath: checkpointPath)))
        } catch {
            throw RunDirectoryError(
                description: hasCheckpoint
                    ? "\(checkpointPath): cannot resume: the checkpoint is not a valid \(Checkpoint.self)"
                    : "\(path): cannot resume: no checkpoint yet (the run stopped before its first)")
        }
    }

    /// Drops log lines written after the checkpoint (a crash may have left some).
    func truncateLogs(toStep step: Int, forwardPasses: Int) throws {
        if let text = try? String(contentsOfFile: stepsPath, encoding: .utf8) {
            let kept = text.split(separator: "\n").filter { line in
                guard let data = line.data(using: .utf8),
                    let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                    let lineStep = object["step"] as? Int
                else { return false }
                return lineStep <= step
            }
            try DataFile.writeAtomically(kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n"), to: stepsPath)
        }
        let evaluations: [Evaluation] = try loadEvaluations().filter { $0.forwardPasses <= forwardPasses }
        let lines = try evaluations.map { String(decoding: try Self.encoder.encode($0), as: UTF8.self) }
        try DataFile.writeAtomically(lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n"), to: evaluationsPath)
    }

    /// Writes summary.json and the plots (loss; accuracy or NRMSE) against training device
    /// seconds where the model streams through a device, else against forward passes.
    func finish(summary: TrainingSummary, evaluations: [Evaluation], metric: Metric) throws {
        try saveRecord(summary, named: "summary.json")
        let device = evaluations.compactMap(\.deviceSeconds)
        let onDevice = !evaluations.isEmpty && device.count == evaluations.count
        let x = onDevice ? device : evaluations.map { Double($0.forwardPasses) }
        let against = onDevice ? "training drive on the device (s)" : "forward passes"
        let held = summary.evaluated_on ?? "test"
        let lossIsCrossEntropy = metric != .nrmse
        try DataFile.writeAtomically(
            SVGPlot(
                title: "Loss", xLabel: against,
                yLabel: lossIsCrossEntropy ? "loss (cross-entropy, nats)" : "loss (squared error)",
                logarithmicY: true,
                series: [.init(name: "train", x: x, y: evaluations.map(\.trainLoss)), .init(name: held, x: x, y: evaluations.map(\.testLoss))]
            ).svg(),
            to: "\(path)/loss.svg")
        try DataFile.writeAtomically(
            SVGPlot(
                title: metric == .nrmse ? "NRMSE" : "Accuracy", xLabel: against,
                yLabel: metric == .nrmse ? "NRMSE (1 = predicting the mean)" : "accuracy (fraction correct)",
                logarithmicY: false,
                series: [.init(name: "train", x: x, y: evaluations.map(\.trainMetric)), .init(name: held, x: x, y: evaluations.map(\.testMetric))]
            ).svg(),
            to: "\(path)/\(metric.rawValue).svg")
    }
}

public struct RunDirectoryError: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) { self.description = description }
}
