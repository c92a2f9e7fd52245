import ReservoirHAL

/// A fault the twin can inject, for tests of the layers above (docs/ring-twin.md).
/// Every fault except `gainJump` and `adcDropout` persists until `RingTwin.clearFaults()`.
public enum TwinFault: Sendable, Equatable {
    /// The gain drift δ jumps by `size` (relative gain).
    case gainJump(size: Double)
    /// Refills overlapping this window time out (the samples in it are lost).
    case adcDropout(duration: Duration)
    /// The ADC repeats its last code.
    case adcStuck
    /// The ADC reads full scale.
    case adcSaturated
    /// DAC pushes and holds fail with EIO.
    case dacFailure
    /// The interlock input is asserted.
    case interlock
    /// The amplifier fails: G → 0.
    case amplifierFailure
    /// The ring noise strength D is multiplied by `factor`.
    case extraNoise(factor: Double)

    /// The name used in parameter files and on the command line.
    public var name: String {
        switch self {
        case .gainJump: return "gain-jump"
        case .adcDropout: return "adc-dropout"
        case .adcStuck: return "adc-stuck"
        case .adcSaturated: return "adc-saturated"
        case .dacFailure: return "dac-failure"
        case .interlock: return "interlock"
        case .amplifierFailure: return "amp-failure"
        case .extraNoise: return "extra-noise"
        }
    }

    /// Every fault name, for messages.
    public static let names = [
        "gain-jump", "adc-dropout", "adc-stuck", "adc-saturated", "dac-failure", "interlock", "amp-failure",
        "extra-noise",
    ]
}

/// A fault and the twin time at which it strikes.
public struct ScheduledFault: Sendable, Equatable {
    /// The fault.
    public var fault: TwinFault
    /// When it strikes, counted from the twin's start.
    public var at: Duration

    /// `fault` at `at`.
    public init(_ fault: TwinFault, at: Duration) {
        self.fault = fault
        self.at = at
    }

    /// Reads one entry of a parameter file's `faults:` list:
    /// `{kind: adc-dropout, at_seconds: 2, duration_seconds: 0.01}`, `{kind: gain-jump, at_seconds: 1, size: 0.01}`,
    /// `{kind: extra-noise, at_seconds: 1, factor: 10}`, or just `kind` and `at_seconds` for the others.
    public init(parsing node: ConfigNode, source: String, path: String) throws(ConfigError) {
        let fields = try ConfigMapping(node, file: source, path: path)
        let kind = try fields.choice("kind", from: TwinFault.names)
        at = .seconds(try fields.double("at_seconds", in: 0...1e9))
        switch kind {
        case "gain-jump": fault = .gainJump(size: try fields.double("size", in: -1...1))
        case "adc-dropout": fault = .adcDropout(duration: .seconds(try fields.double("duration_seconds", in: 0...1e9)))
        case "adc-stuck": fault = .adcStuck
        case "adc-saturated": fault = .adcSaturated
        case "dac-failure": fault = .dacFailure
        case "interlock": fault = .interlock
        case "amp-failure": fault = .amplifierFailure
        default: fault = .extraNoise(factor: try fields.double("factor", in: 0...1e6))
        }
        try fields.rejectUnknownFields()
    }
}
