import Foundation
import ReservoirCalibration
import ReservoirHAL
import ReservoirHardware
import ReservoirTesting
import ReservoirTwin
import Testing

/// "What the twin must show", 5–7: converters, GPIO, determinism; and its faults, safe
/// state and pacing.
@Suite struct TwinConverterTests {
    /// A cyclic DAC block repeats until closed; the safe state's hold ends it.
    @Test func aCyclicBlockRepeatsOnTheDAC() throws {
        let (_, board) = try TwinFixtures.twinBoard(seed: 2)
        let swinging = try CyclicContrast.measure(board, cyclic: true)
        let holding = try CyclicContrast.measure(board, cyclic: false)
        print("cyclic swing \(swinging) V, held \(holding) V")
        #expect(swinging > 0.05, "cyclic swing \(swinging) V")
        #expect(holding < 0.02, "held swing \(holding) V")
    }

    @Test func adcReadingsAreWholeStepsOfReferenceOverTwoToTheBits() throws {
        let (_, board, _) = try enabledTwin(seed: 1)
        try board.dac.hold(Volts(1.58))
        let readings = try readADC(board, count: 20_000)
        let step = 2.5 / 4096
        for reading in readings {
            let codes = reading / step
            #expect(abs(codes - codes.rounded()) < 1e-9)
        }
        let distinct = Set(readings).sorted()
        let smallestGap = zip(distinct, distinct.dropFirst()).map { $1 - $0 }.min()!
        #expect(abs(smallestGap - step) < 1e-12)
    }

    @Test func adcClampsToItsRange() throws {
        let (_, high, _) = try enabledTwin { $0.adc.offsetVolts = 3.0 }
        #expect(Set(try readADC(high, count: 1000)) == [4095 * 2.5 / 4096])
        let (_, low, _) = try enabledTwin { $0.adc.offsetVolts = -1.0 }
        #expect(Set(try readADC(low, count: 1000)) == [0])
    }

    @Test func dacQuantizesClampsAndAppliesItsErrors() throws {
        let (twin, board, _) = try enabledTwin()
        let p = twin.parameters.dac
        let step = 2.5 / 65536
        func output(_ code: Double) -> Double { (1 + p.gainError) * code * step + p.offsetVolts }
        try board.dac.hold(Volts(1.0))
        #expect(abs(twin.dacOutput.value - output((1.0 / step).rounded())) < 1e-12)
        try board.dac.hold(Volts(10))
        #expect(abs(twin.dacOutput.value - output(65535)) < 1e-12)
        try board.dac.hold(Volts(-3))
        #expect(abs(twin.dacOutput.value - output(0)) < 1e-12)
    }

    @Test(arguments: [3, 7])
    func samplesArriveExactlyLatencySamplesLate(latency: Int) throws {
        // The same seed and drive with and without latency: the delayed stream is the
        // undelayed one shifted by exactly L samples.
        var drive = [Volts](repeating: Volts(1.4), count: 400)
        for index in 100..<250 { drive[index] = Volts(1.7) }
        let (_, prompt, _) = try enabledTwin(seed: 9) { $0.adcLatencySamples = 0 }
        let (_, late, _) = try enabledTwin(seed: 9) { $0.adcLatencySamples = latency }
        let undelayed = try stream(prompt, drive: drive)
        let delayed = try stream(late, drive: drive)
        #expect(Array(delayed[latency...]) == Array(undelayed[..<(undelayed.count - latency)]))
        // The first L samples left the ADC before any drive arrived: another drive, same seed,
        // gives the same first L samples, and differs after them.
        let (_, other, _) = try enabledTwin(seed: 9) { $0.adcLatencySamples = latency }
        let otherDrive = [Volts](repeating: Volts(1.7), count: 400)
        let otherDelayed = try stream(other, drive: otherDrive)
        #expect(Array(otherDelayed[..<latency]) == Array(delayed[..<latency]))
        #expect(otherDelayed[latency...] != delayed[latency...])
    }
}

@Suite struct TwinGPIOTests {
    /// Power readings before and after `action` at G = 1.2.
    func collapse(after action: (Board) throws -> Void) throws -> (before: [Double], after: [Double]) {
        let (twin, board, probe) = try enabledTwin(seed: 5)
        try board.dac.hold(Volts(twin.parameters.dacRequestVolts(forGain: 1.2)))
        let before = try readADC(board, count: 2000).map { probe.readout.power(fromADC: Volts($0)) }
        try action(board)
        let after = try readADC(board, count: 200).map { probe.readout.power(fromADC: Volts($0)) }
        return (before, after)
    }

    @Test func disablingTheAmplifierCollapsesTheOutputWithinAFewSamples() throws {
        let (before, after) = try collapse { try $0.ampEnable.set(false) }
        #expect(before.suffix(100).allSatisfy { abs($0 - 0.2) < 0.03 })
        // After the ADC latency (3) and three more samples for the video filter
        // (τ = 0.32 samples: e^{−9} of 1.6 V), only the G = 0 floor D·T_rt/2 = 1e-5 and the
        // 1 mV detector noise (6.8e-5 in P) remain: below 5e-4 by 7 noise σ.
        #expect(after.dropFirst(6).allSatisfy { $0 < 5e-4 })
        #expect(after.prefix(3).allSatisfy { $0 > 0.1 })  // still in the ADC pipeline
    }

    @Test func openingTheLoopCollapsesTheOutputWithinAFewSamples() throws {
        let (_, after) = try collapse { try $0.loopClose.set(false) }
        #expect(after.dropFirst(6).allSatisfy { $0 < 5e-4 })
    }

    @Test func interlockReadsWhatTheFaultInjectionSet() throws {
        let (twin, board, _) = try enabledTwin()
        twin.inject(.interlock, at: .milliseconds(10))
        #expect(try board.interlock.read() == false)
        _ = try readADC(board, count: 1000)  // 5 ms
        #expect(try board.interlock.read() == false)
        _ = try readADC(board, count: 1000)  // 10 ms
        #expect(try board.interlock.read() == true)
        twin.clearFaults()
        #expect(try board.interlock.read() == false)
    }

    @Test func theBoardStartsSafeAndReturnsToSafe() throws {
        let (twin, board) = try TwinFixtures.twinBoard()
        #expect(!twin.ringEnabled)
        #expect(twin.dacOutput.value == twin.parameters.dac.offsetVolts)  // 0 V requested
        try board.enableRing()
        try board.dac.hold(Volts(1.8))
        #expect(twin.ringEnabled)
        try board.enterSafeState()
        #expect(!twin.ringEnabled)
        #expect(twin.dacOutput.value == twin.parameters.dac.offsetVolts)
    }

    @Test func safeStateTriesEveryStepWhenOneFails() throws {
        let (twin, twinBoard) = try TwinFixtures.twinBoard()
        let amplifier = RecordingOutputLine()
        amplifier.failure = DeviceError(.ioFailure, errno: .ioError, operation: "set amp_enable", detail: "test")
        let loop = RecordingOutputLine()
        let board = Board(
            wiring: twinBoard.wiring, dac: twinBoard.dac, adc: twinBoard.adc, ampEnable: amplifier,
            loopClose: loop, trigger: twinBoard.trigger, interlock: twinBoard.interlock, clock: twinBoard.clock)
        try board.dac.hold(Volts(1.8))
        #expect(throws: DeviceError.self) { try board.enterSafeState() }
        #expect(loop.history == [false])
        #expect(twin.dacOutput.value == twin.parameters.dac.offsetVolts)
    }
}

@Suite struct TwinDeterminismTests {
    func run(seed: UInt64) throws -> [Double] {
        let (_, board, _) = try enabledTwin(seed: seed)
        let drive = (0..<2000).map { Volts(1.7 + 0.2 * Double(($0 / 4) % 7) / 7) }
        return try stream(board, drive: drive)
    }

    @Test func sameSeedSameSamplesDifferentSeedDifferentNoise() throws {
        let first = try run(seed: 21)
        #expect(first == (try run(seed: 21)))
        let other = try run(seed: 22)
        #expect(first != other)
        // Different noise, same physics: the means agree to a few percent.
        let mean = { (values: [Double]) in values.reduce(0, +) / Double(values.count) }
        #expect(abs(mean(first) - mean(other)) / mean(first) < 0.05)
    }
}

@Suite struct TwinFaultTests {
    @Test func anADCDropoutTimesOutTheRefillsItOverlaps() throws {
        let (twin, board, _) = try enabledTwin()
        twin.inject(.adcDropout(duration: .milliseconds(2)), at: .milliseconds(6))
        let stream = try board.adc.openStream(samplesPerBlock: 200)  // 1 ms blocks
        defer { stream.close() }
        let block = UnsafeMutableBufferPointer<Volts>.allocate(capacity: 200)
        defer { block.deallocate() }
        var outcomes: [Bool] = []
        for _ in 0..<10 {
            do {
                try stream.refill(block)
                outcomes.append(true)
            } catch {
                #expect(error.kind == .timedOut)
                outcomes.append(false)
            }
        }
        #expect(outcomes == [true, true, true, true, true, true, false, false, true, true])
    }

    @Test func aStuckADCRepeatsItsLastCode() throws {
        let (twin, board, _) = try enabledTwin()
        try board.dac.hold(Volts(1.7))
        _ = try readADC(board, count: 1000)
        twin.inject(.adcStuck, at: twin.elapsed)
        #expect(Set(try readADC(board, count: 1000).dropFirst(3)).count == 1)
    }

    @Test func aSaturatedADCReadsFullScale() throws {
        let (twin, board, _) = try enabledTwin()
        twin.inject(.adcSaturated, at: .zero)
        #expect(Set(try readADC(board, count: 100).dropFirst(3)) == [4095 * 2.5 / 4096])
    }

    @Test func aFailedDACRefusesPushesAndHolds() throws {
        let (twin, board, _) = try enabledTwin()
        twin.inject(.dacFailure, at: .zero)
        #expect { try board.dac.hold(Volts(1)) } throws: { ($0 as? DeviceError)?.kind == .ioFailure }
        let output = try board.dac.openStream(samplesPerBlock: 4)
        defer { output.close() }
        let block = [Volts](repeating: Volts(1), count: 4)
        #expect {
            try block.withUnsafeBufferPointer { buffer throws(DeviceError) in try output.push(buffer) }
        } throws: { ($0 as? DeviceError)?.errno == .ioError }
    }

    @Test func anAmplifierFailureDropsTheGainToZero() throws {
        let (twin, board, _) = try enabledTwin()
        try board.dac.hold(Volts(1.8))
        _ = try readADC(board, count: 100)
        #expect(twin.gain > 1)
        twin.inject(.amplifierFailure, at: twin.elapsed)
        _ = try readADC(board, count: 10)
        #expect(twin.gain == 0)
    }

    @Test func extraNoiseRaisesTheFloorByItsFactor() throws {
        let (twin, _, probe) = try enabledTwin(seed: 6) { $0.driftStd = 0 }
        let volts = Volts(twin.parameters.dacRequestVolts(forGain: 0.9))
        twin.inject(.extraNoise(factor: 4), at: .zero)
        let floor = try probe.meanPower(atVolts: volts, settleSamples: 1000, samples: 200_000)
        // P_floor ∝ D: 4e-4; 3 % as in the noise-floor test.
        #expect(abs(floor - 4e-4) / 4e-4 < 0.03)
    }

    @Test func aGainJumpShiftsTheDrift() throws {
        let (twin, board, _) = try enabledTwin { $0.driftStd = 0 }
        twin.inject(.gainJump(size: 0.01), at: .milliseconds(1))
        _ = try readADC(board, count: 400)
        #expect(twin.drift == 0.01)
    }
}

@Suite struct TwinPacingTests {
    @Test func aPacedTwinNeverDeliversSamplesBeforeTheirTime() throws {
        let clock = MonotonicClock()
        let (twin, board) = try TwinFixtures.twinBoard(clock: clock)
        let start = clock.now()
        _ = try readADC(board, count: 2000)  // 10 ms of twin time
        #expect(clock.now() - start >= .milliseconds(10))
        #expect(twin.samplesSimulated >= 2000)
    }

    @Test func aLockStepTwinMovesItsManualClock() throws {
        let (twin, board) = try TwinFixtures.twinBoard()
        _ = try readADC(board, count: 2000)
        #expect(board.clock.now() == .milliseconds(10))
        #expect(twin.elapsed == .milliseconds(10))
    }
}
