import Foundation
import NeuralNet
import ReservoirControl
import SeededRandom

/// A reservoir on a device: the hooks a run needs around its stream (sessions, checkpoints,
/// device time), which a digital reservoir does not have.
public protocol DeviceReservoir: AnyObject {
    func begin() throws
    func end()
    /// Closes the session around `save`, as a ring run does (docs/pgt.md), and reopens it.
    func checkpoint(_ save: () throws -> Void) throws
    /// Marks what streams next as a measurement (true) or as training (false).
    var measuring: Bool { get set }
    /// Device seconds of training so far (this process and the ones it resumed).
    var deviceSeconds: Double { get }
    var loopFigures: LoopFigures { get }
    var usage: DeviceUsage { get set }
    func complete(_ summary: inout TrainingSummary)
}

/// A device reservoir's use so far, kept in checkpoints so a resumed run's totals include the
/// earlier processes'.
public struct DeviceUsage: Codable, Sendable, Equatable {
    public var samplesStreamed = 0
    public var evaluationPeriods = 0
    public var measurementPeriods = 0
    public var checkpointIndex = 0

    public init() {}
}

/// The ring as a transformer's reservoir layer: each token's d-vector u is the drive of the
/// ring's N = d virtual nodes for one input (held D periods, R shots; no feedback, so tokens
/// do not mix), streamed through the drive loop; the layer's output is the node states
/// centred and scaled so that F ≈ a near the bias,
///
///   F_i(u) = 2·(x̂_i − ½),   x̂_i the normalized state of node i (docs/drive-loop.md).
///
/// It is a `ReservoirLayer` and nothing more: there is no gradient through the ring.
public final class RingReservoir: ReservoirLayer, DeviceReservoir {
    public let loop: DriveLoop
    public let seed: UInt64
    public var kind: String { "ring" }
    public var width: Int { loop.settings.nodes }
    public var measuring = false
    public var usage = DeviceUsage()
    /// Evaluation periods of the loop before this process's (a resumed run).
    private var earlierPeriods = 0
    private var states: [Double] = []

    public init(loop: DriveLoop, seed: UInt64) {
        self.loop = loop
        self.seed = seed
    }

    public func evaluate(_ inputs: UnsafeBufferPointer<Double>, rows: Int, into outputs: UnsafeMutableBufferPointer<Double>) throws {
        let size = rows * width
        if states.count < size { states = [Double](repeating: 0, count: size) }
        let before = loop.statistics.evaluationPeriods
        try states.withUnsafeMutableBufferPointer { s in
            try loop.evaluate(
                drive: UnsafeBufferPointer(rebasing: inputs[0..<size]), inputCount: rows, evaluationCount: 1,
                states: UnsafeMutableBufferPointer(rebasing: s[0..<size]))
        }
        let streamed = loop.statistics.evaluationPeriods - before
        usage.samplesStreamed += rows
        usage.evaluationPeriods += streamed
        if measuring { usage.measurementPeriods += streamed }
        for index in 0..<size { outputs[index] = 2 * (states[index] - 0.5) }
    }

    /// The seed a simulated board restarts from at checkpoint `index`.
    private func restartSeed(_ index: Int) -> UInt64 {
        var random = Xoshiro256StarStar(seed: seed, stream: 4_300 + UInt64(index))
        return random.next()
    }

    public func begin() throws {
        loop.board.simulation?.restart(seed: restartSeed(usage.checkpointIndex))
        try loop.openSession()
    }

    public func end() { loop.closeSession() }

    public func checkpoint(_ save: () throws -> Void) throws {
        loop.closeSession()
        usage.checkpointIndex += 1
        try save()
        loop.board.simulation?.restart(seed: restartSeed(usage.checkpointIndex))
        try loop.openSession()
    }

    public var deviceSeconds: Double {
        Double(usage.evaluationPeriods - usage.measurementPeriods) * loop.periodSeconds
    }

    public var loopFigures: LoopFigures { LoopFigures(of: loop) }

    public func complete(_ summary: inout TrainingSummary) {
        summary.nodes = width
        summary.converter_utilization = loop.statistics.utilizationAsPaced(periodNanoseconds: loop.period.nanoseconds)
        summary.samples_streamed = usage.samplesStreamed
        summary.device_seconds = Double(usage.evaluationPeriods) * loop.periodSeconds
        summary.device_seconds_training = deviceSeconds
        summary.device_seconds_evaluation = Double(usage.measurementPeriods) * loop.periodSeconds
    }
}

extension LoopFigures {
    /// A drive loop's figures in this process so far.
    public init(of loop: DriveLoop) {
        let statistics = loop.statistics
        self.init(
            periods: statistics.periods, deadlineMisses: statistics.deadlineMisses,
            overRangePeriods: statistics.overRangePeriods,
            converterUtilization: statistics.utilizationAsPaced(periodNanoseconds: loop.period.nanoseconds),
            computeMicrosecondsMean: statistics.meanComputeMicroseconds,
            wakeUpMicrosecondsP99: statistics.wakeUpMicroseconds(percentile: 99))
    }
}
