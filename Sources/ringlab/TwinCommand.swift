import ArgumentParser

/// `ringlab twin …`: the simulated ring.
struct TwinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twin", abstract: "Work with the simulated twin of the ring.",
        subcommands: [TwinCharacterizeCommand.self, TwinServeCommand.self])
}
