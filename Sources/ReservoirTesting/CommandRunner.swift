import Foundation

/// Runs the built `ringlab` executable as a real process, for end-to-end tests.
public enum CommandRunner {
    /// What a finished command left behind.
    public struct Outcome: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
    }

    /// Every ringlab a test starts writes its state (calibrations) to a folder of this test
    /// process, never to the user's: set once, inherited by every child process.
    private static let isolatedState: Void = {
        setenv("RINGLAB_STATE", NSTemporaryDirectory() + "ringlab-test-state-\(getpid())", 0)
    }()

    /// The `ringlab` binary: `$RINGLAB_BIN` when set, else the one built beside these tests.
    public static var executablePath: String {
        _ = isolatedState
        if let path = ProcessInfo.processInfo.environment["RINGLAB_BIN"] { return path }
        #if DEBUG
            let configuration = "debug"
        #else
            let configuration = "release"
        #endif
        return "\(TwinFixtures.packageRoot)/.build/\(configuration)/ringlab"
    }

    /// Starts `ringlab arguments…` from the package root without waiting (its output goes to
    /// pipes nobody reads: for runs a test kills).
    public static func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: TwinFixtures.packageRoot)
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        try process.run()
        return process
    }

    /// What killing a run part-way left: whether it was still running when the signal was
    /// sent, whether the signal ended it, and whether it had finished (summary.json) anyway.
    public struct Kill: Sendable {
        public var wasRunning: Bool
        public var endedBySignal: Bool
        public var finished: Bool
    }

    /// Starts the training run `arguments` in `folder` (`--run-dir`) and kills it with SIGKILL
    /// as soon as its first checkpoint is on disk (within 60 s): a kill that lands mid-run.
    public static func killAfterFirstCheckpoint(_ arguments: [String], folder: String) throws -> Kill {
        let process = try start(arguments + ["--run-dir", folder])
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: folder + "/checkpoint.json"), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        let wasRunning = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return Kill(
            wasRunning: wasRunning, endedBySignal: process.terminationReason == .uncaughtSignal,
            finished: FileManager.default.fileExists(atPath: folder + "/summary.json"))
    }

    /// Runs `ringlab arguments…` from the package root and waits for it.
    public static func ringlab(_ arguments: [String]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: TwinFixtures.packageRoot)
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        // Read both pipes before waiting, so a chatty child cannot block on a full pipe.
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self))
    }

    /// Runs `ringlab arguments…` and decodes its standard output as a JSON object.
    public static func ringlabJSON(_ arguments: [String]) throws -> [String: Any] {
        let outcome = try ringlab(arguments)
        guard outcome.status == 0,
            let object = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any]
        else {
            throw CommandFailure(arguments: arguments, outcome: outcome)
        }
        return object
    }

    /// A command that did not succeed, with what it printed.
    public struct CommandFailure: Error, CustomStringConvertible {
        public var arguments: [String]
        public var outcome: Outcome
        public var description: String {
            "ringlab \(arguments.joined(separator: " ")) exited \(outcome.status): \(outcome.standardError)"
        }
    }
}
