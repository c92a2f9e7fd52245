import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirHAL
import ReservoirTwin

/// `ringlab bench twin`: ADC samples per second made by the twin on one thread.
struct BenchTwinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twin", abstract: "Measure how fast the twin generates ADC samples (one thread).")

    @Option(name: .long, parsing: .unconditional, help: "Wall-clock seconds to measure for.")
    var seconds: Double = 3

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func validate() throws {
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
    }

    struct Report: Encodable {
        var samples_per_second: Double
        var realtime_factor: Double
        var nanoseconds_per_substep: Double
        var samples: Int
        var seconds: Double
        var build: String
    }

    func run() throws {
        try reportingErrors {
            let (twin, board, _) = try Composition.twinBoard(twinFile: nil, seed: 1)
            // The drive loop's default regime: bias at G ≈ 1.12, nodes spread over ±0.1 V.
            let operating = Volts(twin.parameters.dacRequestVolts(forGain: 1.12))
            let result = try TwinBenchmark.run(
                twin: twin, board: board, seconds: seconds, operatingVolts: operating, spanVolts: Volts(0.1))
            #if DEBUG
                let build = "debug"
            #else
                let build = "release"
            #endif
            if json {
                try printJSON(
                    Report(
                        samples_per_second: result.samplesPerSecond, realtime_factor: result.realtimeFactor,
                        nanoseconds_per_substep: result.nanosecondsPerSubstep, samples: result.samples,
                        seconds: result.seconds, build: build))
            } else {
                print("twin benchmark (\(build) build, one thread, \(twin.parameters.substeps) substeps per sample)")
                print(String(format: "  samples per second   %.3g", result.samplesPerSecond))
                print(
                    String(
                        format: "  real-time factor     %.1f× (sample rate %.0f Hz)", result.realtimeFactor,
                        twin.parameters.sampleRate.value))
                print(String(format: "  time per substep     %.1f ns", result.nanosecondsPerSubstep))
                if build == "debug" {
                    print("  note: a debug build; run `swift build -c release` for the figure that counts")
                }
            }
        }
    }
}
