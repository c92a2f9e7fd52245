import Foundation
import GRDB

/// The experiment index as the API lists it: each row's listing (a JSON object kept with the row
/// whenever the job changes), joined by SQLite, newest first, by the primary key so a page costs
/// the same however large the index grows (`ringlab-box bench-index` prints the figures).
extension BoxStore {
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
        // Each row keeps its listing as JSON (JobRecord.refreshListing); SQLite joins them.
        let sql = """
            SELECT '[' || coalesce(group_concat(listing, ','), '') || ']' FROM (
              SELECT listing FROM job \(filter) ORDER BY id DESC LIMIT ?)
            """
        return try database.read { db in
            let text = try String.fetchOne(db, sql: sql, arguments: StatementArguments(arguments)) ?? "[]"
            return Data(text.utf8)
        }
    }
}
