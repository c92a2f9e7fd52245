import Foundation

/// A submitted job checked before it is queued: a ringlab command line (never a shell line)
/// of a kind the box runs, without the options the box owns, within size bounds, and valid by
/// ringlab's own option checks (`ringlab check`). Builds the argument vector the box runs.
public struct JobRequest: Sendable {
    /// What the box runs: each kind a ringlab command, whether it drives the board, and
    /// whether it leaves a run folder (steps, evaluations, checkpoints).
    public struct Kind: Sendable, Equatable {
        public var name: String
        /// The leading words of the command line.
        public var command: [String]
        public var takesBoard: Bool
        public var takesRunDirectory: Bool
    }

    public static let kinds: [Kind] = [
        Kind(name: "calibration", command: ["calibrate"], takesBoard: true, takesRunDirectory: false),
        Kind(name: "ring-training", command: ["train", "ring"], takesBoard: true, takesRunDirectory: true),
        Kind(name: "mlp-training", command: ["train", "mlp"], takesBoard: false, takesRunDirectory: true),
        Kind(name: "reservoir-benchmark", command: ["reservoir", "run"], takesBoard: true, takesRunDirectory: false),
        Kind(name: "reservoir-benchmark", command: ["reservoir"], takesBoard: true, takesRunDirectory: false),
        Kind(name: "drive-loop-run", command: ["run"], takesBoard: true, takesRunDirectory: false),
        Kind(name: "characterization", command: ["twin", "characterize"], takesBoard: false, takesRunDirectory: false),
    ]

    /// Options the box sets itself (its board, its folders, its output format) or that would
    /// write outside its state folder.
    public static let ownedOptions: Set<String> = [
        "--board", "--run-dir", "--calibrations", "--fit-twin", "--json", "--help", "-h", "--version",
    ]

    public static let maximumArguments = 64
    public static let maximumArgumentBytes = 512

    public var arguments: [String]
    public var kind: Kind
    public var seed: Int64

    /// Checks the shape of `arguments` (not yet ringlab's option checks: `command`).
    public init(arguments: [String]) throws(JobRequestError) {
        guard !arguments.isEmpty else { throw .init("args is empty: give a ringlab command, e.g. [\"calibrate\"]") }
        guard arguments.count <= Self.maximumArguments else {
            throw .init("args has \(arguments.count) elements; at most \(Self.maximumArguments)")
        }
        for (index, argument) in arguments.enumerated() {
            guard !argument.isEmpty, argument.utf8.count <= Self.maximumArgumentBytes else {
                throw .init("args[\(index)] must be 1 to \(Self.maximumArgumentBytes) bytes")
            }
            guard !argument.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw .init("args[\(index)] contains a control character")
            }
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            guard !Self.ownedOptions.contains(name) else {
                throw .init("args[\(index)] is \(name), which the box sets itself (its board, folders and JSON output)")
            }
        }
        // The longest command a kind names wins ("reservoir run" over "reservoir").
        let matching = Self.kinds.filter { Array(arguments.prefix($0.command.count)) == $0.command }
        guard let kind = matching.max(by: { $0.command.count < $1.command.count }) else {
            let names = Self.kinds.map { $0.command.joined(separator: " ") }.joined(separator: ", ")
            throw .init("args[0] names no command the box runs; expected one of: \(names)")
        }
        self.arguments = arguments
        self.kind = kind
        var seed: Int64 = 1
        if let index = arguments.firstIndex(of: "--seed"), index + 1 < arguments.count,
            let value = Int64(arguments[index + 1])
        {
            seed = value
        }
        self.seed = seed
    }

    /// The argument vector to run (without the executable): the command, the box's board, the
    /// job's run folder, `--json`.
    public func command(board: String, runDirectory: String?) -> [String] {
        var command = arguments
        if kind.takesBoard { command += ["--board", board] }
        if kind.takesRunDirectory, let runDirectory { command += ["--run-dir", runDirectory] }
        return command + ["--json"]
    }
}

/// Why a submitted job was refused: one line for the API's 400 answer.
public struct JobRequestError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
