import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirControl
import ReservoirFiles
import ReservoirHAL
import ReservoirHardware
import ReservoirTraining

/// `ringlab bench iio`: the network path against `ringlab twin serve` on 127.0.0.1 — streaming
/// throughput of ringlab's libiio client beside libiio's own `iio_readdev`, and how busy the
/// converters stay when a ring model trains over the network against the paced twin.
struct BenchIIOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iio", abstract: "Measure the IIO network path: client throughput and training utilization.")

    @Option(name: .long, parsing: .unconditional, help: "ADC samples each client reads.")
    var samples = 2_000_000

    @Option(name: .customLong("block"), parsing: .unconditional, help: "Samples per refill.")
    var blockSamples = 4_096

    @Option(name: .customLong("training-passes"), parsing: .unconditional, help: "Forward passes of the paced training run.")
    var trainingPasses = 100

    /// Starts `ringlab twin serve --port 0 [--paced]`; returns the process and its URI.
    func startServer(paced: Bool) throws -> (Process, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        process.arguments = ["twin", "serve", "--port", "0"] + (paced ? ["--paced"] : [])
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

    func run() throws {
        try reportingErrors {
            let wiring = try DataFile.loadBoard(Composition.locateDefault("hardware/boards/twin-net.yaml"))

            // Throughput, lock-step server: iio_readdev and ringlab's client, same sizes, taking
            // turns three times (the best of each: the server's twin is the shared bottleneck).
            let (server, uri) = try startServer(paced: false)
            defer { server.terminate() }
            let board = try IIOBoard.make(wiring: wiring, uri: uri, clock: ManualClock())
            var readdevRate = 0.0
            var ringlabRate = 0.0
            var readdevStatus: Int32 = 0
            var block = [Volts](repeating: .zero, count: blockSamples)
            for _ in 0..<3 {
                let readdev = Process()
                readdev.executableURL = URL(fileURLWithPath: "/usr/bin/iio_readdev")
                readdev.arguments = [
                    "-u", uri, "-b", "\(blockSamples)", "-s", "\(samples)", wiring.adc.device, wiring.adc.channel,
                ]
                readdev.standardOutput = FileHandle.nullDevice
                let readdevStarted = Date()
                try readdev.run()
                readdev.waitUntilExit()
                readdevRate = max(readdevRate, Double(samples) / Date().timeIntervalSince(readdevStarted))
                readdevStatus = readdev.terminationStatus

                let stream = try board.adc.openStream(samplesPerBlock: blockSamples)
                let clientStarted = Date()
                for _ in 0..<(samples / blockSamples) {
                    try block.withUnsafeMutableBufferPointer { try stream.refill($0) }
                }
                ringlabRate = max(
                    ringlabRate, Double(samples / blockSamples * blockSamples) / Date().timeIntervalSince(clientStarted)
                )
                stream.close()
            }
            print(
                String(
                    format:
                        "ADC streaming over ip (blocks of %d): ringlab %.0f samples/s, iio_readdev %.0f samples/s, ratio %.2f (target ≥ 0.9)",
                    blockSamples, ringlabRate, readdevRate, ringlabRate / readdevRate))
            if readdevStatus != 0 { print("  (iio_readdev exited \(readdevStatus))") }

            // Training over the network against the paced twin: streamed time ÷ wall time.
            let (pacedServer, pacedURI) = try startServer(paced: true)
            defer { pacedServer.terminate() }
            let pacedBoard = try IIOBoard.make(wiring: wiring, uri: pacedURI, clock: MonotonicClock())
            var settings = ReservoirSettings(operatingPoint: wiring.operatingPoint!)
            settings.feedback = 0
            let loop = try DriveLoop(board: pacedBoard, settings: settings, watchdogTimeout: .milliseconds(500))
            loop.limits.stopsOnDeadlineMiss = false
            var training = RingSettings()
            training.budget = trainingPasses
            training.sigma = 0.02
            training.evaluations = 1
            let task = try RingTask.named("moons", seed: 1, digitsFile: Composition.locateDefault("data/digits.csv"))
            let model = TrainingRun(model: RingModel(loop: loop, task: task, settings: training), plan: training.plan)
            let started = Date()
            _ = try model.run()
            let wall = Date().timeIntervalSince(started)
            let period = Double(settings.samplesPerPeriod) / pacedBoard.sampleRate.value
            let utilization = Double(loop.statistics.evaluationPeriods) * period / wall
            print(
                String(
                    format:
                        "training over ip against the paced twin (%d passes, moons, N = %d): converters busy %.1f %% (target ≥ 90 %%), %d deadline misses, %d stream restarts",
                    trainingPasses, settings.nodes, 100 * utilization, loop.statistics.deadlineMisses,
                    loop.statistics.streamRestarts))
        }
    }
}
