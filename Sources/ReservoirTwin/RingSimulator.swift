import FastMath
import RealModule
import ReservoirHAL
import SeededRandom

/// The ring and its readout chain, one ADC sample at a time (docs/ring-twin.md).
///
/// Envelope (mean-field Stuart–Landau with gain control), power P = |A|²:
///
///     dA/dt = [(G − 1) − β|A|²]/T_rt · A + i·ω_nl·|A|²·A + √D·ξ(t),   E|ξ dt|² = dt
///
/// Per ADC sample, M substeps of dt = 1/(M·f_s) with G frozen within a substep:
/// 1. the exact deterministic step for constant G (Bernoulli equation in P), with
///    a = (G − 1)/T_rt, b = β/T_rt:  P' = P·e^{2a·dt} / (1 + b·P·(e^{2a·dt} − 1)/a);
///    A is scaled by √(P'/P) (and rotated by ω_nl·P'·dt when the phase is tracked);
/// 2. complex Gaussian noise of variance D·(e^{2a·dt} − 1)/(2a) for a < 0 (the exact
///    Ornstein–Uhlenbeck increment, so the floor D·T_rt/(2(1 − G)) is exact), D·dt otherwise.
///
/// Readout: V_diode = V_max(1 − e^{−P/P_d}); single-pole video filter; detector noise σ_det
/// per sample; ADC = round(((1 + ε_adc)·V + offset)/LSB) clamped to [0, 2^N − 1], delivered L
/// samples late. The DAC output reaches the attenuator through a single-pole filter (f_dac).
///
/// The struct is value-typed on purpose: the owning board copies it into a local for each
/// run of samples, so the hot loop works on registers and the stack, not on class storage.
struct RingSimulator {
    // Every constant the loop needs, flattened into plain stored doubles: the struct is then
    // trivially copyable (no references to retain, nothing for the optimizer to memmove).
    /// dt = 1/(M·f_s).
    private let substepSeconds: Double
    private let substeps: Int
    private let inverseRoundTrip: Double
    private let saturationRate: Double  // b = β/T_rt
    private let noiseStrength: Double  // D
    private let phaseRate: Double  // ω_nl
    private let tracksPhase: Bool
    private let gainMin: Double
    private let gainSpan: Double  // g_max − g_min
    private let midVolts: Double
    private let inverseWidthVolts: Double
    private let dacFilterWeight: Double
    private let videoFilterWeight: Double
    private let diodeMaxVolts: Double
    private let inverseDiodePowerScale: Double
    private let detectorNoiseVolts: Double
    /// Drift is advanced once per this many samples with the exact OU transition; τ_drift is
    /// tens of seconds, so holding δ for ~0.3 ms changes nothing measurable.
    static let driftUpdateSamples = 64
    private let driftDecay: Double
    private let driftKick: Double
    private let adcScale: Double
    private let adcOffsetCodes: Double
    private let adcMaximumCode: Double
    private let latencySamples: Int
    private let exp = FastExp()

    // Envelope A = x + i·y and its power.
    private(set) var x: Double = 0
    private(set) var y: Double = 0
    private(set) var power: Double = 0
    /// DAC output after the reconstruction filter, V_f.
    private(set) var filteredDACVolts: Double
    /// Relative gain drift δ.
    private(set) var drift: Double = 0
    private var videoVolts: Double = 0

    // Coefficients for the current loop gain (recomputed when V_f, δ or the gate change).
    private var coefficientVolts: Double = .nan
    private(set) var gain: Double = 0
    private var coefficients = Coefficients(growth: 1, saturationTerm: 0, noiseAmplitude: 0)
    /// The coefficients of each substep of the sample being simulated.
    private let substepCoefficients: UnsafeMutableBufferPointer<Coefficients>

    /// What one substep of the envelope needs from the loop gain.
    struct Coefficients {
        /// e^{2a·dt}
        var growth: Double
        /// b·(e^{2a·dt} − 1)/a
        var saturationTerm: Double
        /// Standard deviation of each quadrature's noise increment.
        var noiseAmplitude: Double
    }

    /// Amplifier enabled and loop closed (else G = 0).
    var gainGateOpen = false { didSet { coefficientVolts = .nan } }
    /// Amplifier failure fault (G = 0).
    var amplifierFailed = false { didSet { coefficientVolts = .nan } }
    /// Extra-noise fault: D is multiplied by this.
    var noiseFactor = 1.0 {
        didSet {
            coefficientVolts = .nan
            aboveThresholdNoiseAmplitude = (noiseStrength * noiseFactor * substepSeconds / 2).squareRoot()
        }
    }
    /// √(D·dt/2): each quadrature's noise amplitude at and above threshold.
    private var aboveThresholdNoiseAmplitude: Double
    /// ADC fault modes.
    enum ADCMode { case normal, stuck, saturated }
    var adcMode = ADCMode.normal

    private var ringNoise: GaussianSource
    private var detectorNoise: GaussianSource
    private var driftNoise: GaussianSource
    private var samplesUntilDriftUpdate = RingSimulator.driftUpdateSamples

    /// ADC pipeline: the last L codes, oldest first at `latencyIndex`.
    private let latencyLine: UnsafeMutableBufferPointer<Int32>
    private var latencyIndex = 0
    private var lastCode: Int32 = 0

    init(parameters: TwinParameters, seed: UInt64, initialDACVolts: Double) {
        let fs = parameters.sampleRate.value
        substeps = parameters.substeps
        substepSeconds = 1 / (Double(parameters.substeps) * fs)
        inverseRoundTrip = 1 / parameters.roundTripSeconds
        saturationRate = parameters.saturation / parameters.roundTripSeconds
        noiseStrength = parameters.noiseStrengthPerSecond
        phaseRate = parameters.nonlinearPhaseRadiansPerSecond
        tracksPhase = parameters.tracksPhase
        gainMin = parameters.attenuator.gainMin
        gainSpan = parameters.attenuator.gainMax - parameters.attenuator.gainMin
        midVolts = parameters.attenuator.midVolts
        inverseWidthVolts = 1 / parameters.attenuator.widthVolts
        dacFilterWeight = -Double.expMinusOne(-2 * .pi * parameters.dacFilterHertz * substepSeconds)
        videoFilterWeight = -Double.expMinusOne(-2 * .pi * parameters.detector.videoFilterHertz * substepSeconds)
        diodeMaxVolts = parameters.detector.maxVolts
        inverseDiodePowerScale = 1 / parameters.detector.powerScale
        detectorNoiseVolts = parameters.detector.noiseVoltsRMS
        let driftStep = Double(Self.driftUpdateSamples) / fs / parameters.driftTimeConstantSeconds
        driftDecay = Double.exp(-driftStep)
        driftKick = parameters.driftStd * (-Double.expMinusOne(-2 * driftStep)).squareRoot()
        let adcLSB = parameters.adc.format.leastSignificantBit.value
        adcScale = (1 + parameters.adc.gainError) / adcLSB
        adcOffsetCodes = parameters.adc.offsetVolts / adcLSB
        adcMaximumCode = Double(parameters.adc.format.maximumCode)
        latencySamples = parameters.adcLatencySamples
        aboveThresholdNoiseAmplitude = (noiseStrength * substepSeconds / 2).squareRoot()
        filteredDACVolts = initialDACVolts
        // Independent streams per noise source: changing one source's use never shifts another's.
        ringNoise = GaussianSource(seed: seed, stream: 1)
        detectorNoise = GaussianSource(seed: seed, stream: 2)
        driftNoise = GaussianSource(seed: seed, stream: 3)
        latencyLine = .allocate(capacity: max(parameters.adcLatencySamples, 1))
        substepCoefficients = .allocate(capacity: parameters.substeps)
        substepCoefficients.initialize(repeating: coefficients)
        let restingCode = Int32(min(max(adcOffsetCodes.rounded(), 0), adcMaximumCode))
        latencyLine.initialize(repeating: restingCode)
        lastCode = restingCode
    }

    /// Frees the latency line; called once by the owner.
    func deallocate() {
        latencyLine.deallocate()
        substepCoefficients.deallocate()
    }

    /// The loop gain at filtered DAC voltage `volts` with the present drift and gate state:
    /// G = G_vca(V_f)·(1 + δ), the curve of `TwinParameters.attenuatorGain`.
    @inline(__always)
    private func loopGain(atVolts volts: Double) -> Double {
        guard gainGateOpen, !amplifierFailed else { return 0 }
        let vca = gainMin + gainSpan / (1 + exp(-(volts - midVolts) * inverseWidthVolts))
        return vca * (1 + drift)
    }

    /// The substep coefficients for loop gain `gain`, with a = (G − 1)/T_rt.
    @inline(__always)
    private func coefficients(gain: Double) -> Coefficients {
        let a = (gain - 1) * inverseRoundTrip
        let twoADt = 2 * a * substepSeconds
        let growth = exp(twoADt)
        // q = (e^{2a·dt} − 1)/a. Near threshold (|2a·dt| < 1e-3) the subtraction would cancel,
        // so use its series 2·dt·(1 + x/2 + x²/6 + x³/24), x = 2a·dt (truncation < 1e-14
        // relative); elsewhere reuse e^{2a·dt} rather than pay for a separate expm1.
        let q: Double
        if abs(twoADt) < 1e-3 {
            q = 2 * substepSeconds * (1 + twoADt * (0.5 + twoADt * (1.0 / 6 + twoADt / 24)))
        } else {
            q = (growth - 1) / a
        }
        // At and above threshold the increment's variance is D·dt whatever G is, so its
        // amplitude is a constant and the square root is only paid below threshold.
        let amplitude = a < 0 ? (noiseStrength * noiseFactor * q / 4).squareRoot() : aboveThresholdNoiseAmplitude
        return Coefficients(growth: growth, saturationTerm: saturationRate * q, noiseAmplitude: amplitude)
    }

    /// Adds `size` to the drift (the gain-jump fault).
    mutating func jumpDrift(by size: Double) {
        drift += size
        coefficientVolts = .nan
    }

    /// Simulates one ADC sample period with the DAC outputting `dacOutputVolts`, and returns
    /// the ADC code delivered at the end of it (the sample caused L periods earlier).
    @inline(__always)
    mutating func step(dacOutputVolts: Double) -> Int32 {
        samplesUntilDriftUpdate -= 1
        if samplesUntilDriftUpdate == 0 {
            samplesUntilDriftUpdate = Self.driftUpdateSamples
            if driftKick > 0 {
                drift = drift * driftDecay + driftKick * driftNoise.next()
                coefficientVolts = .nan
            }
        }
        // First the drive side for every substep of the sample: it does not depend on the
        // envelope, so these chains (two exponentials, two divisions, a square root each)
        // are independent and the CPU overlaps them instead of waiting on each in turn.
        for substep in 0..<substeps {
            // DAC reconstruction filter (exact for a held input); snaps when converged so a
            // constant drive stops forcing coefficient updates.
            filteredDACVolts += (dacOutputVolts - filteredDACVolts) * dacFilterWeight
            if abs(dacOutputVolts - filteredDACVolts) < 1e-9 { filteredDACVolts = dacOutputVolts }
            if filteredDACVolts != coefficientVolts {
                coefficientVolts = filteredDACVolts
                gain = loopGain(atVolts: filteredDACVolts)
                coefficients = coefficients(gain: gain)
            }
            substepCoefficients[substep] = coefficients
        }
        // Then the envelope, substep by substep.
        for substep in 0..<substeps {
            let growth = substepCoefficients[substep].growth
            let saturationTerm = substepCoefficients[substep].saturationTerm
            let noiseAmplitude = substepCoefficients[substep].noiseAmplitude
            // Exact amplitude step, then the noise increment.
            let scale = (growth / (1 + saturationTerm * power)).squareRoot()
            x *= scale
            y *= scale
            if tracksPhase {
                let angle = phaseRate * power * scale * scale * substepSeconds
                let (c, s) = (Double.cos(angle), Double.sin(angle))
                (x, y) = (x * c - y * s, x * s + y * c)
            }
            x += noiseAmplitude * ringNoise.next()
            y += noiseAmplitude * ringNoise.next()
            power = x * x + y * y

            // Diode and video filter. 1 − e^{−u} loses at most ~1e-16·V_max absolute to
            // cancellation at small u (far below the detector noise), and exp is about half
            // the price of expm1 here.
            let diodeVolts = diodeMaxVolts * (1 - exp(-power * inverseDiodePowerScale))
            videoVolts += (diodeVolts - videoVolts) * videoFilterWeight
        }
        let measured = videoVolts + detectorNoiseVolts * detectorNoise.next()
        let code = convert(measured)
        guard latencySamples > 0 else { return code }
        let delivered = latencyLine[latencyIndex]
        latencyLine[latencyIndex] = code
        latencyIndex += 1
        if latencyIndex == latencySamples { latencyIndex = 0 }
        return delivered
    }

    /// The ADC transfer: gain and offset errors, rounding to the nearest code, clamping, and
    /// the stuck/saturated fault modes.
    @inline(__always)
    private mutating func convert(_ volts: Double) -> Int32 {
        switch adcMode {
        case .normal:
            let raw = roundedToNearest(volts * adcScale + adcOffsetCodes)
            lastCode = Int32(min(max(raw, 0), adcMaximumCode))
        case .stuck:
            break
        case .saturated:
            lastCode = Int32(adcMaximumCode)
        }
        return lastCode
    }

    /// The envelope's phase arg(A), in radians.
    var phase: Double { Double.atan2(y: y, x: x) }
}
