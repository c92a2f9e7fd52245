import RealModule
import SeededRandom

extension TwinParameters {
    /// How far `randomized(seed:)` moves each hidden parameter (issue 5): a twin that differs
    /// from its parameter file the way one real ring differs from another, for calibration to
    /// find out.
    public enum RandomizationLimits {
        /// ADC latency in samples (drawn uniformly, inclusive).
        public static let latencySamples = 1...8
        /// ADC offset, volts (±).
        public static let adcOffsetVolts = 0.020
        /// ADC and DAC gain errors (±).
        public static let gainError = 0.02
        /// Shift of the attenuator curve's midpoint, volts (±).
        public static let attenuatorShiftVolts = 0.2
        /// Factor on the ring's and the detector's noise (log-uniform).
        public static let noiseFactor = 0.5...2.0
    }

    /// These parameters with the hidden ones drawn from `seed`: latency 1–8 samples, ADC offset
    /// ±20 mV, ADC and DAC gain errors ±2 %, the attenuator curve shifted ±0.2 V, and the ring's
    /// and the detector's noise scaled by one factor in 0.5–2 (log-uniform). The same seed
    /// always gives the same twin.
    public func randomized(seed: UInt64) -> TwinParameters {
        var random = Xoshiro256StarStar(seed: seed, stream: 0x7A4D)
        func uniform(_ halfWidth: Double) -> Double { (2 * random.nextUnitInterval() - 1) * halfWidth }
        var twin = self
        let latencies = RandomizationLimits.latencySamples
        twin.adcLatencySamples =
            latencies.lowerBound + Int(random.next() % UInt64(latencies.upperBound - latencies.lowerBound + 1))
        twin.adc.offsetVolts = uniform(RandomizationLimits.adcOffsetVolts)
        twin.adc.gainError = uniform(RandomizationLimits.gainError)
        twin.dac.gainError = uniform(RandomizationLimits.gainError)
        twin.attenuator.midVolts += uniform(RandomizationLimits.attenuatorShiftVolts)
        let noise = RandomizationLimits.noiseFactor
        let factor = Double.exp(
            Double.log(noise.lowerBound) + random.nextUnitInterval() * Double.log(noise.upperBound / noise.lowerBound))
        twin.noiseStrengthPerSecond *= factor
        twin.detector.noiseVoltsRMS *= factor
        return twin
    }
}

extension TwinParameters {
    /// The DAC's output for a request (its gain error and offset applied).
    public func dacOutputVolts(forRequestVolts request: Double) -> Double {
        (1 + dac.gainError) * request + dac.offsetVolts
    }

    /// The mean-field ADC reading at a held drive above threshold, without noise or drift:
    /// r = (1 + ε_adc)·V_max·(1 − e^{−P/P_d}) + offset with P = (G − 1)/β, G = G_vca(V_out).
    /// Below threshold the mean-field power is 0 (the noise floor is not part of it).
    public func meanFieldReadingVolts(atRequestVolts request: Double) -> Double {
        let gain = attenuatorGain(atVolts: dacOutputVolts(forRequestVolts: request))
        let power = max(gain - 1, 0) / saturation
        return (1 + adc.gainError) * diodeVolts(power: power) + adc.offsetVolts
    }

    /// d r / d V_request of `meanFieldReadingVolts` (the calibration's transfer slope's truth):
    /// (1 + ε_adc)·(V_max/P_d)·e^{−P/P_d}·(1/β)·G'_vca(V_out)·(1 + ε_dac), above threshold.
    public func transferSlope(atRequestVolts request: Double) -> Double {
        let output = dacOutputVolts(forRequestVolts: request)
        let gain = attenuatorGain(atVolts: output)
        guard gain > 1 else { return 0 }
        let power = (gain - 1) / saturation
        let a = attenuator
        let logistic = 1 / (1 + Double.exp(-(output - a.midVolts) / a.widthVolts))
        let gainSlope = (a.gainMax - a.gainMin) * logistic * (1 - logistic) / a.widthVolts
        return (1 + adc.gainError) * detector.maxVolts / detector.powerScale * Double.exp(-power / detector.powerScale)
            / saturation * gainSlope * (1 + dac.gainError)
    }
}
