import Foundation

/// The twin served on 127.0.0.1 by `ringlab twin serve --port 0`, for benchmarks and tests that
/// need a real iiod server.
public enum ServedTwin {
    /// Starts `ringlab twin serve --port 0 [--paced]`; returns the process and its URI.
    public static func start(executable: String, paced: Bool, directory: String? = nil) throws -> (Process, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["twin", "serve", "--port", "0"] + (paced ? ["--paced"] : [])
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "ip:127.0.0.1:[0-9]+", options: .regularExpression) else {
            process.terminate()
            throw UnsupportedBackend(description: "ringlab twin serve did not start: \(text)")
        }
        return (process, String(text[range]))
    }
}
