import Foundation
import ReservoirFiles
import ReservoirHAL

/// A calibration as stored on disk (calibration/schema/calibration-v1.schema.json): the board,
/// where the numbers came from, and every value with its unit and uncertainty.
public struct CalibrationRecord: Sendable, Equatable {
    /// The schema this build writes and reads.
    public static let schemaVersion = 1

    public struct Provenance: Sendable, Equatable {
        public var ringlabVersion: String
        public var gitCommit: String
        /// ISO 8601, UTC.
        public var createdUTC: String
        public var seed: UInt64
        /// SHA-256 of the board file the calibration was made with.
        public var boardFileSHA256: String

        public init(
            ringlabVersion: String, gitCommit: String, createdUTC: String, seed: UInt64, boardFileSHA256: String
        ) {
            self.ringlabVersion = ringlabVersion
            self.gitCommit = gitCommit
            self.createdUTC = createdUTC
            self.seed = seed
            self.boardFileSHA256 = boardFileSHA256
        }
    }

    public var boardName: String
    public var boardSerial: String
    public var provenance: Provenance
    /// Named values; `units` says which unit each must carry.
    public var values: [String: Estimate]
    public var transferCurve: [TransferPoint]

    /// Every value a calibration holds, with its unit. `relaxation_seconds` may be absent (an
    /// unresolved edge).
    public static let units: [String: String] = [
        "adc_offset_volts": "V", "noise_floor_volts": "V", "threshold_volts": "V", "latency_samples": "samples",
        "relaxation_seconds": "s", "relaxation_drive_volts": "V", "bias_volts": "V", "span_volts": "V",
        "transfer_slope": "V/V", "state_noise_volts": "V", "reference_volts": "V", "drift_volts": "V",
        "hysteresis_volts": "V", "evaluation_noise": "1", "evaluation_signal": "1",
    ]
    static let optionalValues: Set<String> = ["relaxation_seconds"]
    /// What each value can physically be: a value outside is an invalid file, not drift (a
    /// converter's volts lie within ±100 V, a latency within 0 … 65,536 samples, a span, a noise
    /// or a relaxation time is positive).
    static let physicalRanges: [String: ClosedRange<Double>] = [
        "adc_offset_volts": -100...100, "noise_floor_volts": 0...100, "threshold_volts": -100...100,
        "latency_samples": 0...65_536, "relaxation_seconds": 0...1_000, "relaxation_drive_volts": -100...100,
        "bias_volts": -100...100, "span_volts": 1e-9...100, "transfer_slope": -1e6...1e6,
        "state_noise_volts": 0...100, "reference_volts": -100...100, "drift_volts": -100...100,
        "hysteresis_volts": -100...100, "evaluation_noise": 0...1e6, "evaluation_signal": -1e6...1e6,
    ]

    /// The record of a measurement.
    public init(result: DeviceCalibrationResult, boardName: String, boardSerial: String, provenance: Provenance) {
        self.boardName = boardName
        self.boardSerial = boardSerial
        self.provenance = provenance
        var values: [String: Estimate] = [
            "adc_offset_volts": result.adcOffsetVolts, "noise_floor_volts": result.noiseFloorVolts,
            "threshold_volts": result.thresholdVolts,
            "latency_samples": Estimate(Double(result.latencySamples), uncertainty: 0, unit: "samples"),
            "relaxation_drive_volts": Estimate(result.relaxationDriveVolts, uncertainty: 0, unit: "V"),
            "bias_volts": Estimate(result.biasVolts, uncertainty: result.thresholdVolts.uncertainty, unit: "V"),
            "span_volts": Estimate(result.spanVolts, uncertainty: 0, unit: "V"),
            "transfer_slope": result.transferSlope, "state_noise_volts": result.stateNoiseVolts,
            "reference_volts": result.referenceVolts,
            "drift_volts": Estimate(result.driftVolts, uncertainty: result.referenceVolts.uncertainty * 2, unit: "V"),
            "hysteresis_volts": Estimate(result.hysteresisVolts, uncertainty: 0, unit: "V"),
            "evaluation_noise": result.evaluationNoise,
            "evaluation_signal": Estimate(result.evaluationSignal, uncertainty: 0, unit: "1"),
        ]
        if let relaxation = result.relaxationSeconds { values["relaxation_seconds"] = relaxation }
        self.values = values
        transferCurve = result.transfer
    }

    /// The operating point this calibration sets (feedback stays the board file's).
    public var biasVolts: Double { values["bias_volts"]!.value }
    public var spanVolts: Double { values["span_volts"]!.value }
    public var latencySamples: Int { Int(values["latency_samples"]!.value) }

    // MARK: JSON

    /// The file's text: keys sorted, numbers in Swift's shortest exact form (JSONEncoder), so a
    /// record survives writing and reading bit for bit.
    public func json() throws -> String {
        struct Board: Encodable { var name: String, serial: String }
        struct Origin: Encodable {
            var ringlabVersion: String, gitCommit: String, createdUTC: String, seed: UInt64, boardFileSHA256: String
        }
        struct Point: Encodable { var driveVolts: Double, upVolts: Double, downVolts: Double }
        struct File: Encodable {
            var schemaVersion: Int, board: Board, provenance: Origin, values: [String: Estimate], transferCurve: [Point]
        }
        let file = File(
            schemaVersion: Self.schemaVersion, board: Board(name: boardName, serial: boardSerial),
            provenance: Origin(
                ringlabVersion: provenance.ringlabVersion, gitCommit: provenance.gitCommit,
                createdUTC: provenance.createdUTC, seed: provenance.seed, boardFileSHA256: provenance.boardFileSHA256),
            values: values,
            transferCurve: transferCurve.map {
                Point(driveVolts: $0.driveVolts, upVolts: $0.upVolts, downVolts: $0.downVolts)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(file), as: UTF8.self) + "\n"
    }

    /// Reads and validates the calibration file at `path`: every required field present, of
    /// its type, each value in its unit; a schema version other than this build's is refused.
    public static func load(_ path: String) throws(ConfigError) -> CalibrationRecord {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigError(
                file: path, field: "", problem: .unreadable(reason: (error as NSError).localizedDescription),
                expected: "a calibration file")
        }
        return try parse(data, source: path)
    }

    /// Validates calibration JSON from `source`.
    public static func parse(_ data: Data, source: String) throws(ConfigError) -> CalibrationRecord {
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ConfigError(
                    file: source, field: "", problem: .invalidValue(found: "not an object"), expected: "a JSON object")
            }
            root = object
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(
                file: source, field: "", problem: .unreadable(reason: "invalid JSON"), expected: "a JSON object")
        }
        func field(_ object: [String: Any], _ key: String, _ path: String) throws(ConfigError) -> Any {
            guard let value = object[key] else {
                throw ConfigError(
                    file: source, field: path, problem: .missingField,
                    expected: "it in calibration schema \(schemaVersion) (calibration/schema/)")
            }
            return value
        }
        func number(_ object: [String: Any], _ key: String, _ path: String) throws(ConfigError) -> Double {
            let value = try field(object, key, path)
            // JSON true/false also arrive as NSNumber; their type code is "c" (char).
            guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else {
                throw ConfigError(
                    file: source, field: path, problem: .invalidValue(found: "\(value)"), expected: "a number")
            }
            return number.doubleValue
        }
        func volts(_ object: [String: Any], _ key: String, _ path: String) throws(ConfigError) -> Double {
            let value = try number(object, key, path)
            guard (-100...100).contains(value) else {
                throw ConfigError(
                    file: source, field: path, problem: .invalidValue(found: "\(value)"),
                    expected: "a physically valid voltage from -100 to 100")
            }
            return value
        }
        func text(_ object: [String: Any], _ key: String, _ path: String) throws(ConfigError) -> String {
            let value = try field(object, key, path)
            guard let string = value as? String else {
                throw ConfigError(
                    file: source, field: path, problem: .invalidValue(found: "\(value)"), expected: "a string")
            }
            return string
        }
        func mapping(_ object: [String: Any], _ key: String, _ path: String) throws(ConfigError) -> [String: Any] {
            let value = try field(object, key, path)
            guard let map = value as? [String: Any] else {
                throw ConfigError(
                    file: source, field: path, problem: .invalidValue(found: "\(value)"), expected: "an object")
            }
            return map
        }

        let version = try number(root, "schemaVersion", "schemaVersion")
        guard version == Double(schemaVersion) else {
            throw ConfigError(
                file: source, field: "schemaVersion",
                problem: .invalidValue(
                    found: "\(version == version.rounded() ? String(Int(version)) : String(version))"),
                expected: "\(schemaVersion): this ringlab reads calibration schema version \(schemaVersion) only")
        }
        let board = try mapping(root, "board", "board")
        let name = try text(board, "name", "board.name")
        let serial = try text(board, "serial", "board.serial")
        let origin = try mapping(root, "provenance", "provenance")
        let seedValue = try number(origin, "seed", "provenance.seed")
        // 2^64 and above do not fit a seed (UInt64(1e30) would trap).
        guard seedValue >= 0, seedValue < 18_446_744_073_709_551_616, seedValue == seedValue.rounded() else {
            throw ConfigError(
                file: source, field: "provenance.seed", problem: .invalidValue(found: "\(seedValue)"),
                expected: "a whole number from 0 to 2^64 − 1")
        }
        let provenance = Provenance(
            ringlabVersion: try text(origin, "ringlabVersion", "provenance.ringlabVersion"),
            gitCommit: try text(origin, "gitCommit", "provenance.gitCommit"),
            createdUTC: try text(origin, "createdUTC", "provenance.createdUTC"), seed: UInt64(seedValue),
            boardFileSHA256: try text(origin, "boardFileSHA256", "provenance.boardFileSHA256"))
        let valueObjects = try mapping(root, "values", "values")
        var values: [String: Estimate] = [:]
        for key in units.keys.sorted() {
            guard valueObjects[key] != nil || !optionalValues.contains(key) else { continue }
            let path = "values.\(key)"
            let entry = try mapping(valueObjects, key, path)
            let unit = try text(entry, "unit", "\(path).unit")
            guard unit == units[key]! else {
                throw ConfigError(
                    file: source, field: "\(path).unit", problem: .invalidValue(found: "\"\(unit)\""),
                    expected: "\"\(units[key]!)\"")
            }
            let uncertainty = try number(entry, "uncertainty", "\(path).uncertainty")
            guard uncertainty >= 0 else {
                throw ConfigError(
                    file: source, field: "\(path).uncertainty", problem: .invalidValue(found: "\(uncertainty)"),
                    expected: "a value ≥ 0")
            }
            let value = try number(entry, "value", "\(path).value")
            let valid = physicalRanges[key]!
            guard valid.contains(value), key != "latency_samples" || value == value.rounded() else {
                throw ConfigError(
                    file: source, field: "\(path).value", problem: .invalidValue(found: "\(value)"),
                    expected:
                        "a physically valid value, \(key == "latency_samples" ? "a whole number" : "a number") from \(valid.lowerBound) to \(valid.upperBound)"
                )
            }
            values[key] = Estimate(value, uncertainty: uncertainty, unit: unit)
        }
        for key in valueObjects.keys where units[key] == nil {
            throw ConfigError(
                file: source, field: "values.\(key)", problem: .unknownField,
                expected: "one of \(units.keys.sorted().joined(separator: ", "))")
        }
        guard let curve = try field(root, "transferCurve", "transferCurve") as? [[String: Any]] else {
            throw ConfigError(
                file: source, field: "transferCurve", problem: .invalidValue(found: "not a list of objects"),
                expected: "a list of {driveVolts, upVolts, downVolts}")
        }
        var points: [TransferPoint] = []
        for (index, point) in curve.enumerated() {
            let path = "transferCurve[\(index)]"
            points.append(
                TransferPoint(
                    driveVolts: try volts(point, "driveVolts", "\(path).driveVolts"),
                    upVolts: try volts(point, "upVolts", "\(path).upVolts"),
                    downVolts: try volts(point, "downVolts", "\(path).downVolts")))
        }
        return CalibrationRecord(
            boardName: name, boardSerial: serial, provenance: provenance, values: values, transferCurve: points)
    }

    init(
        boardName: String, boardSerial: String, provenance: Provenance, values: [String: Estimate],
        transferCurve: [TransferPoint]
    ) {
        self.boardName = boardName
        self.boardSerial = boardSerial
        self.provenance = provenance
        self.values = values
        self.transferCurve = transferCurve
    }
}
