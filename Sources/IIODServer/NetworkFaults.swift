/// Network faults the server injects on purpose (`ringlab twin serve --inject
/// stall@T,drop@T,slow@RATE`), so the ip: path is tested against what real networks do:
///
/// - `stall@T`: once T seconds of ADC samples have been served, the streaming connection stops
///   answering — it stays open and reads, but sends nothing more (a refill that times out; a
///   server that hangs). The client's timeout or the server's idle timeout ends it.
/// - `drop@T`: at T seconds of samples served, the streaming connection is closed mid-stream.
/// - `slow@RATE`: from the first stream on, samples are served at most at RATE times the
///   sample rate (0 < RATE < 1: a link too slow for the stream).
///
/// T counts ADC samples served on all connections, in seconds at the sample rate: board time,
/// so a lock-step run meets a fault at the same sample every time. Each timed fault fires once.
public struct NetworkFault: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable { case stall, drop, slow }

    public var kind: Kind
    /// Board seconds served before a stall or a drop; the rate fraction for slow.
    public var value: Double

    /// Parses one fault, `stall@2.5`, `drop@1`, `slow@0.5`; the error names what was wrong.
    public init(parsing text: String) throws(NetworkFaultError) {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, let kind = Kind(rawValue: String(parts[0])) else {
            throw NetworkFaultError(
                description: "\"\(text)\": expected stall@SECONDS, drop@SECONDS or slow@RATE")
        }
        guard let value = Double(parts[1]), value.isFinite else {
            throw NetworkFaultError(description: "\"\(text)\": \(parts[1]) is not a number")
        }
        switch kind {
        case .stall, .drop:
            guard (0...86_400).contains(value) else {
                throw NetworkFaultError(description: "\"\(text)\": seconds must be 0 to 86400")
            }
        case .slow:
            guard value > 0, value < 1 else {
                throw NetworkFaultError(description: "\"\(text)\": the rate is a fraction of the sample rate, in (0, 1)")
            }
        }
        self.kind = kind
        self.value = value
    }

    /// A list, comma-separated (`stall@2,slow@0.5`).
    public static func list(parsing text: String) throws(NetworkFaultError) -> [NetworkFault] {
        var faults: [NetworkFault] = []
        for part in text.split(separator: ",") { faults.append(try NetworkFault(parsing: String(part))) }
        guard !faults.isEmpty else { throw NetworkFaultError(description: "\"\(text)\": no fault given") }
        return faults
    }

    public var description: String { "\(kind.rawValue)@\(value)" }
}

public struct NetworkFaultError: Error, CustomStringConvertible {
    public var description: String
}

/// The faults of one server and which have fired (touched only on the server's event loop).
final class NetworkFaultSchedule: @unchecked Sendable {
    private var timed: [NetworkFault]
    /// The slow fault's rate fraction, if any.
    let slowFraction: Double?
    /// When the slow fault's budget started (NIODeadline nanoseconds), and the samples served since.
    var slowOrigin: Int64?
    var slowServed = 0

    init(_ faults: [NetworkFault]) {
        timed = faults.filter { $0.kind != .slow }.sorted { $0.value < $1.value }
        slowFraction = faults.first { $0.kind == .slow }?.value
    }

    /// The timed fault due once `servedSeconds` of samples have been served, removed from the
    /// schedule (it fires once).
    func due(servedSeconds: Double) -> NetworkFault? {
        guard let first = timed.first, servedSeconds >= first.value else { return nil }
        timed.removeFirst()
        return first
    }
}
