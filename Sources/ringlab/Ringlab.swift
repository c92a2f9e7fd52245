import ArgumentParser

/// The ringlab command line: one thin subcommand per job.
@main
struct Ringlab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ringlab",
        abstract: "Controller for a magnonic-ring physical reservoir computer, and its simulated twin.",
        subcommands: [
            TwinCommand.self, CalibrateCommand.self, ReservoirCommand.self, RunCommand.self, TrainCommand.self,
            DemoCommand.self, InfoCommand.self,
            BenchCommand.self,
            VersionCommand.self,
        ])
}
