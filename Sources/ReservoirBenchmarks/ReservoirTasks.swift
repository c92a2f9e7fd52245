import RealModule
import ReservoirControl
import SeededRandom

/// The benchmark tasks of docs/tasks.md, computed exactly as defined there.
public enum ReservoirTask: String, CaseIterable, Sendable {
    case stm
    case pc
    case narma10
    case sineSquare = "sine-square"

    /// The JSON key of the task's metric.
    public var metricKey: String {
        switch self {
        case .stm: return "stm"
        case .pc: return "pc"
        case .narma10: return "narma10_nrmse"
        case .sineSquare: return "sine_square_accuracy"
        }
    }

    /// Whether a larger metric is better.
    public var higherIsBetter: Bool { self != .narma10 }
}

/// One task's input sequence, the rows its readout trains and tests on, and its targets.
public struct TaskData: Sendable {
    /// The input u(k), one per reservoir period (held D periods by the loop).
    public var inputs: [Double]
    /// The value inputs are centred on before the mask scales them.
    public var inputCentre: Double
    /// Half the input's range: (u − centre)/halfRange spans [−1, 1].
    public var inputHalfRange: Double
    /// Rows used for training (the washout rows come before them).
    public var trainRows: Range<Int>
    /// Rows used for testing.
    public var testRows: Range<Int>
    /// One target sequence per readout (20 delays for STM and PC, one otherwise).
    public var targets: [[Double]]

    /// The data of `task`, drawn from `seed`.
    public static func make(_ task: ReservoirTask, seed: UInt64) -> TaskData {
        var random = Xoshiro256StarStar(seed: seed, stream: 100 + UInt64(ReservoirTask.allCases.firstIndex(of: task)!))
        switch task {
        case .stm, .pc:
            // u(k) i.i.d. in {0, 1}; washout 200, train 2000, test 1000; d = 1…20.
            let count = 3200
            let bits = (0..<count).map { _ in Double(random.next() >> 63) }
            let targets = (1...20).map { delay in
                (0..<count).map { k -> Double in
                    guard k >= delay else { return 0 }
                    if task == .stm { return bits[k - delay] }
                    // u(k) ⊕ u(k−1) ⊕ … ⊕ u(k−d)
                    var parity = 0.0
                    for j in 0...delay { parity = parity == bits[k - j] ? 0 : 1 }
                    return parity
                }
            }
            return TaskData(
                inputs: bits, inputCentre: 0.5, inputHalfRange: 0.5, trainRows: 200..<2200, testRows: 2200..<3200,
                targets: targets)
        case .narma10:
            // u(k) ~ U[0, 0.5]; y(k+1) = 0.3y(k) + 0.05y(k)Σ_{i=0..9}y(k−i) + 1.5u(k−9)u(k) + 0.1,
            // y = 0 for the first 10 steps; the first 200 generated steps dropped.
            let dropped = 200
            let count = 3200
            let total = dropped + count + 1
            let u = (0..<total).map { _ in 0.5 * random.nextUnitInterval() }
            var y = [Double](repeating: 0, count: total + 1)
            for k in 9..<total {
                var sum = 0.0
                for i in 0...9 { sum += y[k - i] }
                y[k + 1] = 0.3 * y[k] + 0.05 * y[k] * sum + 1.5 * u[k - 9] * u[k] + 0.1
            }
            let inputs = Array(u[dropped..<(dropped + count)])
            // The readout predicts y(k+1) from the state after u(k).
            let target = (0..<count).map { y[dropped + $0 + 1] }
            return TaskData(
                inputs: inputs, inputCentre: 0.25, inputHalfRange: 0.25, trainRows: 200..<2200, testRows: 2200..<3200,
                targets: [target])
        case .sineSquare:
            // 300 waveform periods of 8 samples, each a sine or a square with p = 0.5; the first
            // 150 periods train (the first 2 are washout), the last 150 test; target 1 for sine.
            var inputs: [Double] = []
            var target: [Double] = []
            for _ in 0..<300 {
                let sine = random.next() >> 63 == 1
                for j in 0..<8 {
                    inputs.append(sine ? Double.sin(2 * .pi * Double(j) / 8) : (j < 4 ? 1 : -1))
                    target.append(sine ? 1 : 0)
                }
            }
            return TaskData(
                inputs: inputs, inputCentre: 0, inputHalfRange: 1, trainRows: 16..<1200, testRows: 1200..<2400,
                targets: [target])
        }
    }
}

/// Scores a task from the reservoir states of its inputs (row-major, `width` per row).
public enum TaskScore {
    /// The task's metric: STM or PC capacity Σ r²(d), NARMA10 NRMSE, or sine/square accuracy.
    public static func score(_ task: ReservoirTask, data: TaskData, states: [Double], width: Int) -> Double {
        switch task {
        case .stm, .pc:
            return data.targets.reduce(0) { total, target in
                let readout = trainReadout(states: states, width: width, targets: target, trainRows: data.trainRows)
                let predictions = readout.predict(states: states, width: width, rows: data.testRows)
                return total + squaredCorrelation(predictions, Array(target[data.testRows]))
            }
        case .narma10:
            let target = data.targets[0]
            let readout = trainReadout(states: states, width: width, targets: target, trainRows: data.trainRows)
            let predictions = readout.predict(states: states, width: width, rows: data.testRows)
            let actual = Array(target[data.testRows])
            let mean = actual.reduce(0, +) / Double(actual.count)
            let variance = actual.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(actual.count)
            let error = zip(predictions, actual).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(actual.count)
            return (error / variance).squareRoot()
        case .sineSquare:
            let target = data.targets[0]
            let readout = trainReadout(states: states, width: width, targets: target, trainRows: data.trainRows)
            let predictions = readout.predict(states: states, width: width, rows: data.testRows)
            let correct = zip(predictions, target[data.testRows]).filter { ($0.0 > 0.5 ? 1.0 : 0.0) == $0.1 }.count
            return Double(correct) / Double(data.testRows.count)
        }
    }

    /// The squared Pearson correlation of two equally long series (0 when either is constant).
    public static func squaredCorrelation(_ a: [Double], _ b: [Double]) -> Double {
        let n = Double(a.count)
        let meanA = a.reduce(0, +) / n
        let meanB = b.reduce(0, +) / n
        var covariance = 0.0
        var varianceA = 0.0
        var varianceB = 0.0
        for (x, y) in zip(a, b) {
            covariance += (x - meanA) * (y - meanB)
            varianceA += (x - meanA) * (x - meanA)
            varianceB += (y - meanB) * (y - meanB)
        }
        guard varianceA > 0, varianceB > 0 else { return 0 }
        return covariance * covariance / (varianceA * varianceB)
    }
}

/// The ±1 masks of classic reservoir computing: each value the top bit of one draw of
/// xoshiro256** on (`seed`, `stream`), +1 when set.
public enum BinaryMask {
    public static func values(count: Int, seed: UInt64, stream: UInt64) -> [Double] {
        var random = Xoshiro256StarStar(seed: seed, stream: stream)
        return (0..<count).map { _ in random.next() >> 63 == 1 ? 1 : -1 }
    }
}

/// Classic reservoir computing on a board: a fixed random binary mask times the input drives
/// the nodes, the drive loop records the states, ridge readouts score the task.
public struct ReservoirExperiment {
    /// The loop that runs the reservoir.
    public let loop: DriveLoop
    /// Scale γ of the input: p_i(k) = γ·m_i·(u(k) − centre)/halfRange, m_i = ±1, so γ is the
    /// largest drive the input alone gives, whatever the task's input range.
    public var inputScale: Double
    /// Seed of the task data and the mask.
    public var seed: UInt64

    /// The input scale γ chosen with the default operating point (docs/drive-loop.md).
    public static let defaultInputScale = 0.8

    public init(loop: DriveLoop, inputScale: Double, seed: UInt64) {
        self.loop = loop
        self.inputScale = inputScale
        self.seed = seed
    }

    /// The binary mask m_i = ±1 of the N nodes.
    public func mask() -> [Double] { BinaryMask.values(count: loop.settings.nodes, seed: seed, stream: 200) }

    /// The reservoir states of `inputs` (one row of N per input).
    public func states(inputs: [Double], centre: Double, halfRange: Double) throws(LoopStopped) -> [Double] {
        let nodes = loop.settings.nodes
        let mask = mask()
        var drive = [Double](repeating: 0, count: inputs.count * nodes)
        for (k, u) in inputs.enumerated() {
            let scaled = inputScale * (u - centre) / halfRange
            for i in 0..<nodes { drive[k * nodes + i] = scaled * mask[i] }
        }
        var states = [Double](repeating: 0, count: inputs.count * nodes)
        try drive.withUnsafeBufferPointer { driveBuffer throws(LoopStopped) in
            try states.withUnsafeMutableBufferPointer { stateBuffer throws(LoopStopped) in
                try loop.run(drive: driveBuffer, inputCount: inputs.count, states: stateBuffer)
            }
        }
        return states
    }

    /// Runs `task` and returns its metric.
    public func run(_ task: ReservoirTask) throws(LoopStopped) -> Double {
        let data = TaskData.make(task, seed: seed)
        let states = try states(inputs: data.inputs, centre: data.inputCentre, halfRange: data.inputHalfRange)
        return TaskScore.score(task, data: data, states: states, width: loop.settings.nodes)
    }
}
