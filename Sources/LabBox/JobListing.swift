import Foundation
import GRDB

/// The experiment index as the API lists it: the columns a listing shows, read row by row and
/// written straight to JSON (the stored argument vector is JSON already and goes out verbatim),
/// newest first, by the primary key so a page costs the same however large the index grows
/// (`ringlab-box bench-index` prints the figures).
extension BoxStore {
    public static let listingColumns =
        "id, state, kind, priority, submitter, arguments, createdAt, startedAt, finishedAt, headline, reason, seed, resumeOf"

    /// A JSON array of jobs in `states` (all when nil) with ids below `before`, at most `limit`.
    public func listing(states: [JobState]?, before: Int64? = nil, limit: Int) throws -> Data {
        var conditions: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let states {
            // "+state": keeps SQLite on the primary key's order (a scan that stops after `limit`
            // rows) instead of the state index (every matching row, then a sort).
            conditions.append("+state IN (\(states.map { _ in "?" }.joined(separator: ",")))")
            arguments += states.map(\.rawValue)
        }
        if let before {
            conditions.append("id < ?")
            arguments.append(before)
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments.append(limit)
        return try database.read { db in
            var json: [UInt8] = [UInt8(ascii: "[")]
            json.reserveCapacity(limit * 300)
            let rows = try Row.fetchCursor(
                db, sql: "SELECT \(Self.listingColumns) FROM job \(filter) ORDER BY id DESC LIMIT ?",
                arguments: StatementArguments(arguments))
            var first = true
            // Columns by position, in listingColumns' order.
            while let row = try rows.next() {
                if !first { json.append(UInt8(ascii: ",")) }
                first = false
                JSONText.append(#"{"id":"#, to: &json)
                JSONText.append(JSONText.integer(row[0]), to: &json)
                JSONText.append(#","state":"#, to: &json)
                JSONText.appendString(row[1], to: &json)
                JSONText.append(#","kind":"#, to: &json)
                JSONText.appendString(row[2], to: &json)
                JSONText.append(#","priority":"#, to: &json)
                JSONText.append(JSONText.integer(row[3]), to: &json)
                JSONText.append(#","submitter":"#, to: &json)
                JSONText.appendString(row[4], to: &json)
                JSONText.append(#","args":"#, to: &json)
                // GRDB stores a Codable array as JSON, as a blob or as text.
                switch (row[5] as DatabaseValue).storage {
                case .blob(let data): json.append(contentsOf: data)
                case .string(let text): JSONText.append(text, to: &json)
                default: JSONText.append("[]", to: &json)
                }
                JSONText.append(#","created_at":"#, to: &json)
                JSONText.append(JSONText.number(row[6]), to: &json)
                JSONText.append(#","started_at":"#, to: &json)
                JSONText.append(JSONText.number(row[7]), to: &json)
                JSONText.append(#","finished_at":"#, to: &json)
                JSONText.append(JSONText.number(row[8]), to: &json)
                JSONText.append(#","headline":"#, to: &json)
                JSONText.appendString(row[9], to: &json)
                JSONText.append(#","reason":"#, to: &json)
                JSONText.appendString(row[10], to: &json)
                JSONText.append(#","seed":"#, to: &json)
                JSONText.append(JSONText.integer(row[11]), to: &json)
                JSONText.append(#","resume_of":"#, to: &json)
                JSONText.append(JSONText.integer(row[12]), to: &json)
                json.append(UInt8(ascii: "}"))
            }
            json.append(UInt8(ascii: "]"))
            return Data(json)
        }
    }
}

/// JSON values written by hand, for listings too large to go through JSONSerialization.
enum JSONText {
    static func append(_ text: String, to bytes: inout [UInt8]) { bytes.append(contentsOf: text.utf8) }

    /// A JSON string (or null), escaping only where a byte needs it.
    static func appendString(_ value: String?, to bytes: inout [UInt8]) {
        guard let value else { return append("null", to: &bytes) }
        let utf8 = value.utf8
        if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: utf8)
            bytes.append(UInt8(ascii: "\""))
        } else {
            append(string(value), to: &bytes)
        }
    }

    static func string(_ value: String?) -> String {
        guard let value else { return "null" }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "null" }
        return "\(value)"
    }

    static func integer(_ value: Int64?) -> String { value.map { "\($0)" } ?? "null" }
}
