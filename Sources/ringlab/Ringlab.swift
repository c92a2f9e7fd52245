import ArgumentParser
import Foundation
import ReservoirControl

/// The ringlab command line: one thin subcommand per job.
@main
struct Ringlab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ringlab",
        abstract: "Controller for a magnonic-ring physical reservoir computer, and its simulated twin.",
        subcommands: [
            TwinCommand.self, CalibrateCommand.self, ReservoirCommand.self, RunCommand.self, TrainCommand.self,
            DemoCommand.self, InfoCommand.self, SafeCommand.self,
            BenchCommand.self, BoxCommand.self, CheckCommand.self,
            VersionCommand.self,
        ])

    /// Every ringlab process, first: a crash closes its sockets before anything else, so a
    /// served board drives itself safe at once (docs/drive-loop.md, Safety layers).
    static func main() {
        RealtimeThread.unblockInheritedSignals()
        RealtimeThread.ignoreBrokenPipe()
        RealtimeThread.installCrashSocketShutdown()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // A usage error is one line on stderr (status 64): what was wrong, where help is.
            // Everything else (help, version, exit codes, errors) as ArgumentParser prints it.
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            let first = message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            FileHandle.standardError.write(Data("ringlab: \(first) (ringlab help)\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
    }
}
