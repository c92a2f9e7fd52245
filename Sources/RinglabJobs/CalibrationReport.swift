import Foundation
import ReservoirCalibration
import ReservoirTwin

/// A calibration's figures for people and for scripts, with a twin's true values beside them.
public struct CalibrationReport {
    /// The commit of the source tree this binary runs from, when it is a git checkout.
    public static func gitCommit() -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let root = URL(fileURLWithPath: Composition.locateDefault(Composition.defaultBoardFile))
            .deletingLastPathComponent().appendingPathComponent("../..").standardized.path
        process.arguments = ["git", "-C", root, "rev-parse", "HEAD"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = Pipe()
        guard (try? process.run()) != nil else { return "unknown" }
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && text.count == 40 ? text : "unknown"
    }

    public var result: DeviceCalibrationResult
    public var truth: TwinParameters?

    public init(result: DeviceCalibrationResult, truth: TwinParameters?) {
        self.result = result
        self.truth = truth
    }

    public struct Compared: Encodable {
        public var measured: Double
        public var truth: Double?
    }

    /// The four figures a twin can check, with their truths.
    public var compared: [(key: String, label: String, unit: String, value: Compared)] {
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

    public var json: [String: AnyEncodable] {
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
        object["evaluation_noise"] = AnyEncodable(result.evaluationNoise)
        object["evaluation_signal"] = AnyEncodable(result.evaluationSignal)
        return object
    }

    public var table: String {
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
        lines.append(
            String(
                format: "  evaluation noise            %.3g (states' spread %.3g; repeated drive-loop runs)",
                result.evaluationNoise.value, result.evaluationSignal))
        lines.append(String(format: "  drift over the run          %+.4f V", result.driftVolts))
        return lines.joined(separator: "\n")
    }
}

/// Wraps any Encodable for a heterogeneous JSON object.
public struct AnyEncodable: Encodable {
    let encodeValue: (Encoder) throws -> Void
    public init<T: Encodable>(_ value: T) { encodeValue = value.encode }
    public func encode(to encoder: Encoder) throws { try encodeValue(encoder) }
}
