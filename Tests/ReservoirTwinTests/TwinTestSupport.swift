import ReservoirCalibration
import ReservoirHAL
import ReservoirTesting
import ReservoirTwin

/// The detector chain of `parameters`, for turning the twin's ADC volts back into power.
func readout(_ parameters: TwinParameters) -> PowerReadout {
    PowerReadout(
        adcGainError: parameters.adc.gainError, adcOffsetVolts: parameters.adc.offsetVolts,
        diodeMaxVolts: parameters.detector.maxVolts, diodePowerScale: parameters.detector.powerScale)
}

/// A lock-step twin with the ring enabled, its board, and a probe reading power.
func enabledTwin(seed: UInt64 = 1, adjust: (inout TwinParameters) -> Void = { _ in }) throws
    -> (twin: RingTwin, board: Board, probe: RingProbe)
{
    let (twin, board) = try TwinFixtures.twinBoard(seed: seed, adjust: adjust)
    try board.enableRing()
    return (twin, board, RingProbe(board: board, readout: readout(twin.parameters)))
}

/// Reads `count` ADC samples through a stream of `count`-sample blocks.
func readADC(_ board: Board, count: Int) throws -> [Double] {
    let stream = try board.adc.openStream(samplesPerBlock: count)
    defer { stream.close() }
    let block = UnsafeMutableBufferPointer<Volts>.allocate(capacity: count)
    defer { block.deallocate() }
    try stream.refill(block)
    return block.map(\.value)
}

/// Streams `drive` through the DAC and returns the ADC samples of the same span (one block).
func stream(_ board: Board, drive: [Volts]) throws -> [Double] {
    let output = try board.dac.openStream(samplesPerBlock: drive.count)
    defer { output.close() }
    let input = try board.adc.openStream(samplesPerBlock: drive.count)
    defer { input.close() }
    try drive.withUnsafeBufferPointer { block throws(DeviceError) in try output.push(block) }
    let readings = UnsafeMutableBufferPointer<Volts>.allocate(capacity: drive.count)
    defer { readings.deallocate() }
    try input.refill(readings)
    return readings.map(\.value)
}
