import ArgumentParser
import Foundation
import ReservoirBenchmarks
import ReservoirControl
import ReservoirHAL

/// `ringlab reservoir sweep`: how memory (STM) and nonlinear memory (PC) change with the
/// feedback η and with the bias's distance to threshold.
struct ReservoirSweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep", abstract: "Print STM and PC against the feedback η and the bias voltage.")

    @OptionGroup var options: ReservoirOptions

    @Option(name: .long, parsing: .upToNextOption, help: "Feedback strengths η to try.")
    var feedbacks: [Double] = [0, 1, 2, 3, 4, 5, 6, 8]

    @Option(
        name: .long, parsing: .upToNextOption,
        help: "Bias voltages V_bias to try (default: the operating point −0.2 V … +0.1 V).")
    var biases: [Double] = []

    @Flag(name: .long, help: "Print JSON: the two sweeps' rows.")
    var json = false

    struct Row: Encodable {
        var feedback: Double
        var bias_volts: Double
        var stm: Double
        var pc: Double
    }

    func run() throws {
        try reportingErrors {
            let base = try options.makeExperiment()
            let point = base.loop.settings.operatingPoint
            let eta0 = base.loop.settings.feedback
            var feedbackRows: [Row] = []
            for eta in feedbacks {
                let experiment = try options.makeExperiment(feedback: eta)
                feedbackRows.append(
                    Row(
                        feedback: eta, bias_volts: point.biasVolts.value, stm: try experiment.run(.stm),
                        pc: try experiment.run(.pc)))
            }
            let biasVolts =
                biases.isEmpty ? [-0.2, -0.1, -0.05, 0, 0.05, 0.1].map { point.biasVolts.value + $0 } : biases
            var biasRows: [Row] = []
            for value in biasVolts {
                let experiment = try options.makeExperiment(biasVolts: Volts(value))
                biasRows.append(
                    Row(feedback: eta0, bias_volts: value, stm: try experiment.run(.stm), pc: try experiment.run(.pc)))
            }
            if json {
                try printJSON(["feedback_sweep": feedbackRows, "bias_sweep": biasRows])
                return
            }
            print("feedback sweep at V_bias = \(point.biasVolts.value) V")
            print("  η       STM      PC")
            for row in feedbackRows { print(String(format: "  %-6.2f  %-7.3f  %-7.3f", row.feedback, row.stm, row.pc)) }
            print("bias sweep at η = \(eta0) (threshold: G = 1 near 1.55 V on the default twin)")
            print("  V_bias   STM      PC")
            for row in biasRows { print(String(format: "  %-7.4f  %-7.3f  %-7.3f", row.bias_volts, row.stm, row.pc)) }
        }
    }
}
