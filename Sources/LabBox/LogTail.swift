import Foundation

/// Follows a run's JSON-lines log (steps.jsonl, evaluations.jsonl) as it grows: each read
/// returns the complete lines written since the last one, at most `maximumBytes` at a time, so
/// a log of any size is followed in bounded memory. A torn last line waits for its newline.
public struct LogTail: Sendable {
    public let path: String
    public private(set) var offset: UInt64 = 0
    public var maximumBytes = 1 << 20

    public init(path: String) { self.path = path }

    public mutating func readLines() -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        // A log truncated under us (a resume trims it to its checkpoint) is followed anew.
        if size < offset { offset = 0 }
        guard size > offset, (try? handle.seek(toOffset: offset)) != nil,
            let data = try? handle.read(upToCount: maximumBytes), !data.isEmpty
        else { return [] }
        guard let lastNewline = data.lastIndex(of: UInt8(ascii: "\n")) else {
            // One line longer than maximumBytes: skip it rather than stall.
            if data.count == maximumBytes { offset += UInt64(data.count) }
            return []
        }
        let complete = data[data.startIndex...lastNewline]
        offset += UInt64(complete.count)
        return complete.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
    }
}
