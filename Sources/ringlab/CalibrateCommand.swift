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
                    try printJSON(drifts)
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
                        ringlabVersion: ringlabVersion, gitCommit: CalibrationReport.gitCommit(),
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
}

