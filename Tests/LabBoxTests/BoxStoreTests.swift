import Foundation
import LabBox
import Testing

/// The queue and index in SQLite: order, reorder, the restart rule, and listings that are valid
/// JSON whatever the stored text.
@Suite struct BoxStoreTests {
    func store() throws -> BoxStore {
        let folder = NSTemporaryDirectory() + "ringlab-box-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return try BoxStore(path: folder + "/box.sqlite")
    }

    func job(_ arguments: [String], priority: Int = 0) -> JobRecord {
        JobRecord(submitter: "test", arguments: arguments, command: [], kind: "calibration", priority: priority)
    }

    @Test func theQueueRunsByPriorityThenOrderAndReorders() throws {
        let store = try store()
        let a = try store.enqueue(job(["calibrate"]))
        let b = try store.enqueue(job(["calibrate", "--seed", "2"]))
        let urgent = try store.enqueue(job(["calibrate", "--seed", "3"], priority: 5))
        #expect(try store.queue().map(\.id) == [urgent.id, a.id, b.id])
        _ = try store.reorder(b.id!, priority: nil, toFront: true)
        #expect(try store.queue().map(\.id) == [urgent.id, b.id, a.id])
        let started = try store.startNext { _ in }
        #expect(started?.id == urgent.id && started?.state == .running)
        #expect(try store.reorder(urgent.id!, priority: 1, toFront: false) == nil, "a running job is not reordered")
        #expect(try store.cancelQueued(a.id!))
        #expect(try store.cancelQueued(a.id!) == false)
    }

    @Test func aRestartMarksWhatWasRunningInterruptedAndKeepsTheQueue() throws {
        let store = try store()
        let running = try store.enqueue(job(["calibrate"]))
        let waiting = try store.enqueue(job(["calibrate", "--seed", "2"]))
        _ = try store.startNext { _ in }
        let cut = try store.markRunningInterrupted(reason: "power loss")
        #expect(cut.map(\.id) == [running.id])
        #expect(try store.job(running.id!)?.state == .interrupted)
        #expect(try store.queue().map(\.id) == [waiting.id])
    }

    @Test func listingsAreValidJSONNewestFirstAndPage() throws {
        let store = try store()
        let hostile = "quote \" backslash \\ newline \n tab \t bell \u{7} é ∑"
        for index in 0..<25 {
            var record = try store.enqueue(job(["train", "ring", "--task", "csv:\(hostile)", "--seed", "\(index)"]))
            record.state = index.isMultiple(of: 5) ? .failed : .done
            record.headline = hostile
            record.reason = index.isMultiple(of: 5) ? hostile : nil
            record.finishedAt = Date()
            try store.update(record)
        }
        func ids(_ data: Data) throws -> [Int] {
            let items = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
            for item in items {
                #expect(item["headline"] as? String == hostile)
                #expect(abs((item["created_at"] as? Double ?? 0) - Date().timeIntervalSince1970) < 60, "times in seconds since 1970")
            }
            if let first = items.first { #expect((first["args"] as? [String])?[3] == "csv:\(hostile)") }
            return items.compactMap { $0["id"] as? Int }
        }
        #expect(try ids(store.listing(states: nil, limit: 10)) == Array((16...25).reversed()))
        #expect(try ids(store.listing(states: nil, before: 16, limit: 10)) == Array((6...15).reversed()))
        #expect(try ids(store.listing(states: [.failed], limit: 100)) == [21, 16, 11, 6, 1])
        #expect(try ids(store.listing(states: [.queued], limit: 100)) == [])
    }
}
