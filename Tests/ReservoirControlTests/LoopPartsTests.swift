import Foundation
import ReservoirControl
import ReservoirHAL
import Testing

@Suite struct DriveMapTests {
    /// v = clamp(V_bias + V_span·tanh(a), V_min, V_max), against the closed form.
    @Test func theDriveIsBiasPlusSpanTimesTanhClamped() {
        let map = DriveMap(biasVolts: Volts(1.5), spanVolts: Volts(0.15), range: Volts(1.0)...Volts(1.6))
        for a in stride(from: -6.0, through: 6.0, by: 0.25) {
            let expected = min(max(1.5 + 0.15 * Foundation.tanh(a), 1.0), 1.6)
            #expect(abs(map.volts(activation: a).value - expected) < 1e-15, "a = \(a)")
        }
        #expect(map.volts(activation: 0) == Volts(1.5))
        #expect(map.volts(activation: 50) == Volts(1.6))  // 1.65 clamped to the top of the range
        #expect(map.volts(activation: -50).value == 1.35)  // tanh bounds it at V_bias − V_span
        #expect(map.level(Volts(0.2)) == Volts(1.0))
    }
}

@Suite struct PeriodScheduleTests {
    /// Probe, then evaluation × shot × input × phase in that order, then bias.
    @Test func periodsMapToProbeDrivenAndBiasInStreamOrder() {
        let schedule = PeriodSchedule(probePeriods: 36, inputCount: 3, evaluationCount: 2, shots: 2, delayPeriods: 2)
        #expect(schedule.unitPeriods == 6 && schedule.drivenPeriods == 36 + 2 * 2 * 6)
        #expect(schedule.role(of: 0) == .probe(period: 0) && schedule.role(of: 35) == .probe(period: 35))
        var period = 36
        for evaluation in 0..<2 {
            for _ in 0..<2 {  // shots
                for input in 0..<3 {
                    for phase in 0..<2 {
                        #expect(
                            schedule.role(of: period)
                                == .driven(driven: period - 36, evaluation: evaluation, input: input, phase: phase))
                        period += 1
                    }
                }
            }
        }
        #expect(schedule.role(of: period) == .bias && schedule.role(of: period + 5) == .bias)
    }
}

@Suite struct RangeNormalizerTests {
    /// After a probe reading v_lo, v_0, v_hi (settling periods ignored), x̂ = ½ + (v − v_0)/(v_hi − v_lo).
    @Test func aProbeSetsTheNormalizationFromItsSettledLevels() {
        var normalizer = RangeNormalizer()
        normalizer.beginProbe()
        let levels = [0.2, 0.5, 0.9]
        for period in 0..<RangeNormalizer.probePeriods {
            let level = levels[period / RangeNormalizer.periodsPerLevel]
            // Settling periods read something else entirely: they must not count.
            let settling = period % RangeNormalizer.periodsPerLevel < RangeNormalizer.settlePeriods
            #expect(!normalizer.isReady)
            normalizer.add(meanReading: settling ? 100 : level, probePeriod: period)
        }
        #expect(normalizer.isReady)
        #expect(abs(normalizer.normalized(0.5) - 0.5) < 1e-12)
        #expect(abs(normalizer.normalized(0.9) - (0.5 + 0.4 / 0.7)) < 1e-12)
        #expect(RangeNormalizer.level(ofProbePeriod: 0) == -1 && RangeNormalizer.level(ofProbePeriod: 12) == 0)
        #expect(RangeNormalizer.level(ofProbePeriod: 35) == 1)
        normalizer.reset()
        #expect(!normalizer.isReady)
    }
}

@Suite struct SafetyMonitorTests {
    func block(_ values: [Double]) -> UnsafeMutableBufferPointer<Volts> {
        let buffer = UnsafeMutableBufferPointer<Volts>.allocate(capacity: values.count)
        for (index, value) in values.enumerated() { buffer[index] = Volts(value) }
        return buffer
    }

    @Test func overRangeStopsAfterTheLimitAndResetsOnAGoodBlock() {
        var limits = SafetyLimits()
        limits.overRangePeriods = 2
        var monitor = SafetyMonitor(limits: limits, overRangeVolts: 2.0)
        let over = block([1.0, 2.0, 1.5])
        let fine = block([1.0, 1.2, 1.5])
        defer { over.deallocate(); fine.deallocate() }
        #expect(monitor.check(over) { _ in nil } == (nil, true))
        #expect(monitor.check(over) { _ in nil }.stop == nil)
        #expect(monitor.check(fine) { _ in nil } == (nil, false))
        _ = monitor.check(over) { _ in nil }
        _ = monitor.check(over) { _ in nil }
        #expect(monitor.check(over) { _ in nil }.stop == .overRange(periods: 3))
    }

    @Test func aStuckConverterAndASilentRingStopTheLoop() {
        var limits = SafetyLimits()
        limits.stuckPeriods = 2
        limits.silentPeriods = 2
        var stuck = SafetyMonitor(limits: limits, overRangeVolts: 2.0)
        let flat = block([1.25, 1.25, 1.25])
        let low = block([0.1, 0.11, 0.1])
        defer { flat.deallocate(); low.deallocate() }
        #expect(stuck.check(flat) { _ in nil }.stop == nil)
        #expect(stuck.check(flat) { _ in nil }.stop == .adcStuck(periods: 2))
        var silent = SafetyMonitor(limits: limits, overRangeVolts: 2.0)
        // Below the silent level only once the normalization is known.
        #expect(silent.check(low) { _ in nil }.stop == nil)
        #expect(silent.check(low) { _ in -1 }.stop == nil)
        #expect(silent.check(low) { _ in -1 }.stop == .ringSilent(periods: 2))
    }
}
