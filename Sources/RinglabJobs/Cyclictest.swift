import Foundation

/// Runs Debian's cyclictest (rt-tests) and reads its histogram.
public enum Cyclictest {
    public struct Result {
        public var percentiles: [String: Double]?
        public var note: String?
    }

    public static func run(intervalMicroseconds: Int, loops: Int, priority: Int32) -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "cyclictest", "-m", "-q", "-p", "\(priority)", "-i", "\(intervalMicroseconds)", "-l", "\(max(loops, 1))",
            "-h", "20000",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        do { try process.run() } catch { return Result(percentiles: nil, note: "not run (\(error))") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            return Result(
                percentiles: nil,
                note: "exited \(process.terminationStatus); is rt-tests installed (tools/install-deps.sh)?")
        }
        var counts: [(microseconds: Double, count: Int)] = []
        var maximum = 0.0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("# Max Latencies:") {
                maximum = Double(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
            }
            let fields = line.split(separator: " ")
            if fields.count == 2, let bin = Double(fields[0]), let count = Int(fields[1]), count > 0 {
                counts.append((bin, count))
            }
        }
        let total = counts.reduce(0) { $0 + $1.count }
        guard total > 0 else { return Result(percentiles: nil, note: "printed no histogram") }
        func percentile(_ p: Double) -> Double {
            var seen = 0
            for entry in counts {
                seen += entry.count
                if Double(seen) >= p / 100 * Double(total) { return entry.microseconds }
            }
            return maximum
        }
        return Result(
            percentiles: ["p50": percentile(50), "p99": percentile(99), "p99.9": percentile(99.9), "max": maximum],
            note: nil)
    }
}
