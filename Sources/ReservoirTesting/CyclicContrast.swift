import ReservoirHAL

/// For cyclic-DAC tests on any board: the ring enabled, a 400-sample block (200 samples at
/// 1.95 V, 200 at 1.65 V, both above the default twin's threshold) played cyclically, and the
/// ADC read for 4,000 samples. Returns the swing of the readings folded over the block's period
/// (mean per phase, smoothed over 50 samples: max − min), which is near zero unless the DAC
/// repeats the block. With `cyclic` false the DAC holds 1.8 V instead.
public enum CyclicContrast {
    public static let period = 400

    public static func measure(_ board: Board, cyclic: Bool) throws -> Double {
        try board.enableRing()
        defer { board.enterSafeStateReporting() }
        let block = (0..<period).map { Volts($0 < period / 2 ? 1.95 : 1.65) }
        var output: (any CyclicOutput)?
        if cyclic {
            output = try block.withUnsafeBufferPointer { (b: UnsafeBufferPointer<Volts>) throws(DeviceError) in
                try board.dac.playCyclic(b)
            }
        } else {
            try board.dac.hold(Volts(1.8))
        }
        defer { output?.close() }
        let stream = try board.adc.openStream(samplesPerBlock: period)
        defer { stream.close() }
        var readings = [Volts](repeating: .zero, count: period)
        var folded = [Double](repeating: 0, count: period)
        for cycle in 0..<10 {
            try readings.withUnsafeMutableBufferPointer {
                (r: inout UnsafeMutableBufferPointer<Volts>) throws(DeviceError) in
                try stream.refill(r)
            }
            guard cycle >= 2 else { continue }  // settling
            for index in 0..<period { folded[index] += readings[index].value / 8 }
        }
        let smoothed = (0..<period).map { start in
            (0..<50).reduce(0.0) { $0 + folded[(start + $1) % period] } / 50
        }
        return smoothed.max()! - smoothed.min()!
    }
}
