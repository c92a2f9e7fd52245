import RealModule
import ReservoirHAL

/// The twin's physics and converter parameters: its hidden "truth", read from
/// `hardware/twin/*.yaml`. The equations they enter are in `RingSimulator` and
/// docs/ring-twin.md; the analytic results derived from them are the methods below.
public struct TwinParameters: Sendable, Equatable {
    /// Round-trip time of the ring, T_rt, in seconds.
    public var roundTripSeconds: Double
    /// Saturation coefficient β (dimensionless; power is relative to the saturation scale).
    public var saturation: Double
    /// Nonlinear phase ω_nl in rad/s per unit power.
    public var nonlinearPhaseRadiansPerSecond: Double
    /// Noise strength D in 1/s (power units per second).
    public var noiseStrengthPerSecond: Double

    /// Attenuator curve G_vca(V) = g_min + (g_max − g_min)/(1 + exp(−(V − V_mid)/V_width)).
    public struct Attenuator: Sendable, Equatable {
        public var gainMin: Double
        public var gainMax: Double
        public var midVolts: Double
        public var widthVolts: Double

        public init(gainMin: Double, gainMax: Double, midVolts: Double, widthVolts: Double) {
            self.gainMin = gainMin
            self.gainMax = gainMax
            self.midVolts = midVolts
            self.widthVolts = widthVolts
        }
    }
    /// The voltage-controlled attenuator.
    public var attenuator: Attenuator
    /// Cut-off of the DAC's single-pole reconstruction filter, f_dac.
    public var dacFilterHertz: Double

    /// Ornstein–Uhlenbeck gain drift δ: stationary std and time constant.
    public var driftStd: Double
    /// Time constant of the gain drift, τ_drift, in seconds.
    public var driftTimeConstantSeconds: Double

    /// Diode detector V_diode = V_max·(1 − exp(−P/P_d)).
    public struct Detector: Sendable, Equatable {
        public var maxVolts: Double
        public var powerScale: Double
        /// Cut-off of the video low-pass, f_video.
        public var videoFilterHertz: Double
        /// White detector noise per sample, σ_det.
        public var noiseVoltsRMS: Double
    }
    /// The detector chain.
    public var detector: Detector

    /// A converter's nominal scale and its errors: volts_true = (1 + gainError)·volts_nominal + offset.
    public struct Converter: Sendable, Equatable {
        public var format: ConverterFormat
        public var gainError: Double
        public var offsetVolts: Double
    }
    /// The ADC, with its pipeline latency L in samples.
    public var adc: Converter
    /// ADC pipeline latency L: a sample is delivered L samples after the DAC sample that caused it.
    public var adcLatencySamples: Int
    /// The DAC.
    public var dac: Converter
    /// The shared converter sample clock f_s.
    public var sampleRate: Hertz
    /// Integration substeps M per ADC sample.
    public var substeps: Int
    /// Whether to integrate the envelope's phase (nothing in the readout depends on it).
    public var tracksPhase: Bool
    /// Faults scheduled by the parameter file.
    public var faults: [ScheduledFault]
    /// The hold time of the retriggerable monostable that gates the amplifier, when one is
    /// fitted (`heartbeat_hold_ms`): the amplifier conducts only within this time of the last
    /// heartbeat edge. nil: no monostable, the amplifier follows `amp_enable` alone.
    public var heartbeatHold: Duration?

    // MARK: Analytic results (the twin's tests and `twin characterize` compare against these)

    /// G_vca at a filtered DAC voltage (the attenuator curve), drift and GPIO aside.
    public func attenuatorGain(atVolts volts: Double) -> Double {
        let a = attenuator
        return a.gainMin + (a.gainMax - a.gainMin) / (1 + .exp(-(volts - a.midVolts) / a.widthVolts))
    }

    /// The DAC output voltage at which G_vca = `gain`: V_mid − V_width·ln((g_max − g_min)/(G − g_min) − 1).
    public func attenuatorVolts(forGain gain: Double) -> Double {
        let a = attenuator
        precondition(gain > a.gainMin && gain < a.gainMax, "gain \(gain) is outside the attenuator's range")
        return a.midVolts - a.widthVolts * .log((a.gainMax - a.gainMin) / (gain - a.gainMin) - 1)
    }

    /// The voltage to request from the DAC so that it outputs `outputVolts`, undoing its gain
    /// and offset errors: V_request = (V_out − offset)/(1 + ε).
    public func dacRequestVolts(forOutputVolts outputVolts: Double) -> Double {
        (outputVolts - dac.offsetVolts) / (1 + dac.gainError)
    }

    /// The requested DAC voltage that sets the loop gain to `gain` (drift aside).
    public func dacRequestVolts(forGain gain: Double) -> Double {
        dacRequestVolts(forOutputVolts: attenuatorVolts(forGain: gain))
    }

    /// Threshold (G = 1) as a requested DAC voltage.
    public var thresholdRequestVolts: Double { dacRequestVolts(forGain: 1) }

    /// Relaxation time of the detected power: T_rt/(2|1 − G|) (below and above threshold).
    public func powerRelaxationSeconds(gain: Double) -> Double {
        roundTripSeconds / (2 * abs(1 - gain))
    }

    /// Mean power below threshold: P_floor = D·T_rt/(2(1 − G)).
    public func noiseFloorPower(gain: Double) -> Double {
        precondition(gain < 1, "the noise floor is defined below threshold")
        return noiseStrengthPerSecond * roundTripSeconds / (2 * (1 - gain))
    }

    /// Mean power well above threshold: P = (G − 1)/β.
    public func saturationPower(gain: Double) -> Double {
        precondition(gain > 1, "saturation is defined above threshold")
        return (gain - 1) / saturation
    }

    /// The detector voltage for a power: V_max·(1 − exp(−P/P_d)).
    public func diodeVolts(power: Double) -> Double {
        -detector.maxVolts * .expMinusOne(-power / detector.powerScale)
    }

    /// The power that gives a video voltage (the diode curve inverted): −P_d·ln(1 − V/V_max).
    public func power(videoVolts: Double) -> Double {
        let ratio = min(videoVolts / detector.maxVolts, 1 - 1e-12)
        return -detector.powerScale * .log(onePlus: -ratio)
    }
}

extension TwinParameters {
    /// Reads and validates a twin parameter file already parsed into `root`.
    public init(parsing root: ConfigNode, source: String) throws(ConfigError) {
        let top = try ConfigMapping(root, file: source)

        let ring = try top.mapping("ring")
        roundTripSeconds = try ring.double("round_trip_seconds", in: 1e-9...1e-3)
        saturation = try ring.double("saturation_beta", in: 1e-6...1e6)
        nonlinearPhaseRadiansPerSecond = try ring.double("nonlinear_phase_rad_per_second", in: -1e12...1e12)
        noiseStrengthPerSecond = try ring.double("noise_strength_per_second", in: 0...1e12)
        try ring.rejectUnknownFields()

        let curve = try top.mapping("attenuator")
        attenuator = Attenuator(
            gainMin: try curve.double("gain_min", in: 0...10), gainMax: try curve.double("gain_max", in: 0...10),
            midVolts: try curve.double("mid_volts", in: -100...100),
            widthVolts: try curve.double("width_volts", in: 1e-6...100))
        guard attenuator.gainMin < attenuator.gainMax else {
            throw curve.inconsistency(
                "gain_max", found: "\(attenuator.gainMax) (gain_min is \(attenuator.gainMin))",
                expected: "a value above gain_min")
        }
        try curve.rejectUnknownFields()
        dacFilterHertz = try top.double("dac_filter_hz", in: 1...1e12)

        let drift = try top.mapping("gain_drift")
        driftStd = try drift.double("std", in: 0...1)
        driftTimeConstantSeconds = try drift.double("time_constant_seconds", in: 1e-6...1e9)
        try drift.rejectUnknownFields()

        let diode = try top.mapping("detector")
        detector = Detector(
            maxVolts: try diode.double("max_volts", in: 1e-6...100),
            powerScale: try diode.double("power_scale", in: 1e-9...1e9),
            videoFilterHertz: try diode.double("video_filter_hz", in: 1...1e12),
            noiseVoltsRMS: try diode.double("noise_volts_rms", in: 0...100))
        try diode.rejectUnknownFields()

        let adcFields = try top.mapping("adc")
        adc = try Self.converter(adcFields)
        adcLatencySamples = try adcFields.int("latency_samples", in: 0...4096)
        try adcFields.rejectUnknownFields()
        let dacFields = try top.mapping("dac")
        dac = try Self.converter(dacFields)
        try dacFields.rejectUnknownFields()

        sampleRate = Hertz(try top.double("sample_rate_hz", in: 1...1e9))
        substeps = try top.int("substeps", in: 1...1024)
        tracksPhase = try top.bool("track_phase", default: false)
        heartbeatHold = try top.optionalDouble("heartbeat_hold_ms", in: 0.001...60_000).map {
            Duration.nanoseconds(Int64(($0 * 1e6).rounded()))
        }
        faults = try top.list("faults").enumerated().map { (index, node) throws(ConfigError) in
            try ScheduledFault(parsing: node, source: source, path: "faults[\(index)]")
        }
        try top.rejectUnknownFields()
    }

    private static func converter(_ fields: ConfigMapping) throws(ConfigError) -> Converter {
        Converter(
            format: ConverterFormat(
                bits: try fields.int("bits", in: 1...32),
                reference: Volts(try fields.double("reference_volts", in: 0.001...100))),
            gainError: try fields.double("gain_error", in: -0.5...0.5),
            offsetVolts: try fields.double("offset_volts", in: -10...10))
    }
}
