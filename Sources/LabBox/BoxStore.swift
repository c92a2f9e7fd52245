import Foundation
import GRDB

/// The lab box's persistent queue and experiment index: one SQLite file in WAL mode
/// (`<state>/box.sqlite`), so a reader (the page, a listing) never waits for the runner's
/// writes, and a crash or power loss loses no committed transition. Every job the box ever
/// accepted is a row: queued ones are the queue, finished ones the index of runs.
public final class BoxStore: Sendable {
    let database: DatabasePool

    /// Opens (creating and migrating) the store at `path`.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        database = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "job") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("state", .text).notNull().indexed()
                table.column("priority", .integer).notNull().defaults(to: 0)
                table.column("position", .integer).notNull()
                table.column("submitter", .text).notNull()
                table.column("arguments", .text).notNull()
                table.column("command", .text).notNull()
                table.column("kind", .text).notNull()
                table.column("createdAt", .double).notNull()
                table.column("startedAt", .double)
                table.column("finishedAt", .double)
                table.column("processID", .integer)
                table.column("exitStatus", .integer)
                table.column("reason", .text)
                table.column("folder", .text)
                table.column("runDirectory", .text)
                table.column("summary", .text)
                table.column("headline", .text)
                table.column("boardFile", .text)
                table.column("boardSHA256", .text)
                table.column("calibrationPath", .text)
                table.column("calibrationSHA256", .text)
                table.column("version", .text)
                table.column("gitCommit", .text)
                table.column("seed", .integer)
                table.column("resumeOf", .integer)
            }
            try db.create(index: "job_queue", on: "job", columns: ["state", "priority", "position"])
            try db.create(table: "setting") { table in
                table.primaryKey("key", .text)
                table.column("value", .text).notNull()
            }
        }
        migrator.registerMigration("v2: listing") { db in
            try db.alter(table: "job") { table in table.add(column: "listing", .text) }
            for var job in try JobRecord.fetchAll(db) { try Self.save(&job, db) }
        }
        return migrator
    }

    // MARK: - Jobs

    /// Every write of a job goes through here: it keeps the row's listing in step.
    static func save(_ job: inout JobRecord, _ db: Database) throws {
        if job.id == nil {
            try job.insert(db)
        }
        job.refreshListing()
        try job.update(db)
    }

    /// Adds a job at the back of its priority's queue.
    public func enqueue(_ job: JobRecord) throws -> JobRecord {
        try database.write { db in
            var job = job
            let last = try Int64.fetchOne(db, sql: "SELECT MAX(position) FROM job") ?? 0
            job.position = last + 1
            job.state = .queued
            try Self.save(&job, db)
            return job
        }
    }

    public func job(_ id: Int64) throws -> JobRecord? {
        try database.read { db in try JobRecord.fetchOne(db, key: id) }
    }

    /// Jobs, newest first, `limit` at a time: those with an id below `before` (paging), in
    /// `states` when given. Uses the primary key's order, so a page costs the same at 10 or
    /// 10,000,000 rows.
    public func jobs(states: [JobState]? = nil, before: Int64? = nil, limit: Int = 100) throws -> [JobRecord] {
        try database.read { db in
            var request = JobRecord.order(Column("id").desc).limit(limit)
            if let before { request = request.filter(Column("id") < before) }
            if let states { request = request.filter(states.map(\.rawValue).contains(Column("state"))) }
            return try request.fetchAll(db)
        }
    }

    /// The queue in the order it runs: priority high to low, then position.
    public func queue() throws -> [JobRecord] {
        try database.read { db in
            try JobRecord.filter(Column("state") == JobState.queued.rawValue)
                .order(Column("priority").desc, Column("position"), Column("id")).fetchAll(db)
        }
    }

    /// Number of jobs in each state.
    public func countsByState() throws -> [JobState: Int] {
        try database.read { db in
            var counts: [JobState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM job GROUP BY state") {
                if let state = JobState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    /// Takes the next queued job and marks it running, in one transaction (nil: queue empty).
    public func startNext(_ prepare: (inout JobRecord) throws -> Void) throws -> JobRecord? {
        try database.write { db in
            guard
                var job = try JobRecord.filter(Column("state") == JobState.queued.rawValue)
                    .order(Column("priority").desc, Column("position"), Column("id")).fetchOne(db)
            else { return nil }
            job.state = .running
            job.startedAt = Date()
            try prepare(&job)
            try Self.save(&job, db)
            return job
        }
    }

    /// Saves `job` as it is now.
    public func update(_ job: JobRecord) throws {
        try database.write { db in
            var job = job
            try Self.save(&job, db)
        }
    }

    /// Changes a queued job's priority or moves it to the front of its priority (reorder).
    /// Returns the job, or nil when there is no such queued job.
    public func reorder(_ id: Int64, priority: Int?, toFront: Bool) throws -> JobRecord? {
        try database.write { db in
            guard var job = try JobRecord.fetchOne(db, key: id), job.state == .queued else { return nil }
            if let priority { job.priority = priority }
            if toFront {
                let first = try Int64.fetchOne(db, sql: "SELECT MIN(position) FROM job") ?? 0
                job.position = first - 1
            }
            try Self.save(&job, db)
            return job
        }
    }

    /// Cancels a queued job (a running one is the runner's). Returns whether it was queued.
    public func cancelQueued(_ id: Int64) throws -> Bool {
        try database.write { db in
            guard var job = try JobRecord.fetchOne(db, key: id), job.state == .queued else { return false }
            job.state = .cancelled
            job.finishedAt = Date()
            job.reason = "cancelled before it ran"
            try Self.save(&job, db)
            return true
        }
    }

    /// After a restart: every job the store says is running was cut short by the service's end
    /// (a crash, a power loss, SIGKILL). Marks them interrupted and returns them, so the box
    /// can stop what may still run and drive the board safe.
    public func markRunningInterrupted(reason: String) throws -> [JobRecord] {
        try database.write { db in
            let running = try JobRecord.filter(Column("state") == JobState.running.rawValue).fetchAll(db)
            for var job in running {
                job.state = .interrupted
                job.finishedAt = Date()
                job.reason = reason
                try Self.save(&job, db)
            }
            return running
        }
    }

    // MARK: - Settings

    public func setting(_ key: String) throws -> String? {
        try database.read { db in try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key]) }
    }

    public func setSetting(_ key: String, _ value: String?) throws {
        try database.write { db in
            if let value {
                try db.execute(
                    sql: "INSERT INTO setting(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    arguments: [key, value])
            } else {
                try db.execute(sql: "DELETE FROM setting WHERE key = ?", arguments: [key])
            }
        }
    }
}

extension BoxStore {
    /// Fills the index with `runs` finished runs shaped like real ones (for `bench-index`).
    public func fillForBenchmark(runs: Int) throws {
        let summary = #"{"converter_utilization":0.93,"device_seconds":29.7,"device_seconds_training":10,"forward_passes":312,"mode":"pgt-hybrid","model":"ring","nodes":50,"perturb":"drive","samples_streamed":29751,"seed":1,"steps":152,"task":"digits","test_accuracy":0.918,"test_loss":0.43,"train_accuracy":0.922}"#
        try database.write { db in
            for index in 0..<runs {
                var job = JobRecord(
                    submitter: "bench", arguments: ["train", "ring", "--device-seconds", "10", "--seed", "\(index)"],
                    command: ["/opt/ringlab/ringlab", "train", "ring", "--device-seconds", "10", "--json"], kind: "ring-training")
                job.state = index % 10 == 0 ? .failed : .done
                job.position = Int64(index)
                job.startedAt = Date()
                job.finishedAt = Date()
                job.summary = summary
                job.headline = "test_accuracy 0.9180"
                job.boardSHA256 = String(repeating: "a", count: 64)
                job.calibrationSHA256 = String(repeating: "b", count: 64)
                job.gitCommit = String(repeating: "c", count: 40)
                job.seed = Int64(index)
                try Self.save(&job, db)
            }
        }
    }
}
