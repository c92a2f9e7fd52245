import ArgumentParser

/// `ringlab bench …`: benchmarks that print their figures (never asserted in tests).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks that print their figures.",
        subcommands: [
            BenchTwinCommand.self, BenchLoopCommand.self, BenchNNCommand.self, BenchTrainCommand.self,
            BenchIIOCommand.self,
        ])
}
