import Foundation

/// How far one value moved between a calibration and a re-measurement, against its tolerance.
public struct CalibrationDrift: Sendable, Encodable {
    public var key: String
    public var recorded: Double
    public var now: Double
    public var tolerance: Double
    public var unit: String
    public var withinTolerance: Bool { abs(now - recorded) <= tolerance }

    public var line: String {
        key.padding(toLength: 18, withPad: " ", startingAt: 0)
            + String(format: "recorded %-12.6g now %-12.6g tolerance ±%-10.3g ", recorded, now, tolerance)
            + unit.padding(toLength: 8, withPad: " ", startingAt: 0) + (withinTolerance ? "ok" : "MOVED")
    }

    enum CodingKeys: String, CodingKey {
        case key, recorded, now, tolerance
        case withinTolerance = "within_tolerance"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(recorded, forKey: .recorded)
        try container.encode(now, forKey: .now)
        try container.encode(tolerance, forKey: .tolerance)
        try container.encode(withinTolerance, forKey: .withinTolerance)
    }

    /// The checks of `--verify`: the figures the drive loop depends on, with the tolerances of
    /// issue 5's acceptance (latency exact, threshold 1 %, ADC offset 2 mV, slope 5 %).
    public static func compare(record: CalibrationRecord, now: Verification) -> [CalibrationDrift] {
        func value(_ key: String) -> Double { record.values[key]?.value ?? .nan }
        return [
            CalibrationDrift(
                key: "latency_samples", recorded: value("latency_samples"), now: Double(now.latencySamples),
                tolerance: 0, unit: "samples"),
            CalibrationDrift(
                key: "threshold_volts", recorded: value("threshold_volts"), now: now.thresholdVolts.value,
                tolerance: 0.01 * abs(value("threshold_volts")), unit: "V"),
            CalibrationDrift(
                key: "adc_offset_volts", recorded: value("adc_offset_volts"), now: now.adcOffsetVolts.value,
                tolerance: 0.002, unit: "V"),
            CalibrationDrift(
                key: "transfer_slope", recorded: value("transfer_slope"), now: now.transferSlope.value,
                tolerance: 0.05 * abs(value("transfer_slope")), unit: "V/V"),
        ]
    }
}
