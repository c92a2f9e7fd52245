import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirCalibration
import ReservoirHAL
import ReservoirTwin

/// `ringlab twin characterize`: measures the twin through its Board as calibration will
/// measure hardware, and compares with the analytic values of its parameter file.
struct TwinCharacterizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "characterize",
        abstract: "Measure threshold, relaxation, noise floor and saturation of the twin against the analytic values.")

    @Option(name: .long, help: "Twin parameter file (default: the one hardware/boards/twin.yaml names).")
    var twin: String?

    @Option(name: .long, parsing: .unconditional, help: "Seed of the twin's noise.")
    var seed: UInt64 = 1

    @Option(name: .long, parsing: .unconditional, help: "Draw the twin's hidden parameters from this seed (see ringlab calibrate).")
    var randomize: UInt64?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        try reportingErrors {
            let (twinModel, board, parametersFile) = try Composition.twinBoard(
                twinFile: twin, seed: seed, randomize: randomize)
            let comparison = try TwinCharacterizationComparison.run(
                twin: twinModel, board: board, progress: progressReporter("twin characterize"))
            if json {
                try printJSON(comparison.report())
            } else {
                print("twin characterize: \(parametersFile), seed \(seed)")
                print(comparison.table())
            }
        }
    }
}

/// The characterization with its analytic expectations, from the twin's own parameter file.
struct TwinCharacterizationComparison {
    /// Operating points of the measurement (docs/ring-twin.md, "What the twin must show").
    static let relaxationGain = 0.98
    static let relaxationStartGain = 0.9
    static let noiseFloorGain = 0.9
    static let saturationGain = 1.2

    struct Row {
        var key: String
        var label: String
        var unit: String
        var measured: Double
        var expected: Double
        var relativeError: Double { abs(measured - expected) / abs(expected) }
    }
    var rows: [Row]

    static func run(twin: RingTwin, board: Board, progress: (String) -> Void) throws -> Self {
        let p = twin.parameters
        func drive(_ gain: Double) -> Volts { Volts(p.dacRequestVolts(forGain: gain)) }
        let plan = RingCharacterization.Plan(
            readout: PowerReadout(
                adcGainError: p.adc.gainError, adcOffsetVolts: p.adc.offsetVolts,
                diodeMaxVolts: p.detector.maxVolts, diodePowerScale: p.detector.powerScale),
            thresholdSearchRange: board.wiring.driveRange,
            relaxationVolts: drive(relaxationGain), relaxationStartVolts: drive(relaxationStartGain),
            noiseFloorVolts: drive(noiseFloorGain), saturationVolts: drive(saturationGain))
        let measured = try RingCharacterization().run(board: board, plan: plan, progress: progress)
        return Self(rows: [
            Row(
                key: "threshold_volts", label: "threshold (G = 1)", unit: "V",
                measured: measured.thresholdVolts.value, expected: p.thresholdRequestVolts),
            Row(
                key: "relaxation_seconds", label: "relaxation (G = \(relaxationGain))", unit: "s",
                measured: measured.relaxationSeconds, expected: p.powerRelaxationSeconds(gain: relaxationGain)),
            Row(
                key: "noise_floor_power", label: "noise floor (G = \(noiseFloorGain))", unit: "",
                measured: measured.noiseFloorPower, expected: p.noiseFloorPower(gain: noiseFloorGain)),
            Row(
                key: "saturation_power", label: "saturation (G = \(saturationGain))", unit: "",
                measured: measured.saturationPower, expected: p.saturationPower(gain: saturationGain)),
        ])
    }

    struct Figure: Encodable {
        var measured: Double
        var expected: Double
        var relative_error: Double
    }

    func report() -> [String: Figure] {
        Dictionary(
            uniqueKeysWithValues: rows.map {
                ($0.key, Figure(measured: $0.measured, expected: $0.expected, relative_error: $0.relativeError))
            })
    }

    func table() -> String {
        func format(_ value: Double, _ unit: String) -> String {
            let text = String(format: abs(value) < 0.01 ? "%.4g" : "%.5f", value)
            return unit.isEmpty ? text : "\(text) \(unit)"
        }
        var lines = [
            "quantity".padding(toLength: 26, withPad: " ", startingAt: 0)
                + "measured".padding(toLength: 16, withPad: " ", startingAt: 0)
                + "expected".padding(toLength: 16, withPad: " ", startingAt: 0) + "rel. error"
        ]
        for row in rows {
            lines.append(
                row.label.padding(toLength: 26, withPad: " ", startingAt: 0)
                    + format(row.measured, row.unit).padding(toLength: 16, withPad: " ", startingAt: 0)
                    + format(row.expected, row.unit).padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: "%.2f %%", 100 * row.relativeError))
        }
        return lines.joined(separator: "\n")
    }
}
