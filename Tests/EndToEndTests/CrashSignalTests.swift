import Foundation
import ReservoirTesting
import Testing

/// A crash signal sent to ringlab (kill -ABRT, kill -SEGV: what a supervisor or a dying
/// library sends) ends it. Swift's backtracer returns from such a signal expecting the fault
/// to recur, which a sent signal never does; before the fix a training run went on to the end.
@Suite struct CrashSignalTests {
    @Test(arguments: [SIGABRT, SIGSEGV])
    func aSentCrashSignalEndsARun(signal: Int32) throws {
        let folder = NSTemporaryDirectory() + "ringlab-crash-signal-\(UUID().uuidString)"
        let process = try CommandRunner.start(["train", "ring", "--task", "digits", "--device-seconds", "300", "--run-dir", folder])
        let started = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: folder + "/checkpoint.json"), Date() < started {
            Thread.sleep(forTimeInterval: 0.02)
        }
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let ended = !process.isRunning
        if !ended { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        #expect(ended, "signal \(signal) did not end the run")
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == signal)
        #expect(!FileManager.default.fileExists(atPath: folder + "/summary.json"))
    }
}
