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
    let parameters: TwinParameters
    /// dt = 1/(M·f_s).
    private let substepSeconds: Double
    private let inverseRoundTrip: Double
    private let dacFilterWeight: Double
    private let videoFilterWeight: Double
    /// Drift is advanced once per this many samples with the exact OU transition; τ_drift is
    /// tens of seconds, so holding δ for ~0.3 ms changes nothing measurable.
    static let driftUpdateSamples = 64
    private let driftDecay: Double
    private let driftKick: Double
    private let adcLSB: Double
    private let adcScale: Double
    private let adcMaximumCode: Double

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
    private var growth: Double = 1  // e^{2a·dt}
    private var saturationTerm: Double = 0  // b·(e^{2a·dt} − 1)/a
    private var noiseAmplitude: Double = 0  // std of each quadrature's increment

    /// Amplifier enabled and loop closed (else G = 0).
    var gainGateOpen = false { didSet { coefficientVolts = .nan } }
    /// Amplifier failure fault (G = 0).
    var amplifierFailed = false { didSet { coefficientVolts = .nan } }
    /// Extra-noise fault: D is multiplied by this.
    var noiseFactor = 1.0 { didSet { coefficientVolts = .nan } }
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
        self.parameters = parameters
        let fs = parameters.sampleRate.value
        substepSeconds = 1 / (Double(parameters.substeps) * fs)
        inverseRoundTrip = 1 / parameters.roundTripSeconds
        dacFilterWeight = -Double.expMinusOne(-2 * .pi * parameters.dacFilterHertz * substepSeconds)
        videoFilterWeight = -Double.expMinusOne(-2 * .pi * parameters.detector.videoFilterHertz * substepSeconds)
        let driftStep = Double(Self.driftUpdateSamples) / fs / parameters.driftTimeConstantSeconds
        driftDecay = Double.exp(-driftStep)
        driftKick = parameters.driftStd * (-Double.expMinusOne(-2 * driftStep)).squareRoot()
        adcLSB = parameters.adc.format.leastSignificantBit.value
        adcScale = (1 + parameters.adc.gainError) / adcLSB
        adcMaximumCode = Double(parameters.adc.format.maximumCode)
        filteredDACVolts = initialDACVolts
        // Independent streams per noise source: changing one source's use never shifts another's.
        ringNoise = GaussianSource(seed: seed, stream: 1)
        detectorNoise = GaussianSource(seed: seed, stream: 2)
        driftNoise = GaussianSource(seed: seed, stream: 3)
        latencyLine = .allocate(capacity: max(parameters.adcLatencySamples, 1))
        let restingCode = Int32((parameters.adc.offsetVolts / adcLSB).rounded())
        latencyLine.initialize(repeating: restingCode)
        lastCode = restingCode
    }

    /// Frees the latency line; called once by the owner.
    func deallocate() { latencyLine.deallocate() }

    /// The loop gain at the current filtered DAC voltage, drift and gate state.
    private func currentGain() -> Double {
        guard gainGateOpen, !amplifierFailed else { return 0 }
        return parameters.attenuatorGain(atVolts: filteredDACVolts) * (1 + drift)
    }

    private mutating func updateCoefficients() {
        coefficientVolts = filteredDACVolts
        gain = currentGain()
        let a = (gain - 1) * inverseRoundTrip
        let b = parameters.saturation * inverseRoundTrip
        let twoADt = 2 * a * substepSeconds
        growth = Double.exp(twoADt)
        // (e^{2a·dt} − 1)/a, continuous through a = 0 where it tends to 2·dt.
        let q = abs(twoADt) < 1e-12 ? 2 * substepSeconds : Double.expMinusOne(twoADt) / a
        saturationTerm = b * q
        let noiseStrength = parameters.noiseStrengthPerSecond * noiseFactor
        let variance = a < 0 ? noiseStrength * q / 2 : noiseStrength * substepSeconds
        noiseAmplitude = (variance / 2).squareRoot()
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
        let maxVolts = parameters.detector.maxVolts
        let inversePowerScale = 1 / parameters.detector.powerScale
        for _ in 0..<parameters.substeps {
            // DAC reconstruction filter (exact for a held input); snaps when converged so a
            // constant drive stops forcing coefficient updates.
            filteredDACVolts += (dacOutputVolts - filteredDACVolts) * dacFilterWeight
            if abs(dacOutputVolts - filteredDACVolts) < 1e-9 { filteredDACVolts = dacOutputVolts }
            if filteredDACVolts != coefficientVolts { updateCoefficients() }

            // Exact amplitude step, then the noise increment.
            let scale = (growth / (1 + saturationTerm * power)).squareRoot()
            x *= scale
            y *= scale
            if parameters.tracksPhase {
                let angle = parameters.nonlinearPhaseRadiansPerSecond * power * scale * scale * substepSeconds
                let (c, s) = (Double.cos(angle), Double.sin(angle))
                (x, y) = (x * c - y * s, x * s + y * c)
            }
            x += noiseAmplitude * ringNoise.next()
            y += noiseAmplitude * ringNoise.next()
            power = x * x + y * y

            // Diode and video filter.
            let diodeVolts = -maxVolts * Double.expMinusOne(-power * inversePowerScale)
            videoVolts += (diodeVolts - videoVolts) * videoFilterWeight
        }
        let measured = videoVolts + parameters.detector.noiseVoltsRMS * detectorNoise.next()
        let code = convert(measured)
        guard latencyLine.count > 0, parameters.adcLatencySamples > 0 else { return code }
        let delivered = latencyLine[latencyIndex]
        latencyLine[latencyIndex] = code
        latencyIndex += 1
        if latencyIndex == parameters.adcLatencySamples { latencyIndex = 0 }
        return delivered
    }

    /// The ADC transfer: gain and offset errors, rounding to the nearest code, clamping, and
    /// the stuck/saturated fault modes.
    @inline(__always)
    private mutating func convert(_ volts: Double) -> Int32 {
        switch adcMode {
        case .normal:
            let raw = (volts * adcScale + parameters.adc.offsetVolts / adcLSB).rounded()
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
