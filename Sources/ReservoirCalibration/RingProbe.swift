import RealModule
import ReservoirHAL

/// Stationary and step-response measurements of the ring, made only through a `Board`:
/// the same procedures run on hardware and on the twin. The ring must be enabled by the
/// caller; the probe only sets the drive and reads the detector.
public struct RingProbe {
    /// The board measured.
    public let board: Board
    /// How ADC volts become power.
    public let readout: PowerReadout
    /// Samples per ADC block.
    public var samplesPerBlock = 1000

    /// A probe of `board` reading power through `readout`.
    public init(board: Board, readout: PowerReadout) {
        self.board = board
        self.readout = readout
    }

    /// A probe for routines that work on raw ADC volts (`readingStatistics`, calibration), which
    /// know no detector curve yet; its `meanPower` is only a monotone stand-in.
    public init(rawReadingsOf board: Board) {
        self.init(
            board: board,
            readout: PowerReadout(adcGainError: 0, adcOffsetVolts: 0, diodeMaxVolts: 1, diodePowerScale: 1))
    }

    /// Mean circulating power with the DAC held at `volts`: `settleSamples` are discarded,
    /// then `samples` are averaged (rounded up to whole blocks).
    public func meanPower(atVolts volts: Volts, settleSamples: Int, samples: Int) throws(DeviceError) -> Double {
        try board.dac.hold(volts)
        let stream = try board.adc.openStream(samplesPerBlock: samplesPerBlock)
        defer { stream.close() }
        let block = UnsafeMutableBufferPointer<Volts>.allocate(capacity: samplesPerBlock)
        defer { block.deallocate() }
        for _ in 0..<blocks(covering: settleSamples) { try stream.refill(block) }
        let blockCount = max(blocks(covering: samples), 1)
        var sum = 0.0
        for _ in 0..<blockCount {
            try stream.refill(block)
            for reading in block { sum += readout.power(fromADC: reading) }
        }
        return sum / Double(blockCount * samplesPerBlock)
    }

    /// The synchronous average of the detected power over one cycle of a rectangular drive:
    /// `highVolts` for `highSamples`, then `lowVolts` for `lowSamples`, repeated `cycles` times
    /// after `warmupCycles` that are discarded. Index 0 of the result is the first ADC sample of
    /// a cycle; the converter latency shifts the edges to the right.
    public func squareWaveResponse(
        highVolts: Volts, lowVolts: Volts, highSamples: Int, lowSamples: Int, cycles: Int, warmupCycles: Int = 20
    ) throws(DeviceError) -> [Double] {
        let drive = (0..<(highSamples + lowSamples)).map { $0 < highSamples ? highVolts : lowVolts }
        return try drive.withUnsafeBufferPointer { (block) throws(DeviceError) in
            try synchronousAverage(
                drive: block, restVolts: lowVolts, cycles: cycles, warmupCycles: warmupCycles,
                transform: readout.power(fromADC:))
        }
    }

    /// The synchronous average of `transform(reading)` over one period of a periodic drive:
    /// `drive` is pushed period after period (two queued ahead of the converter, as a real-time
    /// loop must), and `cycles` periods are averaged after `warmupCycles` that are discarded.
    /// The DAC rests at `restVolts` before and after. Index 0 is the first ADC sample of a period.
    public func synchronousAverage(
        drive: UnsafeBufferPointer<Volts>, restVolts: Volts, cycles: Int, warmupCycles: Int,
        transform: (Volts) -> Double
    ) throws(DeviceError) -> [Double] {
        let period = drive.count
        let readings = UnsafeMutableBufferPointer<Volts>.allocate(capacity: period)
        defer { readings.deallocate() }
        try board.dac.hold(restVolts)
        let output = try board.dac.openStream(samplesPerBlock: period)
        defer { output.close() }
        let input = try board.adc.openStream(samplesPerBlock: period)
        defer { input.close() }
        let queuedAhead = 2
        for _ in 0..<queuedAhead { try output.push(drive) }
        var sum = [Double](repeating: 0, count: period)
        for cycle in 0..<(warmupCycles + cycles) {
            try input.refill(readings)
            try output.push(drive)
            guard cycle >= warmupCycles else { continue }
            for index in 0..<period { sum[index] += transform(readings[index]) }
        }
        try board.dac.hold(restVolts)
        return sum.map { $0 / Double(cycles) }
    }

    private func blocks(covering samples: Int) -> Int {
        (samples + samplesPerBlock - 1) / samplesPerBlock
    }
}

/// Mean and spread of a run of ADC readings.
public struct ReadingStatistics: Sendable, Equatable {
    /// Mean reading, volts.
    public var mean: Double
    /// Standard deviation of one reading, volts.
    public var standardDeviation: Double
    /// Readings averaged.
    public var count: Int
    /// Standard error of the mean, σ/√n (white noise; correlated noise makes it optimistic).
    public var standardError: Double { standardDeviation / Double(max(count, 1)).squareRoot() }
}

extension RingProbe {
    /// Statistics of the raw ADC readings (volts, no detector model) with the DAC held at
    /// `volts`: `settleSamples` discarded, then `samples` (rounded up to whole blocks).
    /// Calibration works in these units: it must not assume the detector's curve.
    public func readingStatistics(atVolts volts: Volts, settleSamples: Int, samples: Int) throws(DeviceError)
        -> ReadingStatistics
    {
        try board.dac.hold(volts)
        let stream = try board.adc.openStream(samplesPerBlock: samplesPerBlock)
        defer { stream.close() }
        let block = UnsafeMutableBufferPointer<Volts>.allocate(capacity: samplesPerBlock)
        defer { block.deallocate() }
        let settleBlocks = (settleSamples + samplesPerBlock - 1) / samplesPerBlock
        for _ in 0..<settleBlocks { try stream.refill(block) }
        let blockCount = max((samples + samplesPerBlock - 1) / samplesPerBlock, 1)
        // Welford's running mean and variance: one pass, no cancellation.
        var mean = 0.0
        var squares = 0.0
        var count = 0
        for _ in 0..<blockCount {
            try stream.refill(block)
            for reading in block {
                count += 1
                let delta = reading.value - mean
                mean += delta / Double(count)
                squares += delta * (reading.value - mean)
            }
        }
        return ReadingStatistics(
            mean: mean, standardDeviation: (squares / Double(max(count - 1, 1))).squareRoot(), count: count)
    }
}
