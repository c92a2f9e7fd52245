import ArgumentParser
import Foundation
import RinglabJobs

#if canImport(Glibc)
    import Glibc
#endif

/// `ringlab box`: runs `ringlab-box`, built beside `ringlab`, with the same arguments (it
/// replaces this process, so signals, output and exit status are its own). The service is a
/// separate executable so that `ringlab` and `make demo` build without Hummingbird and GRDB.
struct BoxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "box",
        abstract: "Run the lab controller box: a queue, an API and a live page over one board (see ringlab-box --help).")

    @Argument(
        parsing: .captureForPassthrough,
        help: "ringlab-box's options: --board, --bind, --port, --state, --json (log JSON lines)")
    var arguments: [String] = []

    func run() throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let service = executable.deletingLastPathComponent().appendingPathComponent("ringlab-box").path
        var cArguments = ([service] + arguments).map { strdup($0) } + [nil]
        execv(service, &cArguments)
        FileHandle.standardError.write(
            Data("ringlab: cannot run \(service) (\(String(cString: strerror(errno)))); build it with make build\n".utf8))
        throw ExitCode.failure
    }
}

/// `ringlab check [--json] -- ARGS…`: parses and validates a ringlab command line exactly as
/// ringlab would (every option's checks, no run), so the box validates a submitted job with the
/// CLI's own rules. Exit 0 when valid; else the reason (one line, or `{"valid": false,
/// "error": …}`) and status 64.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Check a ringlab command line without running it (exit 0 when valid).",
        shouldDisplay: false)

    @Flag(name: .long, help: "Print {\"valid\": …, \"error\": …}.")
    var json = false

    @Argument(parsing: .postTerminator, help: "The command line to check, after --.")
    var arguments: [String] = []

    func run() throws {
        let problem = Self.problem(with: arguments)
        if json {
            try printJSON(Verdict(valid: problem == nil, error: problem))
        } else if let problem {
            FileHandle.standardError.write(Data("ringlab check: \(problem)\n".utf8))
        }
        if problem != nil { throw ExitCode.validationFailure }
    }

    struct Verdict: Encodable {
        var valid: Bool
        var error: String?
    }

    /// Why `arguments` is not a command ringlab would run, or nil.
    static func problem(with arguments: [String]) -> String? {
        guard let first = arguments.first, !["check", "box", "help"].contains(first) else {
            return "nothing to check: give a ringlab command (not check, box or help)"
        }
        do {
            _ = try Ringlab.parseAsRoot(arguments)
            return nil
        } catch {
            if Ringlab.exitCode(for: error) == .success { return "--help and --version are not commands" }
            return Ringlab.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        }
    }
}
