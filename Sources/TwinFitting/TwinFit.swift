import RealModule
import ReservoirCalibration
import ReservoirHAL
import ReservoirTwin

/// Twin parameters fitted to a calibration: how a lab turns its real ring into a twin.
///
/// The template (a twin parameter file) supplies the model and the constants calibration cannot
/// separate; the fit sets the rest from the measurements:
/// - latency and ADC offset: as measured;
/// - attenuator width w, the detector's ceiling V_max and saturation β: least squares
///   (Nelder–Mead) of the mean-field transfer curve above threshold,
///   r(V) = r₀ + (1 + g)·V_max·(1 − exp(−(G(V) − 1)/(β·P_d))),
///   G(V) = g_min + (g_max − g_min)/(1 + e^{−(V_out − V_mid)/w}),
///   to the up sweep's readings above 10 % of the swing (clear of the noise-rounded knee), with
///   V_mid tied to the measured threshold by G(V_th) = 1 (the DAC's gain and offset stay the
///   template's: they only rescale V_mid and w in request volts; so do the ADC's gain error,
///   which only rescales V_max, and P_d, which only rescales β);
/// - noise: one factor on the ring's and the detector's noise, set by simulation so that the
///   fitted twin's dark noise (or, where the ADC clips the dark reading, its noise at the
///   operating point) matches the measurement.
public enum TwinFit {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Fits `template` to `calibration`.
    public static func fit(
        calibration: DeviceCalibrationResult, template: TwinParameters, wiring: BoardDescription, seed: UInt64 = 1
    ) throws -> TwinParameters {
        var twin = template
        twin.adcLatencySamples = calibration.latencySamples
        twin.adc.offsetVolts = calibration.adcOffsetVolts.value
        twin.faults = []
        let offset = calibration.adcOffsetVolts.value
        let threshold = calibration.thresholdVolts.value
        let top = calibration.transfer.map(\.upVolts).max() ?? offset
        let points = calibration.transfer.filter {
            $0.upVolts > offset + 0.1 * (top - offset) && $0.driveVolts > threshold
        }
        guard points.count >= 5 else {
            throw Failure(description: "only \(points.count) points of the transfer curve lie above threshold")
        }

        func model(_ x: [Double]) -> TwinParameters {
            var p = twin
            p.attenuator.widthVolts = abs(x[0])
            p.detector.maxVolts = abs(x[1])
            p.saturation = abs(x[2])
            // G(V_out(V_th)) = 1 fixes the midpoint.
            let a = p.attenuator
            let outputAtThreshold = p.dacOutputVolts(forRequestVolts: threshold)
            p.attenuator.midVolts =
                outputAtThreshold + a.widthVolts * Double.log((a.gainMax - a.gainMin) / (1 - a.gainMin) - 1)
            return p
        }
        func cost(_ x: [Double]) -> Double {
            guard x[0] > 1e-3, x[2] > 1e-6, x[1] > 1e-3 else { return .infinity }
            let p = model(x)
            return points.reduce(0) { sum, point in
                let error = p.meanFieldReadingVolts(atRequestVolts: point.driveVolts) - point.upVolts
                return sum + error * error
            }
        }
        let best = NelderMead.minimize(
            cost, start: [twin.attenuator.widthVolts, twin.detector.maxVolts, twin.saturation],
            steps: [0.05, 0.1, 0.2])
        twin = model(best)

        // Noise: simulate the fitted twin and scale its noise until the simulated figure matches
        // the measured one. The dark noise when the ADC shows it (the simulation clips as the
        // device does, the offsets being equal); when the dark readings are all one code, the
        // noise at the operating point.
        let lsb = wiring.adc.format.leastSignificantBit.value
        let dark = calibration.noiseFloorVolts.value > 0.1 * lsb
        let target = dark ? calibration.noiseFloorVolts.value : calibration.stateNoiseVolts.value
        let base = twin
        func scaled(_ factor: Double, offset: Double) -> TwinParameters {
            var p = base
            p.detector.noiseVoltsRMS *= factor
            p.noiseStrengthPerSecond *= factor
            p.adc.offsetVolts = offset
            return p
        }
        if dark && calibration.adcOffsetVolts.value < 3 * target + 2 * lsb {
            // Partly clipped dark readings: their mean and spread depend on the offset as much
            // as on the noise, so both are fitted to the measured pair (simplex over the offset
            // and the log of the noise factor; the same seed each time, so the objective is
            // deterministic).
            let darkMean = calibration.transfer.first?.upVolts ?? calibration.adcOffsetVolts.value
            let best = NelderMead.minimize(
                { x in
                    guard
                        let simulated = try? measureNoise(
                            scaled(Double.exp(x[1]), offset: x[0]), wiring: wiring, seed: seed,
                            calibration: calibration,
                            dark: true)
                    else { return .infinity }
                    let meanError = (simulated.darkReference - darkMean) / lsb
                    let spreadError = 10 * (simulated.spread / target - 1)
                    return meanError * meanError + spreadError * spreadError
                }, start: [calibration.adcOffsetVolts.value, 0], steps: [lsb, 0.3], iterations: 80, tolerance: 1e-6)
            twin = scaled(Double.exp(best[1]), offset: best[0])
        } else {
            var factor = 1.0
            for _ in 0..<4 {
                let simulated = try measureNoise(
                    scaled(factor, offset: base.adc.offsetVolts), wiring: wiring, seed: seed, calibration: calibration,
                    dark: dark)
                guard simulated.spread > 0, abs(simulated.spread / target - 1) > 0.01 else { break }
                // Dark noise is proportional to the detector's; above threshold the amplitude
                // noise grows as the square root of the ring's.
                let ratio = target / simulated.spread
                factor *= dark ? ratio : ratio * ratio
            }
            twin = scaled(factor, offset: base.adc.offsetVolts)
        }
        return twin
    }

    /// The fitted twin's dark noise, or its reading noise at the operating point (`spread`), and
    /// its mean reading at the bottom of the drive range with the ring enabled, which the
    /// transfer sweep's first point measured on the device (`darkReference`).
    static func measureNoise(
        _ parameters: TwinParameters, wiring: BoardDescription, seed: UInt64, calibration: DeviceCalibrationResult,
        dark: Bool
    ) throws -> (spread: Double, darkReference: Double) {
        let twin = RingTwin(parameters: parameters, seed: seed)
        let board = try twin.makeBoard(wiring: wiring)
        defer { try? board.enterSafeState() }
        let probe = RingProbe(rawReadingsOf: board)
        try board.enterSafeState()
        let darkStatistics = try probe.readingStatistics(
            atVolts: wiring.safeVolts, settleSamples: 2_000, samples: 40_000)
        try board.enableRing()
        let bottom = try probe.readingStatistics(
            atVolts: wiring.driveRange.lowerBound, settleSamples: 2_000, samples: 40_000)
        let spread =
            dark
            ? darkStatistics.standardDeviation
            : try probe.readingStatistics(atVolts: Volts(calibration.biasVolts), settleSamples: 2_000, samples: 20_000)
                .standardDeviation
        return (spread, bottom.mean)
    }
}

/// The Nelder–Mead simplex method (standard coefficients: reflection 1, expansion 2,
/// contraction ½, shrink ½), for small smooth fits.
public enum NelderMead {
    public static func minimize(
        _ f: ([Double]) -> Double, start: [Double], steps: [Double], iterations: Int = 2_000, tolerance: Double = 1e-14
    ) -> [Double] {
        let n = start.count
        var simplex = [start]
        for i in 0..<n {
            var vertex = start
            vertex[i] += steps[i]
            simplex.append(vertex)
        }
        var values = simplex.map(f)
        for _ in 0..<iterations {
            let order = values.indices.sorted { values[$0] < values[$1] }
            simplex = order.map { simplex[$0] }
            values = order.map { values[$0] }
            if abs(values[n] - values[0]) <= tolerance * (abs(values[0]) + 1e-300) { break }
            let centroid = (0..<n).map { j in simplex[0..<n].reduce(0) { $0 + $1[j] } / Double(n) }
            func toward(_ t: Double) -> [Double] { (0..<n).map { centroid[$0] + t * (simplex[n][$0] - centroid[$0]) } }
            let reflected = toward(-1)
            let reflectedValue = f(reflected)
            if reflectedValue < values[0] {
                let expanded = toward(-2)
                let expandedValue = f(expanded)
                if expandedValue < reflectedValue {
                    (simplex[n], values[n]) = (expanded, expandedValue)
                } else {
                    (simplex[n], values[n]) = (reflected, reflectedValue)
                }
            } else if reflectedValue < values[n - 1] {
                (simplex[n], values[n]) = (reflected, reflectedValue)
            } else {
                let contracted = reflectedValue < values[n] ? toward(-0.5) : toward(0.5)
                let contractedValue = f(contracted)
                if contractedValue < min(reflectedValue, values[n]) {
                    (simplex[n], values[n]) = (contracted, contractedValue)
                } else {
                    for i in 1...n {
                        simplex[i] = (0..<n).map { simplex[0][$0] + 0.5 * (simplex[i][$0] - simplex[0][$0]) }
                        values[i] = f(simplex[i])
                    }
                }
            }
        }
        let best = values.indices.min { values[$0] < values[$1] }!
        return simplex[best]
    }
}
