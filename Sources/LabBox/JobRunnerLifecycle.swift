import Foundation

/// Starting and ending a job's process.
extension JobRunner {
    /// The most a job's summary (its standard output) may be; a larger one is cut and noted.
    static let maximumSummaryBytes = 1 << 20

    func startNext() throws {
        let jobsFolder = configuration.stateDirectory + "/jobs"
        var started: (JobRecord, Process)?
        _ = try store.startNext { job in
            let id = job.id ?? 0
            let folder = "\(jobsFolder)/\(id)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            job.folder = folder
            if job.kind == "resume" {
                job.command = [ringlab.executable] + job.arguments + ["--json"]
                job.runDirectory = job.arguments.last
            } else {
                let request = try JobRequest(arguments: job.arguments)
                let runDirectory = request.kind.takesRunDirectory ? folder + "/run" : nil
                job.runDirectory = runDirectory
                job.command = [ringlab.executable] + request.command(board: configuration.board, runDirectory: runDirectory)
            }
            let board = Provenance.board(configuration.board, stateDirectory: configuration.stateDirectory)
            job.boardFile = configuration.board
            job.boardSHA256 = board.boardSHA256
            job.calibrationPath = board.calibrationPath
            job.calibrationSHA256 = board.calibrationSHA256
            job.version = provenance.version
            job.gitCommit = provenance.gitCommit
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ringlab.executable)
            process.arguments = Array(job.command.dropFirst())
            process.environment = ringlab.environment
            process.currentDirectoryURL = URL(fileURLWithPath: ringlab.workingDirectory)
            for name in ["stdout.json", "stderr.log"] {
                guard FileManager.default.createFile(atPath: folder + "/" + name, contents: nil) else {
                    throw JobRequestError("\(folder)/\(name): cannot create the job's output file")
                }
            }
            process.standardOutput = FileHandle(forWritingAtPath: folder + "/stdout.json")
            process.standardError = FileHandle(forWritingAtPath: folder + "/stderr.log")
            process.standardInput = FileHandle.nullDevice
            try process.run()
            job.processID = process.processIdentifier
            started = (job, process)
        }
        guard let (job, process) = started else { return }
        state.withLock { $0.running = Running(job: job, process: process) }
        recordBoardState(["state": "driven", "job": job.id ?? 0])
        logger.info("job \(job.id ?? 0) started: \(job.command.dropFirst().joined(separator: " "))")
    }

    func finish(_ running: Running) throws {
        var job = running.job
        let process = running.process
        let stopping = state.withLock { $0.stopping }
        job.finishedAt = Date()
        job.exitStatus = process.terminationStatus
        let signalled = process.terminationReason == .uncaughtSignal
        let folder = job.folder ?? ""
        let output = Self.head(of: folder + "/stdout.json", bytes: Self.maximumSummaryBytes)
        let summary = (try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: Any]
        if summary != nil { job.summary = output }
        job.headline = summary.flatMap(Self.headline)
        let lastError = Self.tail(of: folder + "/stderr.log", bytes: 4096)
            .split(separator: "\n").last.map(String.init)
        let interlock =
            (summary?["safe_reason"] as? String) == "interlock"
            || (lastError?.contains("interlock") ?? false && !signalled && process.terminationStatus != 0)
        if stopping {
            job.state = .interrupted
            job.reason = "the service stopped while the job ran"
        } else if running.cancelRequested {
            job.state = .cancelled
            job.reason = signalled ? "cancelled (ended by signal \(process.terminationStatus))" : "cancelled"
        } else if interlock {
            job.state = .interrupted
            job.reason = "the interlock opened: the job stopped safe and the queue holds until an operator releases it"
            try store.setSetting(Self.holdKey, "interlock opened during job \(job.id ?? 0)")
        } else if !signalled && process.terminationStatus == 0 {
            job.state = .done
        } else {
            job.state = .failed
            job.reason =
                signalled
                ? "ended by signal \(process.terminationStatus)"
                : (lastError ?? "exited with status \(process.terminationStatus)")
        }
        // A clean end leaves the board safe (every command does on its way out); anything else
        // is made safe here, before the next job.
        if job.state == .done {
            recordBoardState(["state": "safe", "reason": "job \(job.id ?? 0) ended cleanly"])
        } else {
            recordSafe(reason: "job \(job.id ?? 0) ended \(job.state.rawValue)")
        }
        try store.update(job)
        state.withLock { $0.running = nil }
        logger.info("job \(job.id ?? 0) \(job.state.rawValue)\(job.reason.map { ": " + $0 } ?? "")")
        onFinish(job)
    }

    /// One line for listings: the figure a scientist looks for first.
    static func headline(_ summary: [String: Any]) -> String? {
        for key in ["test_accuracy", "test_nrmse", "nrmse", "accuracy", "bias_volts", "final_state"] {
            if let number = summary[key] as? Double { return String(format: "%@ %.4f", key, number) }
            if let text = summary[key] as? String { return "\(key) \(text)" }
        }
        return nil
    }

    static func head(of path: String, bytes: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        return String(decoding: (try? handle.read(upToCount: bytes)) ?? Data(), as: UTF8.self)
    }

    static func tail(of path: String, bytes: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > UInt64(bytes) ? size - UInt64(bytes) : 0)
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }
}
