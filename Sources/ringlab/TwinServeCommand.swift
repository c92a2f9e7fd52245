import ArgumentParser
import Foundation
import RinglabJobs

#if canImport(Glibc)
    import Glibc
#endif

/// `ringlab twin serve`: runs `ringlab-iiod`, built beside `ringlab`, with the same arguments
/// (it replaces this process, so signals, output and exit status are its own). The server is a
/// separate executable so that `ringlab` builds without SwiftNIO.
struct TwinServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the twin over the libiio network protocol (iiod; see ringlab-iiod --help).")

    @Argument(parsing: .captureForPassthrough, help: "--port, --bind, --board, --twin, --seed, --randomize, --paced, --inject")
    var arguments: [String] = []

    func run() throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let server = executable.deletingLastPathComponent().appendingPathComponent("ringlab-iiod").path
        var board: [String] = []
        if !arguments.contains("--board") {
            board = ["--board", Composition.locateDefault(Composition.defaultBoardFile)]
        }
        let argv = [server] + board + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        execv(server, &cArguments)
        FileHandle.standardError.write(
            Data("ringlab: cannot run \(server) (\(String(cString: strerror(errno)))); build it with make build\n".utf8)
        )
        throw ExitCode.failure
    }
}
