import Foundation
import ReservoirControl
import ReservoirFiles
import ReservoirHAL
import ReservoirHardware
import ReservoirTraining

/// `ringlab bench iio`: the IIO network path against `ringlab twin serve` on 127.0.0.1 — ADC
/// throughput of ringlab's client beside `iio_readdev`, and a training run's converter
/// utilization against the paced server.
public enum IIOPathBenchmark {
    /// Forward passes of the paced training run over the network (moons, N = 50).
    public static let trainingPasses = 100
    public struct Report: Encodable, Sendable {
        public var ringlab_samples_per_second: Double
        public var iio_readdev_samples_per_second: Double
        public var iio_readdev_status: Int32
        public var nodes: Int
        /// Streamed evaluation time ÷ wall time of the paced training run.
        public var training_utilization: Double
        public var training_deadline_misses: Int
        public var training_stream_restarts: Int
    }

    /// Runs both measurements, serving the twin with `executable` (a `ringlab` binary).
    public static func measure(executable: String, samples: Int, blockSamples: Int, trainingPasses: Int) throws
        -> Report
    {
        let wiring = try DataFile.loadBoard(Composition.locateDefault("hardware/boards/twin-net.yaml"))

        // Throughput, lock-step server: iio_readdev and ringlab's client, same sizes, taking
        // turns three times (the best of each: the server's twin is the shared bottleneck).
        let (server, uri) = try ServedTwin.start(executable: executable, paced: false)
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
        // Training over the network against the paced twin: streamed time ÷ wall time.
        let (pacedServer, pacedURI) = try ServedTwin.start(executable: executable, paced: true)
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
        return Report(
            ringlab_samples_per_second: ringlabRate, iio_readdev_samples_per_second: readdevRate,
            iio_readdev_status: readdevStatus, nodes: settings.nodes, training_utilization: utilization,
            training_deadline_misses: loop.statistics.deadlineMisses,
            training_stream_restarts: loop.statistics.streamRestarts)
    }
}
