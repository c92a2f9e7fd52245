import Foundation
import ReservoirTesting
import Testing

@Suite struct CalibrateCommandTests {
    func temporaryFolder() -> String { NSTemporaryDirectory() + "ringlab-calibrate-\(UUID().uuidString)" }

    @Test func aRandomizedTwinsCalibrationReportsMeasuredBesideTruth() throws {
        let folder = temporaryFolder()
        let report = try CommandRunner.ringlabJSON(["calibrate", "--randomize", "3", "--json", "--calibrations", folder])
        for key in ["latency_samples", "threshold_volts", "adc_offset_volts", "transfer_slope"] {
            let pair = try #require(report[key] as? [String: Double], "\(key) is missing")
            let measured = try #require(pair["measured"])
            let truth = try #require(pair["truth"])
            switch key {
            case "latency_samples": #expect(measured == truth)
            case "threshold_volts": #expect(abs(measured / truth - 1) < 0.01)
            case "adc_offset_volts": #expect(abs(measured - truth) < 0.002)
            default: #expect(abs(measured / truth - 1) < 0.05)
            }
        }
        let file = try #require(report["file"] as? String)
        #expect(file.hasPrefix("\(folder)/twin/default-randomized-3/") && file.hasSuffix("Z.json"))
        let current = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/twin/default-randomized-3/current.json")))
        #expect((current as? [String: String])?["file"] == (file as NSString).lastPathComponent)
    }

    /// A calibration goes to the state folder ($RINGLAB_STATE), never into the checkout, whose
    /// committed calibration stays the default. (A state folder of this test's own: other tests
    /// running beside it must keep reading the committed calibration.)
    @Test func aCalibrationIsWrittenToTheStateFolderNotTheCheckout() throws {
        let installed = TwinFixtures.packageRoot + "/calibration/twin/default"
        let before = try FileManager.default.contentsOfDirectory(atPath: installed).sorted()
        let pointer = try Data(contentsOf: URL(fileURLWithPath: installed + "/current.json"))
        let state = temporaryFolder()
        let calibrate = try BoundedProcess.run(
            CommandRunner.executablePath, ["calibrate", "--seed", "4"], environment: ["RINGLAB_STATE": state],
            seconds: 120)
        #expect(calibrate.status == 0, "\(calibrate.standardError)")
        let written = try FileManager.default.contentsOfDirectory(atPath: "\(state)/calibration/twin/default")
        #expect(written.contains("current.json") && written.contains { $0.hasSuffix("Z.json") }, "\(written)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: installed).sorted() == before)
        #expect(try Data(contentsOf: URL(fileURLWithPath: installed + "/current.json")) == pointer)
        // Later runs read it from the state folder.
        let run = try BoundedProcess.run(
            CommandRunner.executablePath, ["run", "--seconds", "0.1"], environment: ["RINGLAB_STATE": state],
            seconds: 60)
        #expect(run.standardError.contains("using calibration \(state)/calibration/twin/default/"), "\(run.standardError)")
    }

    /// A randomized twin is another device: training on it refuses to start before it is
    /// calibrated (the board file's operating point is the default twin's), and then runs at its
    /// own calibrated operating point, filed under its own serial.
    @Test func trainingOnARandomizedTwinUsesItsOwnCalibration() throws {
        let state = temporaryFolder()
        let train = ["train", "ring", "--task", "moons", "--nodes", "8", "--budget", "20", "--randomize", "2", "--json"]
        let before = try BoundedProcess.run(
            CommandRunner.executablePath, train, environment: ["RINGLAB_STATE": state], seconds: 60)
        #expect(before.status != 0)
        #expect(before.standardError.contains("run ringlab calibrate --randomize 2 first"), "\(before.standardError)")
        let calibrate = try BoundedProcess.run(
            CommandRunner.executablePath, ["calibrate", "--randomize", "2", "--json"],
            environment: ["RINGLAB_STATE": state], seconds: 120)
        #expect(calibrate.status == 0, "\(calibrate.standardError)")
        let folder = temporaryFolder()
        let after = try BoundedProcess.run(
            CommandRunner.executablePath, train + ["--run-dir", folder], environment: ["RINGLAB_STATE": state],
            seconds: 120)
        #expect(after.status == 0, "\(after.standardError)")
        #expect(after.standardError.contains("using calibration \(state)/calibration/twin/default-randomized-2/"))
        let identity =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/board.json")))
            as! [String: Any]
        #expect(identity["serial"] as? String == "default-randomized-2")
        #expect((identity["calibration_file"] as? String)?.contains("default-randomized-2") == true)
    }

    @Test func verifyPassesOnTheSameDeviceAndNamesWhatMovedOnAnother() throws {
        let folder = temporaryFolder()
        _ = try CommandRunner.ringlabJSON(["calibrate", "--json", "--calibrations", folder])
        let same = try CommandRunner.ringlab(["calibrate", "--verify", "--seed", "2", "--calibrations", folder])
        #expect(same.status == 0, "\(same.standardError)")
        // Another device under the same serial: the calibration no longer describes it.
        let folderOfOther = "\(folder)/twin/default"
        let currentName =
            (try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: "\(folderOfOther)/current.json")))
            as! [String: String])["file"]!
        let path = "\(folderOfOther)/\(currentName)"
        var record =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var values = record["values"] as! [String: Any]
        var threshold = values["threshold_volts"] as! [String: Any]
        threshold["value"] = (threshold["value"] as! Double) * 1.03
        values["threshold_volts"] = threshold
        record["values"] = values
        try JSONSerialization.data(withJSONObject: record).write(to: URL(fileURLWithPath: path))
        let moved = try CommandRunner.ringlab(["calibrate", "--verify", "--calibrations", folder])
        #expect(moved.status == 1)
        let line = moved.standardOutput.split(separator: "\n").first { $0.contains("threshold_volts") } ?? ""
        #expect(line.hasSuffix("MOVED"), "\(moved.standardOutput)")
        #expect(
            !moved.standardOutput.split(separator: "\n").contains {
                $0.contains("latency_samples") && $0.hasSuffix("MOVED")
            })
    }

    @Test func killingCalibrateNeverLeavesAPartialCalibration() throws {
        let folder = temporaryFolder()
        let device = "\(folder)/twin/default"
        // Both must happen across the attempts, or the test checked nothing: some kills land
        // mid-run (the process dies of the signal) and some after files were written.
        var killedMidRun = 0
        var attemptsWithFiles = 0
        // Kill times are fractions of how long an uninterrupted calibrate takes on this machine
        // now, so a loaded CI runner (slower) still sees kills from the start to past the writes.
        let started = Date()
        let reference = try CommandRunner.ringlab(["calibrate", "--calibrations", temporaryFolder(), "--seed", "9"])
        #expect(reference.status == 0, "\(reference.standardError)")
        let uninterrupted = Date().timeIntervalSince(started)
        // Delays grow geometrically from 0.1 to 4 uninterrupted runs, so however much slower the
        // attempts run than the reference, the late ones outlast the writes.
        for attempt in 0..<12 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandRunner.executablePath)
            process.arguments = ["calibrate", "--calibrations", folder, "--seed", "\(attempt + 1)"]
            process.currentDirectoryURL = URL(fileURLWithPath: TwinFixtures.packageRoot)
            process.standardOutput = Pipe()
            process.standardError = Pipe()
            try process.run()
            let killAt = Date().addingTimeInterval(uninterrupted * 0.1 * pow(1.4, Double(attempt)))
            while process.isRunning && Date() < killAt { Thread.sleep(forTimeInterval: 0.01) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { killedMidRun += 1 }
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: device)) ?? []).filter {
                !$0.hasPrefix(".")
            }
            if !files.isEmpty { attemptsWithFiles += 1 }
            for file in files {
                let data = try Data(contentsOf: URL(fileURLWithPath: "\(device)/\(file)"))
                let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
                #expect(object != nil, "\(file) is not a complete JSON object")
                if file == "current.json" {
                    let named = try #require(object?["file"] as? String)
                    #expect(files.contains(named), "current.json names \(named), which is missing")
                } else {
                    #expect(object?["schemaVersion"] as? Int == 1 && object?["values"] != nil, "\(file) is partial")
                }
            }
        }
        #expect(killedMidRun > 0, "no kill landed while calibrate ran")
        #expect(attemptsWithFiles > 0, "no attempt got as far as writing a calibration")
    }
}
