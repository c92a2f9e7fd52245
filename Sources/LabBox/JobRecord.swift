import Foundation
import GRDB

/// Where a job is in its life. `interrupted`: the service ended (crash, power loss, SIGKILL)
/// or the interlock opened while it ran; a training run can be resumed from its checkpoint.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued, running, done, failed, cancelled, interrupted

    public var isFinished: Bool { ![.queued, .running].contains(self) }
}

/// One job of the box: a ringlab command line, who submitted it, and — once it ran — what it
/// left (summary, run folder) with its provenance (board file and calibration digests,
/// ringlab's version and commit, seed).
public struct JobRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "job"

    public var id: Int64?
    public var state: JobState
    public var priority: Int
    public var position: Int64
    public var submitter: String
    /// The command as submitted (`["train", "ring", "--device-seconds", "10"]`).
    public var arguments: [String]
    /// The full argument vector the box runs, the executable first (the board, run folder and
    /// `--json` added by the box).
    public var command: [String]
    public var kind: String
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var processID: Int32?
    public var exitStatus: Int32?
    public var reason: String?
    /// The job's folder (`<state>/jobs/<id>`): its stdout, stderr and run folder.
    public var folder: String?
    public var runDirectory: String?
    /// The command's JSON summary (its standard output), verbatim.
    public var summary: String?
    /// One line for a listing ("test_accuracy 0.9720").
    public var headline: String?
    public var boardFile: String?
    public var boardSHA256: String?
    public var calibrationPath: String?
    public var calibrationSHA256: String?
    public var version: String?
    public var gitCommit: String?
    public var seed: Int64?
    /// The interrupted job this one resumes.
    public var resumeOf: Int64?
    /// This job as the index lists it, a JSON object kept with the row (`refreshListing`), so
    /// that a listing of any length is a concatenation SQLite does.
    public var listing: String?

    public init(submitter: String, arguments: [String], command: [String], kind: String, priority: Int = 0) {
        self.state = .queued
        self.priority = priority
        self.position = 0
        self.submitter = submitter
        self.arguments = arguments
        self.command = command
        self.kind = kind
        self.createdAt = Date()
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// Recomputes `listing` from the fields a listing shows.
    public mutating func refreshListing() {
        func orNull(_ value: Any?) -> Any { value ?? NSNull() }
        let object: [String: Any] = [
            "id": orNull(id), "state": state.rawValue, "kind": kind, "priority": priority, "submitter": submitter,
            "args": arguments, "created_at": createdAt.timeIntervalSince1970,
            "started_at": orNull(startedAt?.timeIntervalSince1970), "finished_at": orNull(finishedAt?.timeIntervalSince1970),
            "headline": orNull(headline), "reason": orNull(reason), "seed": orNull(seed), "resume_of": orNull(resumeOf),
        ]
        listing = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
            .map { String(decoding: $0, as: UTF8.self) }
    }

    // Times as seconds since 1970 (REAL columns), so listings read them as numbers.
    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy {
        .timeIntervalSince1970
    }
    public static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy {
        .timeIntervalSince1970
    }
}
