import ReservoirHAL
import SeededRandom

/// How fast the twin makes ADC samples when driven as the drive loop drives it: one block
/// per period of N virtual nodes × S samples, each node at its own random level around the
/// operating point, so the DAC filter and the gain coefficients change on every substep.
public enum TwinBenchmark {
    /// The figures one run printed.
    public struct Result: Sendable {
        /// ADC samples made per wall-clock second.
        public var samplesPerSecond: Double
        /// samplesPerSecond / sample rate: how much faster than the real ring.
        public var realtimeFactor: Double
        /// Wall time per integration substep, in nanoseconds.
        public var nanosecondsPerSubstep: Double
        /// Samples made in the timed part.
        public var samples: Int
        /// Wall seconds of the timed part.
        public var seconds: Double
    }

    /// Streams through `board` (a board of `twin`, lock-step) for about `seconds` of wall time
    /// after a short warm-up.
    public static func run(
        twin: RingTwin, board: Board, seconds: Double, nodes: Int = 50, samplesPerNode: Int = 4,
        operatingVolts: Volts, spanVolts: Volts
    ) throws(DeviceError) -> Result {
        let period = nodes * samplesPerNode
        let drive = UnsafeMutableBufferPointer<Volts>.allocate(capacity: period)
        defer { drive.deallocate() }
        let readings = UnsafeMutableBufferPointer<Volts>.allocate(capacity: period)
        defer { readings.deallocate() }
        var random = Xoshiro256StarStar(seed: 12345)

        try board.enableRing()
        defer { try? board.enterSafeState() }
        let output = try board.dac.openStream(samplesPerBlock: period)
        defer { output.close() }
        let input = try board.adc.openStream(samplesPerBlock: period)
        defer { input.close() }

        func fillDrive() {
            for node in 0..<nodes {
                let level = operatingVolts + (2 * random.nextUnitInterval() - 1) * spanVolts
                for sample in 0..<samplesPerNode { drive[node * samplesPerNode + sample] = level }
            }
        }
        func onePeriod() throws(DeviceError) {
            fillDrive()
            try output.push(UnsafeBufferPointer(drive))
            try input.refill(readings)
        }

        fillDrive()
        try output.push(UnsafeBufferPointer(drive))
        for _ in 0..<200 { try onePeriod() }  // warm-up: caches, branch predictors, lazy tables

        let clock = ContinuousClock()
        let start = clock.now
        var periods = 0
        var elapsed = Duration.zero
        repeat {
            for _ in 0..<100 { try onePeriod() }
            periods += 100
            elapsed = clock.now - start
        } while elapsed.seconds < seconds
        let samples = periods * period
        let rate = Double(samples) / elapsed.seconds
        return Result(
            samplesPerSecond: rate, realtimeFactor: rate / twin.parameters.sampleRate.value,
            nanosecondsPerSubstep: 1e9 / (rate * Double(twin.parameters.substeps)), samples: samples,
            seconds: elapsed.seconds)
    }
}
