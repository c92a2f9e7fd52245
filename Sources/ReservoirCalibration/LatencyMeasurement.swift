import ReservoirHAL

/// The converter latency in samples, from the ring's response to a maximal-length pseudo-random
/// binary sequence (PRBS) on the DAC.
///
/// The drive is V_c ± A following a period-N m-sequence s(n) ∈ {±1} (N = 2^order − 1), pushed
/// block by block; the readings are averaged synchronously over many periods, y(n). The circular
/// cross-correlation c(k) = (1/N)·Σ_n s(n)·y(n + k) equals the impulse response h(k) of the
/// drive-to-detector path up to a term of order 1/N, because an m-sequence's circular
/// autocorrelation is N at lag 0 and −1 at every other lag. The latency is the first lag at
/// which h rises to half its peak: before it the ADC has seen nothing of the step, and the
/// analogue chain (DAC filter, ring, video filter; each well under a sample here) only
/// rounds the edge after it.
public struct LatencyMeasurement {
    /// The m-sequence order (period 2^order − 1 samples).
    public var order = 9
    /// Periods averaged, and periods discarded first.
    public var cycles = 200
    public var warmupCycles = 5
    /// Largest latency looked for, in samples.
    public var maximumLagSamples = 64

    public init() {}

    /// What the measurement gives.
    public struct Result: Sendable {
        /// The latency L in samples.
        public var latencySamples: Int
        /// h(k) for k in 0...maximumLagSamples, volts per volt of drive step.
        public var impulseResponse: [Double]
    }

    /// A failed measurement.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The ±1 m-sequence of `order`: the recurrence a(n + order) = a(n) ⊕ a(n + order − t) of
    /// the primitive trinomial x^order + x^t + 1, run as a right-shifting register whose bit 0
    /// is a(n). Σ s = +1 and every circular autocorrelation off lag 0 is −1 (tested).
    public static func maximumLengthSequence(order: Int) -> [Double] {
        let trinomials: [Int: Int] = [7: 6, 9: 5, 10: 7, 11: 9]
        guard let t = trinomials[order] else { preconditionFailure("m-sequence order \(order) is not tabulated") }
        var state: UInt32 = 1
        let period = (1 << order) - 1
        var sequence: [Double] = []
        sequence.reserveCapacity(period)
        for _ in 0..<period {
            let bit = (state & 1) ^ ((state >> UInt32(order - t)) & 1)
            sequence.append(state & 1 == 1 ? 1 : -1)
            state = (state >> 1) | (bit << UInt32(order - 1))
        }
        return sequence
    }

    /// Measures around `centerVolts` with amplitude `amplitudeVolts` (the ring enabled, above
    /// threshold so the detector follows the drive).
    public func run(board: Board, centerVolts: Volts, amplitudeVolts: Volts) throws -> Result {
        let sequence = Self.maximumLengthSequence(order: order)
        let period = sequence.count
        guard maximumLagSamples < period else { throw Failure(description: "lag range exceeds the PRBS period") }
        let drive = sequence.map {
            Volts(centerVolts.value + amplitudeVolts.value * $0).clamped(to: board.wiring.driveRange)
        }
        let average = try drive.withUnsafeBufferPointer { (block) throws(DeviceError) in
            try RingProbe(rawReadingsOf: board).synchronousAverage(
                drive: block, restVolts: centerVolts, cycles: cycles, warmupCycles: warmupCycles, transform: \.value)
        }
        // c(k) = (1/N)·Σ s(n)·(y(n + k) − ȳ): subtracting the mean removes its 1/N leak
        // (Σ s = 1), leaving h(k) − (1/N)·Σ_j h(j) — within 1/N of h.
        let mean = average.reduce(0, +) / Double(period)
        let response = (0...maximumLagSamples).map { lag -> Double in
            var sum = 0.0
            for n in 0..<period { sum += sequence[n] * (average[(n + lag) % period] - mean) }
            return sum / Double(period) / amplitudeVolts.value
        }
        guard let peak = response.max(), peak > 0 else {
            throw Failure(description: "the detector did not follow the drive (no positive response to the PRBS)")
        }
        // Any lag also shifts by whole periods of the stream's queue; only its phase within a
        // period is the latency, so the stream must be aligned: readings block b answer drive
        // block b (the queue is filled before the first reading).
        let latency = response.firstIndex { $0 >= 0.5 * peak }!
        return Result(latencySamples: latency, impulseResponse: response)
    }
}
