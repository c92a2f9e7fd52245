import Foundation
import IIODServer
import ReservoirTesting
import Testing

/// The ip: path against what real networks do (issue 17): the served twin injects a fault
/// (`ringlab twin serve --inject`), and ringlab's libiio backend must end in the safe state
/// with a clear reason — or, training, reconnect and resume — and never hang past its watchdog.
@Suite(.serialized) struct NetworkFaultTests {
    /// twin-net.yaml pointed at `uri`, on the wall clock when the server is paced.
    func board(uri: String, paced: Bool) throws -> String {
        var text = try String(contentsOfFile: TwinFixtures.packageRoot + "/hardware/boards/twin-net.yaml", encoding: .utf8)
            .replacingOccurrences(of: "uri: ip:127.0.0.1:30431", with: "uri: \(uri)")
        if paced { text = text.replacingOccurrences(of: "clock: lock-step", with: "clock: wall") }
        let path = NSTemporaryDirectory() + "ringlab-fault-board-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `iio_attr` (Debian's libiio-utils) reads a control attribute through a new connection:
    /// what the server's board holds, seen from outside ringlab.
    func control(_ attribute: String, uri: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["10", "/usr/bin/iio_attr", "-u", uri, "-d", "ring-control", attribute]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var fault: String
        var paced: Bool
        /// Stop reasons that are right for this fault.
        var reasons: [String]
        var testDescription: String { fault + (paced ? " (paced)" : "") }
    }

    @Test(
        arguments: [
            Case(fault: "drop@0.2", paced: false, reasons: ["io-error"]),
            // The watchdog (2 s in lock-step) ends the wait, not libiio's 5 s timeout.
            Case(fault: "stall@0.2", paced: false, reasons: ["watchdog"]),
            Case(fault: "slow@0.5", paced: true, reasons: ["watchdog", "deadline-miss", "io-error"]),
        ])
    func aRunEndsSafeWithAClearReason(_ fault: Case) throws {
        let server = try TwinServeTests.Server((fault.paced ? ["--paced"] : []) + ["--inject", fault.fault])
        defer { _ = server.stop() }
        let path = try board(uri: server.uri, paced: fault.paced)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let started = Date()
        let outcome = try CommandRunner.ringlab(["run", "--board", path, "--seconds", "2", "--json"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(outcome.status != 0, "the fault must end the run")
        let report = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any]
        #expect(report?["final_state"] as? String == "safe", "\(outcome.standardOutput)")
        let reason = report?["safe_reason"] as? String ?? ""
        #expect(fault.reasons.contains(reason), "stopped for \(reason): \(report?["safe_detail"] ?? "")")
        #expect((report?["safe_detail"] as? String ?? "").count > 10, "a reason a person can read")
        // Never past the watchdog by more than a margin (libiio's own timeout is 5 s).
        #expect(elapsed < 7, "the run took \(elapsed) s to stop (libiio alone waits 5 s, twice)")
        // Seen from outside, through a new connection: the server's board is safe.
        #expect(try control("amp_enable", uri: server.uri) == "0")
        #expect(try control("loop_close", uri: server.uri) == "0")
        let (_, log) = server.stop()
        #expect(log.contains("injected fault") || fault.fault.hasPrefix("slow"), "\(log)")
    }

    @Test func aTrainingRunReconnectsAndResumesAfterADroppedConnection() throws {
        let server = try TwinServeTests.Server(["--inject", "drop@3"])
        defer { _ = server.stop() }
        let path = try board(uri: server.uri, paced: false)
        let folder = NSTemporaryDirectory() + "ringlab-fault-run-\(UUID().uuidString)"
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: folder)
        }
        let outcome = try CommandRunner.ringlab([
            "train", "ring", "--task", "digits", "--board", path, "--budget", "400", "--run-dir", folder, "--json",
        ])
        #expect(outcome.status == 0, "\(outcome.standardError.suffix(600))")
        #expect(outcome.standardError.contains("reconnecting and resuming"), "\(outcome.standardError.suffix(600))")
        let summary = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any]
        #expect(summary?["forward_passes"] as? Int == 400, "\(outcome.standardOutput.prefix(400))")
        #expect((summary?["test_accuracy"] as? Double ?? 0) > 0.85)
        let (_, log) = server.stop()
        #expect(log.contains("injected fault drop"), "\(log)")
    }

    @Test func faultSpecificationsAreParsedAndBadOnesNamed() throws {
        let faults = try NetworkFault.list(parsing: "stall@2.5,drop@1,slow@0.25")
        #expect(faults.map(\.description) == ["stall@2.5", "drop@1.0", "slow@0.25"])
        for bad in ["stall", "stall@", "jam@1", "slow@1", "slow@0", "drop@-1", "drop@nan", ""] {
            #expect(throws: NetworkFaultError.self, "\(bad)") { try NetworkFault.list(parsing: bad) }
        }
        let refused = try CommandRunner.ringlab(["twin", "serve", "--port", "0", "--inject", "jam@1"])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("--inject") && refused.standardError.contains("jam@1"))
    }
}
