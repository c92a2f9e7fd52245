import ArgumentParser
import Foundation
import LabBox

/// `ringlab-box bench-index`: how long listing the experiment index takes as it grows. Fills a
/// fresh store with finished runs (summaries and provenance as real runs leave them) and times
/// the listings the API serves, as JSON — the page's first page, a state filter, paging through
/// everything, and all runs in one listing. Prints medians of repeated listings.
struct IndexBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-index", abstract: "Time listings of an experiment index of --runs runs (prints JSON).")

    @Option(name: .long, help: "Runs in the index.")
    var runs = 10_000

    @Option(name: .long, help: "Repetitions of each listing (the median is printed).")
    var repetitions = 21

    @Flag(name: .long, help: "Print JSON (the default output is JSON already).")
    var json = false

    func validate() throws {
        guard (1...1_000_000).contains(runs) else { throw ValidationError("--runs must be 1 to 1,000,000; got \(runs)") }
        guard (1...1000).contains(repetitions) else { throw ValidationError("--repetitions must be 1 to 1,000") }
    }

    func run() throws {
        let folder = NSTemporaryDirectory() + "ringlab-box-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try BoxStore(path: folder + "/box.sqlite")
        let fill = Date()
        try store.fillForBenchmark(runs: runs)
        let fillSeconds = Date().timeIntervalSince(fill)
        func median(_ body: () throws -> Void) rethrows -> Double {
            var times: [Double] = []
            for _ in 0..<repetitions {
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            return times.sorted()[times.count / 2]
        }
        let finished: [JobState] = [.done, .failed, .cancelled, .interrupted]
        let firstPage = try median { _ = try store.listing(states: finished, limit: 100) }
        let filtered = try median { _ = try store.listing(states: [.failed], limit: 100) }
        let paged = try median {
            // The benchmark's ids run 1…runs, so each page's last id is known.
            var before = Int64(runs) + 1
            while before > 1 {
                _ = try store.listing(states: finished, before: before, limit: 1000)
                before -= 1000
            }
        }
        var listed = 0
        let everything = try median {
            let all = try store.listing(states: finished, limit: runs)
            listed = all.count
        }
        let parsed = try JSONSerialization.jsonObject(with: try store.listing(states: finished, limit: runs)) as? [Any]
        listed = parsed?.count ?? 0
        let report: [String: Any] = [
            "runs": runs, "listed": listed, "fill_seconds": fillSeconds, "repetitions": repetitions,
            "first_page_100_ms": firstPage, "state_filter_100_ms": filtered, "all_in_pages_of_1000_ms": paged,
            "all_in_one_listing_as_json_ms": everything,
        ]
        let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
