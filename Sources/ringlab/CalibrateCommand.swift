import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirCalibration
import ReservoirFiles
import ReservoirHAL
import ReservoirTwin
import TwinFitting

/// `ringlab calibrate`: measures the device through its board, as it would measure hardware.
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Measure offset, noise, transfer curve, threshold, latency, relaxation and operating point.")

    @Option(name: .long, help: "Board file.")
    var board = Composition.defaultBoardFile

    @Option(name: .long, parsing: .unconditional, help: "Seed of a twin's noise.")
    var seed: UInt64 = 1

    @Option(
        name: .long, parsing: .unconditional, help: "Draw a twin's hidden parameters from this seed (latency, offsets, gains, curve, noise).")
    var randomize: UInt64?

    @Option(name: .long, help: "A twin board's parameter file, instead of the one the board file names.")
    var twin: String?

    @Option(name: .customLong("fit-twin"), help: "Fit twin parameters to this calibration and write them to this file.")
    var fitTwin: String?

    @Option(
        name: .customLong("twin-template"),
        help: "The twin parameter file whose model --fit-twin fits (default: hardware/twin/ring-default.yaml).")
    var twinTemplate: String?

    @Option(
        name: .long,
        help:
            "Folder new calibrations are written to (default: $RINGLAB_STATE/calibration, else ~/.local/state/ringlab/calibration); the installation's calibration/ is read, never written."
    )
    var calibrations: String?

    @Flag(name: .long, help: "Re-measure and compare with the current calibration; exit 1 when the device drifted.")
    var verify = false

    @Flag(name: .customLong("no-save"), help: "Measure and report without writing a calibration file.")
    var noSave = false

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        try reportingErrors {
            let boardFile = Composition.locateDefault(board)
            let (device, twin) = try Composition.board(
                file: boardFile, seed: seed, randomize: randomize, twinFile: self.twin)
            let store = CalibrationStore(root: Composition.calibrationStateRoot(calibrations))
            let serial = Composition.serial(of: device, randomize: randomize)
            let previous =
                verify
                ? try Composition.currentCalibration(
                    board: device.wiring.name, serial: serial, stateOption: calibrations) : nil
            if verify && previous == nil {
                throw ValidationError(
                    "no calibration of \(device.wiring.name)/\(serial) in \(store.root) or the installation's calibration/ to verify against: run ringlab calibrate first"
                )
            }
            if let (record, path) = previous {
                let now = try DeviceCalibration().verify(
                    board: device, recorded: record, progress: progressReporter("calibrate --verify"))
                let drifts = CalibrationDrift.compare(record: record, now: now)
                if json {
                    try printJSON(drifts.map(\.json))
                } else {
                    print("calibrate --verify: \(device.wiring.name)/\(serial) against \(path)")
                    for drift in drifts { print("  " + drift.line) }
                }
                if drifts.contains(where: { !$0.withinTolerance }) { throw ExitCode(1) }
                return
            }
            let started = Date()
            let result = try DeviceCalibration().run(board: device, progress: progressReporter("calibrate"))
            let report = CalibrationReport(result: result, truth: twin?.parameters)
            if let fitTwin {
                let templateFile = twinTemplate ?? Composition.locateDefault(Composition.defaultTwinFile)
                let fitted = try TwinFit.fit(
                    calibration: result, template: try Composition.loadTwinParameters(templateFile),
                    wiring: device.wiring, seed: seed)
                try DataFile.writeAtomically(
                    fitted.yaml(
                        header: """
                            Twin parameters fitted by `ringlab calibrate --fit-twin` to \(device.wiring.name)/\(serial)
                            (board file \(device.wiring.source), seed \(seed), \(ISO8601DateFormatter().string(from: started))),
                            on the model of \(templateFile). docs/calibration.md says what is fitted and how.
                            """), to: fitTwin)
                if !json { print("fitted twin written to \(fitTwin)") }
            }
            var savedPath: String?
            if !noSave {
                let record = CalibrationRecord(
                    result: result, boardName: device.wiring.name, boardSerial: serial,
                    provenance: .init(
                        ringlabVersion: ringlabVersion, gitCommit: Self.gitCommit(),
                        createdUTC: ISO8601DateFormatter().string(from: started), seed: seed,
                        boardFileSHA256: try SHA256.hexDigest(ofFile: boardFile)))
                savedPath = try store.save(record, timestamp: started)
            }
            if json {
                var object = report.json
                if let savedPath { object["file"] = AnyEncodable(savedPath) }
                try printJSON(object)
            } else {
                print("calibrate: \(device.wiring.name)/\(serial) (\(device.wiring.source))")
                print(report.table)
                if let savedPath { print("  written to \(savedPath) (now current)") }
            }
        }
    }

    /// The commit of the source tree this binary runs from, when it is a git checkout.
    static func gitCommit() -> String {
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
}

/// How far one value moved between a calibration and a re-measurement, against its tolerance.
struct CalibrationDrift {
    var key: String
    var recorded: Double
    var now: Double
    var tolerance: Double
    var unit: String
    var withinTolerance: Bool { abs(now - recorded) <= tolerance }

    var line: String {
        key.padding(toLength: 18, withPad: " ", startingAt: 0)
            + String(format: "recorded %-12.6g now %-12.6g tolerance ±%-10.3g ", recorded, now, tolerance)
            + unit.padding(toLength: 8, withPad: " ", startingAt: 0) + (withinTolerance ? "ok" : "MOVED")
    }

    var json: [String: AnyEncodable] {
        [
            "key": AnyEncodable(key), "recorded": AnyEncodable(recorded), "now": AnyEncodable(now),
            "tolerance": AnyEncodable(tolerance), "within_tolerance": AnyEncodable(withinTolerance),
        ]
    }

    /// The checks of `--verify`: the figures the drive loop depends on, with the tolerances of
    /// issue 5's acceptance (latency exact, threshold 1 %, ADC offset 2 mV, slope 5 %).
    static func compare(record: CalibrationRecord, now: Verification) -> [CalibrationDrift] {
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
        object["evaluation_noise"] = AnyEncodable(result.evaluationNoise)
        object["evaluation_signal"] = AnyEncodable(result.evaluationSignal)
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
        lines.append(
            String(
                format: "  evaluation noise            %.3g (states' spread %.3g; repeated drive-loop runs)",
                result.evaluationNoise.value, result.evaluationSignal))
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
