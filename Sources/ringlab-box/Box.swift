import Foundation
import Hummingbird
import LabBox
import Logging
import NIOCore
import Prometheus

/// The box's HTTP face: the API under /api/v1 (docs/box-api.yaml), /healthz, /metrics and the
/// page. Handlers are thin: the store and the runner do the work.
struct Box: Sendable {
    let store: BoxStore
    let runner: JobRunner
    let token: BoxToken
    let registry: PrometheusCollectorRegistry
    let metrics: BoxMetrics
    let board: String
    let stateDirectory: String
    let logger: Logger

    func router() -> Router<BoxContext> {
        let router = Router(context: BoxContext.self)
        router.add(middleware: BoxGuard(token: token, buckets: RateBuckets(rate: 100, burst: 200)))
        router.get("/healthz") { _, _ in try jsonResponse(["status": "ok"]) }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        addPage(to: router)
        let api = router.group("api/v1")
        api.get("board") { _, _ in try jsonResponse(try boardState()) }
        api.get("calibrations") { _, _ in try jsonResponse(["calibrations": calibrations()]) }
        api.get("queue") { _, _ in
            try jsonResponse([
                "hold": (try store.setting(JobRunner.holdKey)).map { $0 as Any } ?? NSNull(),
                "running": runner.current.map(jobJSON) ?? NSNull(),
                "queued": try store.queue().map(jobJSON),
            ])
        }
        api.post("queue/release") { _, _ in
            try store.setSetting(JobRunner.holdKey, nil)
            logger.notice("queue released by an operator")
            return try jsonResponse(["hold": NSNull()])
        }
        api.post("queue/hold") { request, context in
            let body = try await bodyObject(request, context)
            let reason = (body["reason"] as? String).map { String($0.prefix(200)) } ?? "held by an operator"
            try store.setSetting(JobRunner.holdKey, reason)
            return try jsonResponse(["hold": reason])
        }
        api.post("jobs") { request, context in try await submit(request, context) }
        api.get("jobs") { request, _ in try list(request, key: "jobs", states: nil) }
        api.get("jobs/:id") { _, context in try jsonResponse(jobJSON(try job(context))) }
        api.patch("jobs/:id") { request, context in
            let id = try job(context).id ?? 0
            let body = try await bodyObject(request, context)
            let priority = body["priority"] as? Int
            if let priority, !(-100...100).contains(priority) {
                throw HTTPError(.badRequest, message: "priority must be -100 to 100; got \(priority)")
            }
            guard let moved = try store.reorder(id, priority: priority, toFront: body["front"] as? Bool ?? false) else {
                throw HTTPError(.conflict, message: "job \(id) is not queued; only queued jobs can be reordered")
            }
            return try jsonResponse(jobJSON(moved))
        }
        api.post("jobs/:id/cancel") { _, context in
            let id = try job(context).id ?? 0
            guard try runner.cancel(id) else {
                throw HTTPError(.conflict, message: "job \(id) is neither queued nor running")
            }
            return try jsonResponse(["id": id, "cancelling": true])
        }
        api.post("jobs/:id/resume") { request, context in try await resume(try job(context), request) }
        api.get("jobs/:id/events") { _, context in events(for: try job(context)) }
        let finished: [JobState] = [.done, .failed, .cancelled, .interrupted]
        api.get("runs") { request, _ in try list(request, key: "runs", states: finished) }
        api.get("runs/:id") { _, context in try jsonResponse(jobJSON(try job(context))) }
        api.get("runs/:id/files") { _, context in try jsonResponse(["files": files(of: try job(context))]) }
        api.get("runs/:id/files/:name") { _, context in try file(of: try job(context), named: context.parameters.get("name") ?? "") }
        return router
    }

    // MARK: - Jobs

    func job(_ context: BoxContext) throws -> JobRecord {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw HTTPError(.badRequest, message: "the job id must be a positive integer")
        }
        guard let job = try store.job(id) else { throw HTTPError(.notFound, message: "no job \(id)") }
        return job
    }

    func bodyObject(_ request: Request, _ context: BoxContext) async throws -> [String: Any] {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        if buffer.readableBytes == 0 { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any] else {
            throw HTTPError(.badRequest, message: "the body must be a JSON object")
        }
        return object
    }

    func submit(_ request: Request, _ context: BoxContext) async throws -> Response {
        let body = try await bodyObject(request, context)
        guard let arguments = body["args"] as? [String] else {
            throw HTTPError(.badRequest, message: #"args must be an array of strings, e.g. {"args": ["calibrate"]}"#)
        }
        let priority = body["priority"] as? Int ?? 0
        guard (-100...100).contains(priority) else {
            throw HTTPError(.badRequest, message: "priority must be -100 to 100; got \(priority)")
        }
        let submitter = (body["submitter"] as? String).map { String($0.prefix(64)) } ?? "api"
        let checked: JobRequest
        do {
            checked = try JobRequest(arguments: arguments)
        } catch {
            throw HTTPError(.badRequest, message: error.description)
        }
        // `ringlab check` is a child process (tens of ms): waited for on a Dispatch thread, not
        // on the event loop's or the concurrency pool's.
        let ringlab = runner.ringlab
        let command = checked.command(board: board, runDirectory: nil)
        let verdict: Result<String?, any Error> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Result { try ringlab.problem(with: command) }) }
        }
        if let problem = try verdict.get() {
            throw HTTPError(.badRequest, message: "ringlab \(arguments.joined(separator: " ")): \(problem)")
        }
        var record = JobRecord(
            submitter: submitter, arguments: arguments, command: [], kind: checked.kind.name, priority: priority)
        record.seed = checked.seed
        let job = try store.enqueue(record)
        logger.info("job \(job.id ?? 0) queued by \(submitter): \(arguments.joined(separator: " "))")
        return try jsonResponse(["id": job.id ?? 0, "state": job.state.rawValue], status: .created)
    }

    /// Whether a finished training run left a checkpoint to continue from.
    func isResumable(_ job: JobRecord) -> Bool {
        guard [.interrupted, .failed, .cancelled].contains(job.state), let folder = job.runDirectory else { return false }
        return FileManager.default.fileExists(atPath: folder + "/checkpoint.json")
            && !FileManager.default.fileExists(atPath: folder + "/summary.json")
    }

    func resume(_ job: JobRecord, _ request: Request) async throws -> Response {
        guard isResumable(job), let folder = job.runDirectory else {
            throw HTTPError(
                .conflict, message: "job \(job.id ?? 0) has no checkpoint to resume (only interrupted training runs do)")
        }
        var record = JobRecord(
            submitter: job.submitter, arguments: ["train", "resume", folder], command: [], kind: "resume",
            priority: job.priority)
        record.resumeOf = job.id
        record.seed = job.seed
        let resumed = try store.enqueue(record)
        return try jsonResponse(["id": resumed.id ?? 0, "state": resumed.state.rawValue, "resumes": job.id ?? 0], status: .created)
    }

    /// `{"<key>": [...]}`: newest first, `limit` (1–10,000, default 100) at a time, ids below
    /// `before`, in `state` when given.
    func list(_ request: Request, key: String, states: [JobState]?) throws -> Response {
        let query = request.uri.queryParameters
        let limit = min(max(Int(query.get("limit") ?? "") ?? 100, 1), 10_000)
        let before = query.get("before").flatMap { Int64($0) }
        var filter = states
        if let state = query.get("state") {
            guard let parsed = JobState(rawValue: state) else {
                throw HTTPError(.badRequest, message: "state must be one of \(JobState.allCases.map(\.rawValue))")
            }
            filter = [parsed]
        }
        var body = ByteBuffer(string: #"{"\#(key)":"#)
        body.writeBytes(try store.listing(states: filter, before: before, limit: limit))
        body.writeString("}")
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: body))
    }

    /// A job as the API gives it: its listing (the fields the index lists, kept with the row)
    /// and what only a single job shows.
    func jobJSON(_ job: JobRecord) -> [String: Any] {
        var job = job
        if job.listing == nil { job.refreshListing() }
        var object = (job.listing.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]) ?? [:]
        object["resumable"] = isResumable(job)
        object["command"] = job.command
        object["exit_status"] = job.exitStatus ?? NSNull()
        object["process_id"] = job.processID ?? NSNull()
        object["run_directory"] = job.runDirectory ?? NSNull()
        object["summary"] =
            job.summary.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } ?? NSNull()
        object["provenance"] = [
            "board_file": job.boardFile ?? NSNull(), "board_sha256": job.boardSHA256 ?? NSNull(),
            "calibration": job.calibrationPath ?? NSNull(), "calibration_sha256": job.calibrationSHA256 ?? NSNull(),
            "ringlab_version": job.version ?? NSNull(), "git_commit": job.gitCommit ?? NSNull(),
            "seed": job.seed ?? NSNull(),
        ] as [String: Any]
        return object
    }
}
