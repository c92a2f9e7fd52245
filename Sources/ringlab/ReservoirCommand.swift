import ArgumentParser
import Foundation
import ReservoirBenchmarks
import ReservoirControl
import ReservoirHAL
import RinglabJobs

/// `ringlab reservoir`: classic reservoir computing on a board, scored on the benchmark tasks.
struct ReservoirCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reservoir", abstract: "Run the reservoir benchmark tasks on a board (default: the twin).",
        subcommands: [ReservoirRunCommand.self, ReservoirSweepCommand.self], defaultSubcommand: ReservoirRunCommand.self
    )
}

/// The options every reservoir subcommand shares.
struct ReservoirOptions: ParsableArguments {
    @Option(name: .long, help: "Board file.")
    var board: String = Composition.defaultBoardFile

    @Option(name: .long, parsing: .unconditional, help: "Virtual nodes per period, N.")
    var nodes: Int = 50

    @Option(name: .customLong("samples-per-node"), parsing: .unconditional, help: "Samples per node, S.")
    var samplesPerNode: Int = 4

    @Option(name: .long, parsing: .unconditional, help: "Feedback strength η (default: the board's operating point).")
    var feedback: Double?

    @Option(name: .long, parsing: .unconditional, help: "Shots R averaged per state.")
    var shots: Int = 1

    @Option(name: .customLong("input-scale"), parsing: .unconditional, help: "Input scale γ of the binary mask.")
    var inputScale: Double = ReservoirExperiment.defaultInputScale

    @Option(name: .long, parsing: .unconditional, help: "Seed of the task data, the mask and the twin's noise.")
    var seed: UInt64 = 1

    @Option(name: .long, parsing: .unconditional, help: "Draw a twin's hidden parameters from this seed (see ringlab calibrate).")
    var randomize: UInt64?

    func validate() throws {
        for option in [
            NumericOption("--nodes", Double(nodes), 1...4_096),
            NumericOption("--samples-per-node", Double(samplesPerNode), 1...1_024),
            NumericOption("--feedback", feedback, -100...100), NumericOption("--shots", Double(shots), 1...1_000),
            NumericOption("--input-scale", inputScale, 0...100),
        ] { try option.check() }
    }

    /// Builds the loop for these options on a fresh board.
    func makeExperiment(feedback override: Double? = nil, biasVolts: Volts? = nil) throws -> ReservoirExperiment {
        let (board, _) = try Composition.board(
            file: Composition.locateDefault(board), seed: seed, randomize: randomize)
        var point = try Composition.operatingPoint(of: board, randomize: randomize)
        if let biasVolts { point.biasVolts = biasVolts }
        var settings = ReservoirSettings(operatingPoint: point)
        settings.nodes = nodes
        settings.samplesPerNode = samplesPerNode
        settings.shots = shots
        if let value = override ?? feedback { settings.feedback = value }
        let loop = try DriveLoop(board: board, settings: settings)
        return ReservoirExperiment(loop: loop, inputScale: inputScale, seed: seed)
    }
}

struct ReservoirRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run one task or all of them and print the metrics.")

    @Option(name: .long, help: "stm, pc, narma10, sine-square or all.")
    var task: String = "all"

    @OptionGroup var options: ReservoirOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func validate() throws {
        guard task == "all" || ReservoirTask(rawValue: task) != nil else {
            throw ValidationError("--task must be stm, pc, narma10, sine-square or all; found \(task)")
        }
    }

    func run() throws {
        try reportingErrors {
            let tasks = task == "all" ? ReservoirTask.allCases : [ReservoirTask(rawValue: task)!]
            let experiment = try options.makeExperiment()
            let progress = progressReporter("reservoir")
            var results: [String: Double] = [:]
            for task in tasks {
                progress(task.rawValue)
                results[task.metricKey] = try experiment.run(task)
            }
            if json {
                try printJSON(results)
            } else {
                let settings = experiment.loop.settings
                print(
                    "reservoir on \(experiment.loop.board.wiring.name): N = \(settings.nodes), S = \(settings.samplesPerNode), "
                        + "η = \(settings.feedback), D = \(experiment.loop.delayPeriods), R = \(settings.shots), seed \(options.seed)"
                )
                for task in tasks {
                    print(
                        "  \(task.metricKey.padding(toLength: 22, withPad: " ", startingAt: 0)) \(String(format: "%.4f", results[task.metricKey]!))"
                    )
                }
            }
        }
    }
}
