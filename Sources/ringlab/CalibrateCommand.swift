import ArgumentParser
import Foundation
import ReservoirCalibration
import ReservoirHAL
import ReservoirTwin

/// `ringlab calibrate`: measures the device through its board, as it would measure hardware.
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Measure offset, noise, transfer curve, threshold, latency, relaxation and operating point.")

    @Option(name: .long, help: "Board file.")
    var board = Composition.defaultBoardFile

    @Option(name: .long, help: "Seed of a twin's noise.")
    var seed: UInt64 = 1

    @Option(
        name: .long, help: "Draw a twin's hidden parameters from this seed (latency, offsets, gains, curve, noise).")
    var randomize: UInt64?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        try reportingErrors {
            let (device, twin) = try Composition.board(
                file: Composition.locateDefault(board), seed: seed, randomize: randomize)
            let result = try DeviceCalibration().run(board: device, progress: progressReporter("calibrate"))
            let report = CalibrationReport(result: result, truth: twin?.parameters)
            if json {
                try printJSON(report.json)
            } else {
                print("calibrate: \(device.wiring.name) (\(device.wiring.source))")
                print(report.table)
            }
        }
    }
}

/// A calibration's figures for people and for scripts, with a twin's true values beside them.
struct CalibrationReport {
    var result: DeviceCalibrationResult
    var truth: TwinParameters?

    struct Compared: Encodable {
        var measured: Double
        var truth: Double?
    }

    /// The four figures a twin can check, with their truths.
    var compared: [(key: String, label: String, unit: String, value: Compared)] {
        let t = truth
        return [
            (
                "latency_samples", "latency", "samples",
                Compared(measured: Double(result.latencySamples), truth: t.map { Double($0.adcLatencySamples) })
            ),
            (
                "threshold_volts", "threshold", "V",
                Compared(measured: result.thresholdVolts.value, truth: t?.thresholdRequestVolts)
            ),
            (
                "adc_offset_volts", "ADC offset", "V",
                Compared(measured: result.adcOffsetVolts.value, truth: t?.adc.offsetVolts)
            ),
            (
                "transfer_slope", "transfer slope at V_bias", "V/V",
                Compared(
                    measured: result.transferSlope.value,
                    truth: t?.transferSlope(atRequestVolts: result.biasVolts))
            ),
        ]
    }

    var json: [String: AnyEncodable] {
        var object: [String: AnyEncodable] = [:]
        for row in compared { object[row.key] = AnyEncodable(row.value) }
        object["noise_floor_volts"] = AnyEncodable(result.noiseFloorVolts)
        object["relaxation_seconds"] = AnyEncodable(result.relaxationSeconds)
        object["relaxation_drive_volts"] = AnyEncodable(result.relaxationDriveVolts)
        object["bias_volts"] = AnyEncodable(result.biasVolts)
        object["span_volts"] = AnyEncodable(result.spanVolts)
        object["hysteresis_volts"] = AnyEncodable(result.hysteresisVolts)
        object["state_noise_volts"] = AnyEncodable(result.stateNoiseVolts)
        object["drift_volts"] = AnyEncodable(result.driftVolts)
        return object
    }

    var table: String {
        var lines = ["  quantity                    measured        truth"]
        for row in compared {
            let truthText = row.value.truth.map { String(format: "%.6g", $0) } ?? "—"
            lines.append(
                "  " + row.label.padding(toLength: 28, withPad: " ", startingAt: 0)
                    + String(format: "%-16.6g", row.value.measured) + truthText + " " + row.unit)
        }
        lines.append(String(format: "  noise floor                 %.3g V rms", result.noiseFloorVolts.value))
        if let relaxation = result.relaxationSeconds {
            lines.append(
                String(
                    format: "  relaxation                  %.3g µs at %.4f V", relaxation.value * 1e6,
                    result.relaxationDriveVolts))
        } else {
            lines.append(
                String(format: "  relaxation                  not resolved at %.4f V", result.relaxationDriveVolts))
        }
        lines.append(
            String(
                format: "  operating point             V_bias %.4f V, V_span %.3f V", result.biasVolts, result.spanVolts
            ))
        lines.append(String(format: "  hysteresis                  %.4f V", result.hysteresisVolts))
        lines.append(String(format: "  state noise                 %.3g V rms", result.stateNoiseVolts.value))
        lines.append(String(format: "  drift over the run          %+.4f V", result.driftVolts))
        return lines.joined(separator: "\n")
    }
}

/// Wraps any Encodable for a heterogeneous JSON object.
struct AnyEncodable: Encodable {
    let encodeValue: (Encoder) throws -> Void
    init<T: Encodable>(_ value: T) { encodeValue = value.encode }
    func encode(to encoder: Encoder) throws { try encodeValue(encoder) }
}
