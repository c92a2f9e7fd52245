import ArgumentParser
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
            BenchCommand.self,
            VersionCommand.self,
        ])

    /// Every ringlab process, first: a crash closes its sockets before anything else, so a
    /// served board drives itself safe at once (docs/drive-loop.md, Safety layers).
    static func main() {
        RealtimeThread.installCrashSocketShutdown()
        main(nil)
    }
}
