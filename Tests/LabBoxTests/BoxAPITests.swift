import Foundation
import LabBox
import ReservoirFiles
import ReservoirTesting
import Testing

/// The box's API against the running service over HTTP (a real ringlab-box on an ephemeral
/// port, real jobs on the twin).
@Suite(.serialized) struct BoxAPITests {
    static let longTraining = ["train", "ring", "--task", "digits", "--device-seconds", "300"]

    @Test func everyEndpointButTheHealthCheckNeedsTheToken() async throws {
        let box = try BoxHarness()
        #expect(try await box.request("GET", "/healthz", token: .some(nil)).status == 200)
        // A token that differs from the real one in its first character only (so the comparison
        // must look at every byte): never equal to it, whatever hex digit the real one starts with.
        let wrongToken = (box.token.first == "0" ? "1" : "0") + box.token.dropFirst()
        for path in ["/api/v1/jobs", "/api/v1/jobs/1", "/api/v1/runs", "/api/v1/board", "/metrics", "/api/v1/jobs/1/events"] {
            #expect(try await box.request("GET", path, token: .some(nil)).status == 401, "\(path) without a token")
            #expect(try await box.request("GET", path, token: wrongToken).status == 401, "\(path), wrong token")
        }
        #expect(try await box.request("POST", "/api/v1/jobs", json: ["args": ["calibrate"]], token: .some(nil)).status == 401)
        let attributes = try FileManager.default.attributesOfItem(atPath: box.state + "/token")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(box.token.count == 64)
    }

    @Test func aNonLoopbackAddressWithoutATokenIsRefused() throws {
        let state = NSTemporaryDirectory() + "ringlab-box-test-\(UUID().uuidString)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BoxHarness.executable)
        process.arguments = ["--bind", "0.0.0.0", "--port", "0", "--state", state]
        let error = Pipe()
        process.standardError = error
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(message.contains("refusing to listen on 0.0.0.0 without a configured token"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: state + "/token"))
    }

    @Test func badSubmissionsAreRefusedWithTheReason() async throws {
        let box = try BoxHarness()
        let invalid = try await box.request("POST", "/api/v1/jobs", json: ["args": ["train", "ring", "--lr", "-1"]])
        #expect(invalid.status == 400)
        #expect(invalid.text.contains("--lr must be"))
        let owned = try await box.request("POST", "/api/v1/jobs", json: ["args": ["calibrate", "--board", "/etc/passwd"]])
        #expect(owned.status == 400 && owned.text.contains("--board"))
        let shell = try await box.request("POST", "/api/v1/jobs", json: ["args": ["sh", "-c", "reboot"]])
        #expect(shell.status == 400 && shell.text.contains("no command the box runs"))
        #expect(try await box.request("POST", "/api/v1/jobs", json: ["args": "calibrate"]).status == 400)
        let huge = ["args": ["calibrate"], "note": String(repeating: "x", count: 100_000)] as [String: Any]
        #expect(try await box.request("POST", "/api/v1/jobs", json: huge).status == 413)
        #expect(try await box.request("GET", "/api/v1/jobs/999").status == 404)
        #expect(try await box.request("GET", "/api/v1/jobs/x").status == 400)
        #expect(try await box.request("GET", "/api/v1/jobs", token: .some(box.token)).object["jobs"] as? [Any] != nil)
    }

    @Test func jobsQueueInOrderReorderAndCancel() async throws {
        let box = try BoxHarness()
        let long = try await box.submit(Self.longTraining)
        let second = try await box.submit(["calibrate"])
        let third = try await box.submit(["calibrate", "--seed", "2"])
        _ = try await box.wait(for: long, until: ["running"])
        let queue = try await box.request("GET", "/api/v1/queue").object
        #expect((queue["queued"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [second, third])
        #expect(try await box.request("PATCH", "/api/v1/jobs/\(third)", json: ["front": true]).status == 200)
        let reordered = try await box.request("GET", "/api/v1/queue").object
        #expect((reordered["queued"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [third, second])
        #expect(try await box.request("POST", "/api/v1/jobs/\(second)/cancel").status == 200)
        #expect(try await box.job(second)["state"] as? String == "cancelled")
        #expect(try await box.request("POST", "/api/v1/jobs/\(long)/cancel").status == 200)
        let cancelled = try await box.wait(for: long, until: ["cancelled", "failed", "done"], timeout: 30)
        #expect(cancelled["state"] as? String == "cancelled")
        // SIGTERM ended it (the grace period's SIGKILL was not needed): a job started by the
        // service's thread, whose signal mask blocks SIGTERM, unblocks it first thing.
        #expect(cancelled["reason"] as? String == "cancelled (ended by signal 15)", "\(cancelled)")
        let done = try await box.wait(for: third, until: ["done", "failed"])
        #expect(done["state"] as? String == "done")
        #expect((done["started_at"] as? Double ?? 0) >= (cancelled["finished_at"] as? Double ?? .infinity))
        #expect(try await box.board()["state"] as? String == "safe")
        #expect(try await box.request("POST", "/api/v1/jobs/\(long)/cancel").status == 409)
    }

    @Test func aJobThatTrapsLeavesTheServiceUpAndTheBoardSafe() async throws {
        let box = try BoxHarness()
        let id = try await box.submit(Self.longTraining)
        let next = try await box.submit(["calibrate"])
        let running = try await box.wait(for: id, until: ["running"])
        let pid = try #require(running["process_id"] as? Int32)
        try await Task.sleep(for: .milliseconds(500))
        kill(pid, SIGABRT)  // what a trap ends with
        let failed = try await box.wait(for: id, until: ["failed", "done", "cancelled"])
        #expect(failed["state"] as? String == "failed")
        #expect((failed["reason"] as? String ?? "").contains("signal 6"))
        #expect(try await box.request("GET", "/healthz", token: .some(nil)).status == 200)
        // The service drove the board safe itself before the next job (counted by reason).
        let metrics = try await box.request("GET", "/metrics").text
        #expect(metrics.contains("ringlab_safe_state_entries_total{reason=\"job-failed\"} 1"), "\(metrics)")
        #expect(try await box.wait(for: next, until: ["done", "failed"])["state"] as? String == "done")
        #expect(try await box.board()["state"] as? String == "safe")
    }

    @Test func aRunIsListedWithItsSummaryProvenanceFilesAndEvents() async throws {
        let box = try BoxHarness()
        let calibration = try await box.submit(["calibrate"])
        let training = try await box.submit(["train", "ring", "--task", "digits", "--device-seconds", "3", "--seed", "2"])
        #expect(try await box.wait(for: calibration, until: ["done", "failed"])["state"] as? String == "done")
        let run = try await box.wait(for: training, until: ["done", "failed"])
        #expect(run["state"] as? String == "done")
        let summary = try #require(run["summary"] as? [String: Any])
        #expect((summary["test_accuracy"] as? Double ?? 0) > 0.3)
        #expect((2.5...3).contains(summary["device_seconds_training"] as? Double ?? 0))
        let provenance = try #require(run["provenance"] as? [String: Any])
        #expect(provenance["board_sha256"] as? String == (try SHA256.hexDigest(ofFile: TwinFixtures.twinBoardPath)))
        let calibrationPath = try #require(provenance["calibration"] as? String)
        #expect(calibrationPath.hasPrefix(box.state + "/calibration/"))
        #expect(provenance["calibration_sha256"] as? String == (try SHA256.hexDigest(ofFile: calibrationPath)))
        #expect(provenance["seed"] as? Int == 2)
        #expect((provenance["git_commit"] as? String ?? "").count >= 7)
        #expect(provenance["ringlab_version"] as? String != "unknown")
        let runs = try await box.request("GET", "/api/v1/runs").object["runs"] as? [[String: Any]] ?? []
        #expect(runs.compactMap { $0["id"] as? Int } == [training, calibration])
        #expect((runs.first?["headline"] as? String ?? "").hasPrefix("test_accuracy"))
        let files = try await box.request("GET", "/api/v1/runs/\(training)/files").object["files"] as? [[String: Any]] ?? []
        let names = Set(files.compactMap { $0["name"] as? String })
        #expect(names.isSuperset(of: ["loss.svg", "accuracy.svg", "summary.json", "stdout.json", "stderr.log"]))
        let plot = try await box.request("GET", "/api/v1/runs/\(training)/files/loss.svg")
        #expect(plot.status == 200 && plot.text.contains("<svg"))
        #expect(try await box.request("GET", "/api/v1/runs/\(training)/files/..%2Ftoken").status == 404)
        let events = try await box.request("GET", "/api/v1/jobs/\(training)/events").text
        #expect(events.contains("event: state") && events.contains("event: evaluation") && events.contains("event: end"))
        let board = try await box.board()
        #expect((board["calibration"] as? [String: Any])?["path"] as? String == calibrationPath)
        try await Task.sleep(for: .milliseconds(1200))  // the job gauges refresh once a second
        let metrics = try await box.request("GET", "/metrics").text
        for series in ["ringlab_jobs{state=\"done\"} 2.0", "ringlab_converter_utilization", "ringlab_safe_state_entries_total"] {
            #expect(metrics.contains(series), "\(series) in /metrics")
        }
    }

    @Test func anOpenInterlockStopsTheJobAndHoldsTheQueueUntilReleased() async throws {
        let box = try BoxHarness()
        let run = try await box.submit(["run", "--seconds", "3", "--inject", "interlock@1"])
        let next = try await box.submit(["calibrate"])
        let stopped = try await box.wait(for: run, until: ["interrupted", "failed", "done"])
        #expect(stopped["state"] as? String == "interrupted")
        #expect((stopped["summary"] as? [String: Any])?["safe_reason"] as? String == "interlock")
        try await Task.sleep(for: .seconds(1))
        #expect(try await box.job(next)["state"] as? String == "queued")
        let board = try await box.board()
        #expect(board["state"] as? String == "safe")
        #expect((board["hold"] as? String ?? "").contains("interlock"))
        #expect(try await box.request("POST", "/api/v1/queue/release").status == 200)
        #expect(try await box.wait(for: next, until: ["done", "failed"])["state"] as? String == "done")
        let metrics = try await box.request("GET", "/metrics").text
        #expect(metrics.contains("ringlab_safe_state_entries_total{reason=\"interlock\"} 1"))
        #expect(metrics.contains("ringlab_wakeup_latency_microseconds"))
        #expect(metrics.contains("ringlab_drive_loop_periods_total"))
    }

    @Test func aServiceKilledMidJobRestartsWithItsQueueAndResumesTheRun() async throws {
        var box = try BoxHarness()
        let state = box.state
        let id = try await box.submit(["train", "ring", "--task", "digits", "--device-seconds", "40", "--seed", "3"])
        let queued = try await box.submit(["calibrate"])
        let running = try await box.wait(for: id, until: ["running"])
        let child = try #require(running["process_id"] as? Int32)
        let checkpoint = state + "/jobs/\(id)/run/checkpoint.json"
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: checkpoint), Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        kill(box.process.processIdentifier, SIGKILL)
        box.process.waitUntilExit()
        box = try BoxHarness(state: state)
        let interrupted = try await box.job(id)
        #expect(interrupted["state"] as? String == "interrupted")
        #expect(interrupted["resumable"] as? Bool == true)
        #expect(!JobRunner.isAlive(child), "the orphaned job was stopped")
        #expect(try await box.wait(for: queued, until: ["done", "failed"])["state"] as? String == "done")
        let resumed = try #require(try await box.request("POST", "/api/v1/jobs/\(id)/resume").object["id"] as? Int)
        let finished = try await box.wait(for: resumed, until: ["done", "failed"])
        #expect(finished["state"] as? String == "done", "\(finished)")
        #expect((39.5...40).contains((finished["summary"] as? [String: Any])?["device_seconds_training"] as? Double ?? 0))
        #expect(try await box.board()["state"] as? String == "safe")
    }
}
