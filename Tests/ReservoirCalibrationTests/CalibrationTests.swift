import Foundation
import ReservoirCalibration
import ReservoirFiles
import ReservoirHAL
import ReservoirTesting
import ReservoirTwin
import Testing

@Suite struct RandomizedTwinCalibrationTests {
    /// Issue 5's acceptance on five randomized twins (offsets of both signs among them: seeds
    /// 1, 2 and 8 have negative ADC offsets that the dark reading cannot show).
    @Test(arguments: [1, 2, 4, 8, 9] as [UInt64])
    func calibrationRecoversTheHiddenParameters(randomize: UInt64) throws {
        let (twin, board) = try TwinFixtures.twinBoard(seed: 3) { $0 = $0.randomized(seed: randomize) }
        let truth = twin.parameters
        let result = try DeviceCalibration().run(board: board)
        #expect(result.latencySamples == truth.adcLatencySamples)
        #expect(abs(result.thresholdVolts.value / truth.thresholdRequestVolts - 1) < 0.01)
        #expect(abs(result.adcOffsetVolts.value - truth.adc.offsetVolts) < 0.002)
        let slope = truth.transferSlope(atRequestVolts: result.biasVolts)
        #expect(abs(result.transferSlope.value / slope - 1) < 0.05)
        // The rule: V_bias = threshold + 0.235 V, with the span clear of the threshold.
        #expect(abs(result.biasVolts - result.thresholdVolts.value - 0.235) < 1e-9)
        #expect(
            !twin.ringEnabled && twin.dacOutput.value == twin.dacOutputVolts(forRequest: board.wiring.safeVolts),
            "calibration must leave the board safe")
    }

    @Test func randomizationStaysWithinItsLimitsAndIsSeeded() throws {
        let base = try TwinFixtures.defaultParameters()
        var latencies = Set<Int>()
        for seed in 1...200 as ClosedRange<UInt64> {
            let twin = base.randomized(seed: seed)
            latencies.insert(twin.adcLatencySamples)
            #expect((1...8).contains(twin.adcLatencySamples))
            #expect(abs(twin.adc.offsetVolts) <= 0.020)
            #expect(abs(twin.adc.gainError) <= 0.02 && abs(twin.dac.gainError) <= 0.02)
            #expect(abs(twin.attenuator.midVolts - base.attenuator.midVolts) <= 0.2)
            let factor = twin.detector.noiseVoltsRMS / base.detector.noiseVoltsRMS
            #expect(factor >= 0.5 && factor <= 2)
            #expect(abs(twin.noiseStrengthPerSecond / base.noiseStrengthPerSecond - factor) < 1e-12)
        }
        #expect(latencies == Set(1...8))
        #expect(base.randomized(seed: 7) == base.randomized(seed: 7))
        #expect(base.randomized(seed: 7) != base.randomized(seed: 8))
    }

    @Test func theTransferSlopesTruthIsTheDerivativeOfTheMeanFieldReading() throws {
        let p = try TwinFixtures.defaultParameters()
        for volts in [1.6, 1.8, 2.0] {
            let h = 1e-6
            let numeric =
                (p.meanFieldReadingVolts(atRequestVolts: volts + h) - p.meanFieldReadingVolts(atRequestVolts: volts - h))
                / (2 * h)
            #expect(abs(numeric / p.transferSlope(atRequestVolts: volts) - 1) < 1e-6)
        }
        #expect(p.transferSlope(atRequestVolts: 1.0) == 0)  // below threshold
    }
}

@Suite struct CalibrationMathTests {
    @Test(arguments: [7, 9, 10, 11])
    func maximumLengthSequencesHaveTwoValuedAutocorrelation(order: Int) {
        let s = LatencyMeasurement.maximumLengthSequence(order: order)
        let n = s.count
        #expect(n == (1 << order) - 1)
        #expect(s.reduce(0, +) == 1)
        for lag in [1, 2, 3, n / 2, n - 1] {
            let correlation = (0..<n).reduce(0.0) { $0 + s[$1] * s[($1 + lag) % n] }
            #expect(correlation == -1)
        }
    }

    @Test func fitsRecoverExactPolynomials() {
        let line = LineFit(x: [0, 1, 2, 3], y: [1, 3, 5, 7])
        #expect(abs(line.slope - 2) < 1e-12 && abs(line.intercept - 1) < 1e-12)
        let points = stride(from: 0.0, through: 2, by: 0.25).map { x in (x: x, y: 0.5 * (x - 1.2) * (x + 3)) }
        let quadratic = QuadraticFit(points)
        #expect(abs(quadratic.root(nearest: 1)! - 1.2) < 1e-9)
        #expect(abs(quadratic.derivative(at: 1.2) - 0.5 * (1.2 + 3)) < 1e-9)
        #expect(quadratic.residualStandardDeviation < 1e-9)
    }

    @Test func sha256MatchesTheStandardVectors() {
        #expect(
            SHA256.hexDigest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hexDigest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
