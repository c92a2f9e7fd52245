import Foundation
import ReservoirCalibration
import ReservoirFiles
import ReservoirHAL
import ReservoirHardware
import ReservoirTwin

/// The composition root's helpers: where default files are, and how a board file becomes a
/// `Board` with the backend it names. This is the only non-test code that picks a backend.
public enum Composition {
    /// The default board: the in-process twin.
    public static let defaultBoardFile = "hardware/boards/twin.yaml"
    /// The feedback η of a calibrated board whose file has no operating point: a calibration
    /// measures bias, span and latency, not η. 2.4 is where the twin's parity-check capacity
    /// peaks while its short-term memory still rises (docs/drive-loop.md, the η sweep), the
    /// value the committed board files give.
    public static let uncalibratedFeedback = 2.4
    /// The default twin physics.
    public static let defaultTwinFile = "hardware/twin/ring-default.yaml"

    /// A repository-relative default file: taken from the working directory when it is there,
    /// else from `$RINGLAB_HOME`, else from the checkout the binary was built in
    /// (`.build/<config>/ringlab` → the package root), so `ringlab` works from any folder.
    public static func locateDefault(_ relativePath: String) -> String {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: relativePath) { return relativePath }
        var roots: [String] = []
        if let home = ProcessInfo.processInfo.environment["RINGLAB_HOME"] { roots.append(home) }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        roots.append(executable.deletingLastPathComponent().appendingPathComponent("../../..").standardized.path)
        roots.append(
            executable.deletingLastPathComponent().appendingPathComponent("../share/ringlab").standardized.path)
        for root in roots where fileManager.fileExists(atPath: "\(root)/\(relativePath)") {
            return "\(root)/\(relativePath)"
        }
        return relativePath
    }

    /// Loads the twin parameter file at `path`.
    public static func loadTwinParameters(_ path: String) throws(ConfigError) -> TwinParameters {
        try TwinParameters(parsing: DataFile.load(path), source: path)
    }

    /// A lock-step twin board from the default board file, with the physics from `twinFile`
    /// (default: the one the board file names).
    public static func twinBoard(
        twinFile: String?, seed: UInt64, clock: any BoardClock = ManualClock(), randomize: UInt64? = nil
    ) throws(ConfigError) -> (twin: RingTwin, board: Board, parametersFile: String) {
        let wiring = try DataFile.loadBoard(locateDefault(defaultBoardFile))
        guard case .twin(let namedParameters) = wiring.backend else {
            throw ConfigError(
                file: wiring.source, field: "backend", problem: .invalidValue(found: "\"iio\""),
                expected: "\"twin\" for the default twin board")
        }
        let parametersFile = twinFile ?? namedParameters
        var parameters = try loadTwinParameters(parametersFile)
        if let randomize { parameters = parameters.randomized(seed: randomize) }
        let twin = RingTwin(parameters: parameters, seed: seed, clock: clock)
        return (twin, try twin.makeBoard(wiring: wiring), parametersFile)
    }
}

extension Composition {
    /// A board from the board file at `path` with the backend it names: a twin (seeded, in
    /// lock-step unless given another clock) or, later, libiio hardware.
    /// With `randomize`, a twin's hidden parameters are drawn from that seed
    /// (`TwinParameters.randomized`); a hardware board refuses it.
    /// `twinFile` replaces the twin parameter file the board file names.
    public static func board(
        file path: String, seed: UInt64, clock: any BoardClock = ManualClock(), randomize: UInt64? = nil,
        twinFile: String? = nil
    ) throws -> (board: Board, twin: RingTwin?) {
        let wiring = try DataFile.loadBoard(path)
        switch wiring.backend {
        case .twin(let parametersPath):
            var parameters = try loadTwinParameters(twinFile ?? parametersPath)
            if let randomize { parameters = parameters.randomized(seed: randomize) }
            let twin = RingTwin(parameters: parameters, seed: seed, clock: clock)
            return (try twin.makeBoard(wiring: wiring), twin)
        case .iio(let uri):
            guard randomize == nil, twinFile == nil else {
                throw UnsupportedBackend(description: "\(path): --randomize and --twin apply to a twin board only")
            }
            // A lock-step device keeps no deadlines: a manual clock that the loop never sees move.
            let deviceClock: any BoardClock = wiring.lockStep ? ManualClock() : MonotonicClock()
            return (try IIOBoard.make(wiring: wiring, uri: uri, clock: clock is ManualClock ? deviceClock : clock), nil)
        }
    }

    /// The installation's calibrations (the committed twin calibration): read, never written.
    public static let installedCalibrationRoot = "calibration"

    /// Where new calibrations are written: `--calibrations DIR`, else `$RINGLAB_STATE/calibration`
    /// (the box's unit sets RINGLAB_STATE=/var/lib/ringlab), else the XDG state folder
    /// (`$XDG_STATE_HOME` or `~/.local/state`)`/ringlab/calibration` — never into the checkout.
    public static func calibrationStateRoot(_ option: String?) -> String {
        if let option { return option }
        let environment = ProcessInfo.processInfo.environment
        if let state = environment["RINGLAB_STATE"], !state.isEmpty { return "\(state)/calibration" }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return "\(xdg)/ringlab/calibration" }
        return "\(NSHomeDirectory())/.local/state/ringlab/calibration"
    }

    /// The current calibration of a device: the state folder's, else the installation's.
    public static func currentCalibration(board: String, serial: String, stateOption: String? = nil) throws(ConfigError)
        -> (record: CalibrationRecord, path: String)?
    {
        for root in [calibrationStateRoot(stateOption), locateDefault(installedCalibrationRoot)] {
            if let found = try CalibrationStore(root: root).current(board: board, serial: serial) { return found }
        }
        return nil
    }

    /// The serial a board's calibrations are filed under: the board file's, marked for a
    /// randomized twin (each draw is a different device).
    public static func serial(of board: Board, randomize: UInt64?) -> String {
        randomize.map { "\(board.wiring.serial)-randomized-\($0)" } ?? board.wiring.serial
    }

    /// The operating point of a board: its current calibration's (bias, span, latency; the
    /// feedback stays the board file's) when one exists, else its board file's. Says which on
    /// stderr.
    public static func operatingPoint(of board: Board, randomize: UInt64? = nil, quiet: Bool = false) throws
        -> BoardDescription.OperatingPoint
    {
        try calibratedOperatingPoint(of: board, randomize: randomize, quiet: quiet).point
    }

    /// `operatingPoint(of:)` with the calibration it came from (nil: the board file's).
    public static func calibratedOperatingPoint(of board: Board, randomize: UInt64? = nil, quiet: Bool = false) throws
        -> (point: BoardDescription.OperatingPoint, calibration: (record: CalibrationRecord, path: String)?)
    {
        let serial = serial(of: board, randomize: randomize)
        let filed = board.wiring.operatingPoint
        if let (record, path) = try currentCalibration(board: board.wiring.name, serial: serial) {
            if !quiet { FileHandle.standardError.write(Data("ringlab: using calibration \(path)\n".utf8)) }
            let point = BoardDescription.OperatingPoint(
                biasVolts: Volts(record.biasVolts), spanVolts: Volts(record.spanVolts),
                latencySamples: record.latencySamples, feedback: filed?.feedback ?? Self.uncalibratedFeedback)
            return (point, (record, path))
        }
        guard let point = filed else {
            throw ConfigError(
                file: board.wiring.source, field: "operating_point", problem: .missingField,
                expected:
                    "an operating point (bias_volts, span_volts, latency_samples, feedback), or a calibration (ringlab calibrate)"
            )
        }
        if !quiet {
            FileHandle.standardError.write(
                Data(
                    "ringlab: uncalibrated (no calibration for \(board.wiring.name)/\(serial)); using the operating point of \(board.wiring.source)\n"
                        .utf8))
        }
        return (point, nil)
    }
}

/// A board file that names a backend this build cannot drive.
public struct UnsupportedBackend: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) { self.description = description }
}

