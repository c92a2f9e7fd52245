import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirHAL

/// `ringlab safe`: drives a board to its safe state (amplifier off, loop open, DAC at its safe
/// level) and reports each step. The systemd unit runs it after every exit of the service
/// (`ExecStopPost`), so the board ends safe even when the process did not survive (SIGKILL, a
/// trap, the OOM killer). Exit status 0 only when every step succeeded.
struct SafeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "safe", abstract: "Drive a board to its safe state and report it (exit 0 only when safe).")

    @Option(name: .long, help: "Board file.")
    var board: String = Composition.defaultBoardFile

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    struct Report: Encodable {
        var board: String
        var amplifier_off: Bool
        var loop_open: Bool
        var dac_volts: Double
        var dac_at_safe_level: Bool
        var safe: Bool
        var failures: [String]
    }

    func run() throws {
        let report = try reportingErrors { () throws -> Report in
            // Opening a board already drives it safe (every backend does, first thing); the
            // explicit call below is the one whose steps are reported.
            let (device, _) = try Composition.board(file: Composition.locateDefault(board), seed: 1)
            let outcome = device.enterSafeStateReporting()
            let failures = outcome.failures.map(\.description)
            return Report(
                board: device.wiring.source,
                amplifier_off: outcome.amplifierOff, loop_open: outcome.loopOpen,
                dac_volts: device.wiring.safeVolts.value, dac_at_safe_level: outcome.dacAtSafeLevel,
                safe: outcome.isSafe, failures: failures)
        }
        if json {
            try printJSON(report)
        } else {
            print("board       \(report.board)")
            print("amplifier   \(report.amplifier_off ? "off" : "NOT CONFIRMED OFF")")
            print("loop        \(report.loop_open ? "open" : "NOT CONFIRMED OPEN")")
            print(
                "DAC         \(report.dac_at_safe_level ? String(format: "%.4f V (safe level)", report.dac_volts) : "NOT AT ITS SAFE LEVEL")"
            )
            for failure in report.failures { print("failure     \(failure)") }
            print("state       \(report.safe ? "safe" : "UNSAFE")")
        }
        if !report.safe { throw ExitCode.failure }
    }
}
