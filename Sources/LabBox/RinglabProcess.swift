import Foundation

/// Runs the `ringlab` executable for the box: the option check of a submission, the safe
/// state after an abnormal end, the version. Argument vectors only, never a shell.
public struct RinglabProcess: Sendable {
    public var executable: String
    /// The environment every child gets (RINGLAB_STATE: the box's state folder, so
    /// calibrations land there and runs find them).
    public var environment: [String: String]
    public var workingDirectory: String

    public init(executable: String, stateDirectory: String, workingDirectory: String) {
        self.executable = executable
        var environment = ProcessInfo.processInfo.environment
        environment["RINGLAB_STATE"] = stateDirectory
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// What a short command printed.
    public struct Outcome: Sendable {
        public var status: Int32
        public var signalled: Bool
        public var standardOutput: String
        public var standardError: String
    }

    /// Runs `ringlab arguments…` to its end, killing it after `timeout` seconds.
    public func run(_ arguments: [String], timeout: Double = 60) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory)
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        let timer = DispatchSource.makeTimerSource()
        timer.schedule(deadline: .now() + timeout)
        timer.setEventHandler { kill(pid, SIGKILL) }
        timer.resume()
        defer { timer.cancel() }
        // Both pipes read concurrently, so a chatty child cannot block on a full pipe.
        nonisolated(unsafe) var errorData = Data()
        let reader = DispatchGroup()
        DispatchQueue.global().async(group: reader) { errorData = error.fileHandleForReading.readDataToEndOfFile() }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        reader.wait()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self))
    }

    /// ringlab's own option checks on a command line: nil when valid, else why not.
    public func problem(with arguments: [String]) throws -> String? {
        let outcome = try run(["check", "--json", "--"] + arguments, timeout: 30)
        struct Verdict: Decodable {
            var valid: Bool
            var error: String?
        }
        guard let verdict = try? JSONDecoder().decode(Verdict.self, from: Data(outcome.standardOutput.utf8)) else {
            return "ringlab check did not answer (status \(outcome.status)): \(outcome.standardError.prefix(200))"
        }
        return verdict.valid ? nil : (verdict.error ?? "invalid")
    }

    /// Drives `board` safe with `ringlab safe` and returns its JSON report (nil: it failed).
    public func driveSafe(board: String) -> (safe: Bool, report: String) {
        guard let outcome = try? run(["safe", "--board", board, "--json"], timeout: 30) else {
            return (false, "ringlab safe could not be started")
        }
        return (outcome.status == 0, outcome.standardOutput.isEmpty ? outcome.standardError : outcome.standardOutput)
    }
}
