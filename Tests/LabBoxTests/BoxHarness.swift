import Foundation
import ReservoirTesting

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A real `ringlab-box` process on an ephemeral loopback port with its own state folder, and
/// a real HTTP client (URLSession) to talk to it.
final class BoxHarness: @unchecked Sendable {
    let state: String
    let process: Process
    let port: Int
    let token: String
    private let output: Pipe

    static var executable: String {
        #if DEBUG
            let configuration = "debug"
        #else
            let configuration = "release"
        #endif
        return "\(TwinFixtures.packageRoot)/.build/\(configuration)/ringlab-box"
    }

    /// Starts the box on `state` (a new folder by default) and waits until it listens.
    init(state: String? = nil, extraArguments: [String] = ["--cancel-grace", "3"]) throws {
        self.state = state ?? NSTemporaryDirectory() + "ringlab-box-test-\(UUID().uuidString)"
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["--port", "0", "--state", self.state, "--board", TwinFixtures.twinBoardPath] + extraArguments
        process.currentDirectoryURL = URL(fileURLWithPath: TwinFixtures.packageRoot)
        output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // The first line says where it listens: "ringlab-box: listening on http://127.0.0.1:PORT (…)".
        var line = Data()
        let handle = output.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty { throw HarnessError("ringlab-box ended before it listened (status \(process.terminationStatus))") }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
            let port = Int(text[range].split(separator: ":").last ?? "")
        else { throw HarnessError("no port in \(text)") }
        self.port = port
        token = try String(contentsOfFile: self.state + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    struct HarnessError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    struct Answer {
        var status: Int
        var body: Data
        var object: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// One request; `token` nil sends no Authorization header.
    func request(
        _ method: String, _ path: String, json: Any? = nil, token: String?? = .none, timeout: Double = 30
    ) async throws -> Answer {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = timeout
        let bearer: String? = token ?? self.token
        if let bearer { request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    func submit(_ args: [String], priority: Int = 0) async throws -> Int {
        let answer = try await request("POST", "/api/v1/jobs", json: ["args": args, "priority": priority, "submitter": "test"])
        guard answer.status == 201, let id = answer.object["id"] as? Int else {
            throw HarnessError("submit \(args) answered \(answer.status): \(answer.text)")
        }
        return id
    }

    func job(_ id: Int) async throws -> [String: Any] { try await request("GET", "/api/v1/jobs/\(id)").object }

    /// Waits until job `id` is in one of `states` (within `timeout` seconds) and returns it.
    func wait(for id: Int, until states: Set<String>, timeout: Double = 120) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let job = try await job(id)
            if let state = job["state"] as? String, states.contains(state) { return job }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("job \(id) did not reach \(states) in \(timeout) s: \(try await job(id))")
    }

    func board() async throws -> [String: Any] { try await request("GET", "/api/v1/board").object }
}
