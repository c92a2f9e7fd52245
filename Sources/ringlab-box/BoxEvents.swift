import Foundation
import Hummingbird
import LabBox
import NIOCore

/// Live events, files and the board's state.
extension Box {
    /// Server-Sent Events for one job: `state` on each change, `step` (the latest step only,
    /// at most 4 a second: decimated), `evaluation` for each evaluation, `end` with the
    /// summary. Each stream follows the run's log files on its own, in the service, so a slow
    /// client slows nothing but itself — the drive loop runs in the job's own process.
    func events(for job: JobRecord) -> Response {
        let id = job.id ?? 0
        let store = self.store
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                var steps: LogTail?
                var evaluations: LogTail?
                var lastState = ""
                while true {
                    guard let job = try store.job(id) else { break }
                    var chunk = ""
                    if job.state.rawValue != lastState {
                        lastState = job.state.rawValue
                        chunk += Self.event("state", #"{"id":\#(id),"state":"\#(lastState)"}"#)
                    }
                    if let folder = job.runDirectory {
                        if steps == nil {
                            steps = LogTail(path: folder + "/steps.jsonl")
                            evaluations = LogTail(path: folder + "/evaluations.jsonl")
                        }
                        if let latest = steps?.readLines().last { chunk += Self.event("step", latest) }
                        for line in evaluations?.readLines().suffix(500) ?? [] { chunk += Self.event("evaluation", line) }
                    }
                    if job.state.isFinished {
                        chunk += Self.event("end", #"{"id":\#(id),"state":"\#(job.state.rawValue)","summary":\#(job.summary ?? "null")}"#)
                    }
                    if !chunk.isEmpty { try await writer.write(ByteBuffer(string: chunk)) }
                    if job.state.isFinished { break }
                    try await Task.sleep(for: .milliseconds(250))
                }
                try await writer.finish(nil)
            })
    }

    static func event(_ name: String, _ data: String) -> String {
        "event: \(name)\ndata: \(data.replacingOccurrences(of: "\n", with: " "))\n\n"
    }

    /// The files a job left: its stdout and stderr, and its run folder's.
    func files(of job: JobRecord) -> [[String: Any]] {
        var listing: [[String: Any]] = []
        for folder in [job.folder, job.runDirectory].compactMap({ $0 }) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for name in names.sorted() where !name.hasSuffix(".tmp") {
                var isFolder: ObjCBool = false
                guard FileManager.default.fileExists(atPath: folder + "/" + name, isDirectory: &isFolder), !isFolder.boolValue
                else { continue }
                let size = ((try? FileManager.default.attributesOfItem(atPath: folder + "/" + name))?[.size] as? Int) ?? 0
                listing.append(["name": name, "bytes": size])
            }
        }
        return listing
    }

    /// One of `files(of:)`, by name only (never a path), at most 16 MiB.
    func file(of job: JobRecord, named name: String) throws -> Response {
        guard !name.contains("/"), !name.hasPrefix("."),
            let folder = [job.runDirectory, job.folder].compactMap({ $0 }).first(where: {
                FileManager.default.fileExists(atPath: $0 + "/" + name)
            })
        else { throw HTTPError(.notFound, message: "job \(job.id ?? 0) has no file \(name)") }
        let path = folder + "/" + name
        guard let handle = FileHandle(forReadingAtPath: path) else { throw HTTPError(.notFound, message: "\(name) cannot be read") }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: 16 << 20)) ?? Data()
        let type =
            name.hasSuffix(".svg")
            ? "image/svg+xml" : name.hasSuffix(".json") ? "application/json" : name.hasSuffix(".jsonl") ? "application/x-ndjson" : "text/plain; charset=utf-8"
        return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Safe or driven, the interlock as last seen, the queue's hold, the calibration in force
    /// and its age.
    func boardState() throws -> [String: Any] {
        var object: [String: Any] = ["board_file": board]
        if let text = try store.setting(JobRunner.boardKey),
            let state = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        {
            object["state"] = state["state"] ?? "unknown"
            object["since"] = state["since"] ?? NSNull()
            object["detail"] = state
        } else {
            object["state"] = "unknown"
        }
        let hold = try store.setting(JobRunner.holdKey)
        object["hold"] = hold ?? NSNull()
        object["interlock"] = hold?.contains("interlock") == true ? "opened (queue held)" : "closed"
        object["running_job"] = runner.current?.id ?? NSNull()
        let provenance = Provenance.board(board, stateDirectory: stateDirectory)
        object["board_sha256"] = provenance.boardSHA256 ?? NSNull()
        if let path = provenance.calibrationPath {
            let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? nil
            object["calibration"] = [
                "path": path, "sha256": provenance.calibrationSHA256 ?? NSNull(),
                "age_seconds": modified.map { Date().timeIntervalSince($0) } ?? NSNull(),
            ] as [String: Any]
        } else {
            object["calibration"] = NSNull()
        }
        return object
    }

    /// The calibrations the box has written, newest first.
    func calibrations() -> [[String: Any]] {
        let root = stateDirectory + "/calibration"
        let enumerator = FileManager.default.enumerator(atPath: root)
        var found: [(String, Date)] = []
        while let relative = enumerator?.nextObject() as? String, found.count < 10_000 {
            guard relative.hasSuffix(".json") else { continue }
            let path = root + "/" + relative
            let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? nil
            found.append((path, modified ?? .distantPast))
        }
        return found.sorted { $0.1 > $1.1 }.prefix(200).map {
            ["path": $0.0, "written_at": $0.1.timeIntervalSince1970]
        }
    }
}
