import Foundation
import ReservoirFiles
import ReservoirHAL

/// Calibrations on disk: `<root>/<board>/<serial>/<UTC-timestamp>.json`, one per run, and
/// `current.json` in the same folder naming the one in use.
///
/// Both are written atomically (temporary file, fsync, rename), the record first and the
/// pointer second: a crash at any moment leaves either the previous calibration in use or the
/// new one, never a partial file and never a pointer to a missing one.
public struct CalibrationStore: Sendable {
    public var root: String

    public init(root: String) { self.root = root }

    /// The folder of one device.
    public func folder(board: String, serial: String) -> String { "\(root)/\(board)/\(serial)" }

    /// Writes `record` and makes it current; returns its path.
    @discardableResult
    public func save(_ record: CalibrationRecord, timestamp: Date) throws -> String {
        let directory = folder(board: record.boardName, serial: record.boardSerial)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // A run killed mid-write leaves its hidden temporary file behind (never a visible
        // one): sweep those away.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where name.hasPrefix(".") && name.hasSuffix(".tmp") {
            try? FileManager.default.removeItem(atPath: "\(directory)/\(name)")
        }
        let name = Self.fileName(for: timestamp)
        let path = "\(directory)/\(name)"
        try DataFile.writeAtomically(try record.json(), to: path)
        try DataFile.writeAtomically("{\n  \"file\" : \"\(name)\"\n}\n", to: "\(directory)/current.json")
        return path
    }

    /// `20261129T195500Z.json`: sortable, and free of characters file systems dislike.
    public static func fileName(for date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date) + ".json"
    }

    /// The current calibration of a device and its path, or nil when it has none.
    public func current(board: String, serial: String) throws(ConfigError) -> (record: CalibrationRecord, path: String)?
    {
        let directory = folder(board: board, serial: serial)
        let pointer = "\(directory)/current.json"
        guard FileManager.default.fileExists(atPath: pointer) else { return nil }
        guard let data = FileManager.default.contents(atPath: pointer),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw ConfigError(
                file: pointer, field: "", problem: .unreadable(reason: "invalid JSON"), expected: "{\"file\": NAME}")
        }
        guard let name = object["file"] as? String, !name.contains("/") else {
            throw ConfigError(
                file: pointer, field: "file", problem: .missingField,
                expected: "the name of a calibration in \(directory)")
        }
        let path = "\(directory)/\(name)"
        return (try CalibrationRecord.load(path), path)
    }
}
