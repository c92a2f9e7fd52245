/// A board file (`hardware/boards/*.yaml`): which backend, the converters and their safe range,
/// and the GPIO roles. Wiring lives in these files, never in code.
public struct BoardDescription: Sendable {
    /// Which implementation of the devices a board file asks for.
    public enum Backend: Sendable, Equatable {
        /// The in-process simulated ring, with the physics in the parameter file at this path.
        case twin(parametersPath: String)
        /// Converters through libiio at `uri` (`local:`, `ip:host[:port]`), GPIO through libgpiod.
        case iio(uri: String)
    }

    /// A converter as wired: IIO device and channel, and its nominal scale.
    public struct Converter: Sendable, Equatable {
        /// IIO device name, label or id.
        public var device: String
        /// IIO channel id (`voltage0`).
        public var channel: String
        /// Resolution and reference voltage.
        public var format: ConverterFormat
        /// The IIO trigger that clocks the ADC's buffer (`trigger:`, an hrtimer trigger's name
        /// for an SPI converter), set to the sample rate when a stream opens; nil: the device
        /// clocks itself (or, on the twin's server, needs no trigger).
        public var trigger: String?
        /// How the DAC streams (`stream:`): through an IIO output buffer (`buffer`, the
        /// default), or one write of the channel's `raw` attribute per change of level, paced
        /// by a thread of ringlab's (`raw`): for drivers with no output buffer, at low rates
        /// only (docs/linux-io.md).
        public var stream: Stream = .buffer
        /// IIO device attributes written, in file order, before a stream opens and read back
        /// (`device_attributes: {sampling_frequency: 100000000, oversampling_ratio: 500}`): a
        /// converter whose rate is a clock divided down. Without `sampling_frequency` here,
        /// ringlab writes the board's sample rate to a device that has the attribute.
        public var deviceAttributes: [DeviceAttribute] = []

        public enum Stream: String, Sendable, Equatable { case buffer, raw }

        /// One IIO device attribute and the text written to it.
        public struct DeviceAttribute: Sendable, Equatable {
            public var name: String
            public var value: String
        }
    }

    /// One GPIO line: chip, offset and polarity — or, routed through IIO, an attribute of an
    /// IIO device that reads and writes 0 or 1 (`{iio_device: ring-control, iio_attribute:
    /// amp_enable}`, as the twin's IIO server presents the GPIO roles).
    public struct Line: Sendable, Equatable {
        /// Chip name, path or label (`gpiochip0`); empty for an IIO attribute.
        public var chip: String
        /// Line offset on the chip.
        public var offset: Int
        /// The line's name on the chip (`gpio-line-names`), looked up instead of the offset.
        public var lineName: String?
        /// Whether the line is asserted at low level.
        public var activeLow: Bool
        /// The IIO device and attribute the line is, when routed through IIO.
        public var iioAttribute: (device: String, attribute: String)? {
            get { iioDevice.map { ($0, iioAttributeName ?? "") } }
            set {
                iioDevice = newValue?.device
                iioAttributeName = newValue?.attribute
            }
        }
        private var iioDevice: String?
        private var iioAttributeName: String?

        public init(chip: String, offset: Int, activeLow: Bool) {
            self.chip = chip
            self.offset = offset
            self.activeLow = activeLow
        }
    }

    /// The GPIO roles the controller uses.
    public struct GPIOWiring: Sendable, Equatable {
        /// Enables the ring's amplifier (output).
        public var ampEnable: Line
        /// Closes the ring's loop (output).
        public var loopClose: Line
        /// Marks period starts (output).
        public var trigger: Line
        /// Reports an unsafe condition (input).
        public var interlock: Line
        /// Toggled once a period by the drive loop (output, optional): the trigger of a
        /// retriggerable monostable that gates the amplifier in hardware.
        public var heartbeat: Line?
    }

    /// The file this description was read from.
    public var source: String
    /// A short name for logs and run records.
    public var name: String
    /// The device's serial number (`serial:`; "unknown" when the file has none): calibrations
    /// are kept per serial, since two boxes of one design differ.
    public var serial: String
    /// The backend the file selects.
    public var backend: Backend
    /// `clock: lock-step`: the devices do not run on the wall clock but one block at a time as
    /// they are asked (the twin behind its IIO server in lock-step), so the controller keeps
    /// no deadlines. Default `wall`.
    public var lockStep: Bool
    /// The converters' shared sample clock.
    public var sampleRate: Hertz
    /// The excitation DAC.
    public var dac: Converter
    /// The level the DAC is held at in the safe state.
    public var safeVolts: Volts
    /// The range every drive value is clamped to before it reaches the DAC.
    public var driveRange: ClosedRange<Volts>
    /// The detector ADC.
    public var adc: Converter
    /// Consecutive periods of one repeated ADC reading that stop a run (`adc: stuck_periods:`;
    /// nil: the loop's default, 0: never — for a simulated converter that reads one fixed code).
    public var adcStuckPeriods: Int?
    /// The GPIO roles.
    public var gpio: GPIOWiring
    /// Where to run the reservoir until a calibration says better, when the file gives one.
    public var operatingPoint: OperatingPoint?

    /// The drive and readout settings of the reservoir on this board (docs/drive-loop.md).
    public struct OperatingPoint: Sendable, Equatable {
        /// V_bias: the drive at a(k) = 0.
        public var biasVolts: Volts
        /// V_span: v = V_bias + V_span·tanh(a).
        public var spanVolts: Volts
        /// Converter latency L: an ADC sample reflects the DAC sample L samples earlier.
        public var latencySamples: Int
        /// The feedback strength η chosen for this board.
        public var feedback: Double

        /// An operating point from its values.
        public init(
            biasVolts: Volts, spanVolts: Volts, latencySamples: Int, feedback: Double
        ) {
            self.biasVolts = biasVolts
            self.spanVolts = spanVolts
            self.latencySamples = latencySamples
            self.feedback = feedback
        }
    }

    /// Reads and validates a board file already parsed into `root`. `source` is the file's path
    /// as the user gave it; relative paths inside the file are resolved against its folder.
    public init(parsing root: ConfigNode, source: String) throws(ConfigError) {
        let top = try ConfigMapping(root, file: source)
        self.source = source
        // Name and serial become folder names (calibration/<name>/<serial>/): letters, digits,
        // '.', '_' and '-' only, so a file cannot steer a write outside its folder.
        name = try top.string("name")
        serial = try top.optionalString("serial") ?? "unknown"
        for (field, value) in [("name", name), ("serial", serial)] where !Self.isSafePathComponent(value) {
            throw top.inconsistency(
                field, found: "\"\(value)\"",
                expected: "1 to 64 letters, digits, '.', '_' or '-', not starting with '.'")
        }
        lockStep =
            try top.optionalString("clock").map { text throws(ConfigError) in
                guard text == "lock-step" || text == "wall" else {
                    throw top.inconsistency("clock", found: "\"\(text)\"", expected: "lock-step or wall")
                }
                return text == "lock-step"
            } ?? false
        switch try top.choice("backend", from: ["twin", "iio"]) {
        case "twin":
            backend = .twin(parametersPath: Self.resolve(try top.string("twin_parameters"), relativeTo: source))
        default:
            backend = .iio(uri: try top.string("uri"))
        }
        sampleRate = Hertz(try top.double("sample_rate_hz", in: 1...1e9))

        let dacFields = try top.mapping("dac")
        dac = try Self.converter(dacFields, sampleRate: sampleRate.value)
        dac.stream = Converter.Stream(rawValue: try dacFields.choice("stream", from: ["buffer", "raw"], default: "buffer"))!
        let reference = dac.format.reference.value
        let minimum = try dacFields.double("min_volts", in: 0...reference)
        let maximum = try dacFields.double("max_volts", in: 0...reference)
        guard minimum < maximum else {
            throw dacFields.inconsistency(
                "max_volts", found: "\(maximum) (min_volts is \(minimum))", expected: "a value above min_volts")
        }
        let safe = try dacFields.double("safe_volts", in: minimum...maximum)
        try dacFields.rejectUnknownFields()
        safeVolts = Volts(safe)
        driveRange = Volts(minimum)...Volts(maximum)

        let adcFields = try top.mapping("adc")
        adc = try Self.converter(adcFields, sampleRate: sampleRate.value)
        adc.trigger = try adcFields.optionalString("trigger")
        adcStuckPeriods = try adcFields.optionalNode("stuck_periods") == nil ? nil : adcFields.int("stuck_periods", in: 0...1_000_000)
        try adcFields.rejectUnknownFields()

        let gpioFields = try top.mapping("gpio")
        gpio = GPIOWiring(
            ampEnable: try Self.line(gpioFields.mapping("amp_enable")),
            loopClose: try Self.line(gpioFields.mapping("loop_close")),
            trigger: try Self.line(gpioFields.mapping("trigger")),
            interlock: try Self.line(gpioFields.mapping("interlock")),
            heartbeat: try gpioFields.optionalMapping("heartbeat").map { fields throws(ConfigError) in
                try Self.line(fields)
            })
        try gpioFields.rejectUnknownFields()

        if let point = try top.optionalMapping("operating_point") {
            operatingPoint = OperatingPoint(
                biasVolts: Volts(try point.double("bias_volts", in: minimum...maximum)),
                spanVolts: Volts(try point.double("span_volts", in: 0...(maximum - minimum))),
                latencySamples: try point.int("latency_samples", in: 0...65536),
                feedback: try point.double("feedback", in: -100...100))
            try point.rejectUnknownFields()
        } else {
            operatingPoint = nil
        }
        try top.rejectUnknownFields()
    }

    private static func converter(_ fields: ConfigMapping, sampleRate: Double) throws(ConfigError) -> Converter {
        let bits = try fields.int("bits", in: 1...32)
        let reference = try fields.double("reference_volts", in: 0.001...100)
        var converter = Converter(
            device: try fields.string("device"), channel: try fields.string("channel"),
            format: ConverterFormat(bits: bits, reference: Volts(reference)))
        guard let attributes = try fields.optionalMapping("device_attributes") else { return converter }
        for name in attributes.keys {
            let value = try attributes.string(name)
            let nameIsPlain = (1...64).contains(name.utf8.count)
                && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
            guard nameIsPlain else {
                throw attributes.inconsistency(name, found: "\"\(name)\"", expected: "an attribute name of a-z, 0-9 and _")
            }
            guard value.utf8.count <= 64, !value.contains("\n") else {
                throw attributes.inconsistency(name, found: "\"\(value.prefix(40))\"", expected: "one line of at most 64 characters")
            }
            converter.deviceAttributes.append(Converter.DeviceAttribute(name: name, value: value))
        }
        // A rate divided down must land on the board's sample rate.
        let named = Dictionary(converter.deviceAttributes.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
        if let text = named["sampling_frequency"] {
            guard let frequency = Double(text), frequency > 0 else {
                throw attributes.inconsistency("sampling_frequency", found: "\"\(text)\"", expected: "a rate in Hz")
            }
            let ratio = named["oversampling_ratio"].flatMap(Double.init) ?? 1
            let effective = frequency / max(ratio, 1)
            guard abs(effective - sampleRate) <= 1e-3 * sampleRate else {
                throw attributes.inconsistency(
                    "sampling_frequency",
                    found: "\(text) Hz / oversampling_ratio \(named["oversampling_ratio"] ?? "1") = \(effective) Hz",
                    expected: "sample_rate_hz (\(sampleRate) Hz) after oversampling")
            }
        }
        return converter
    }

    private static func line(_ fields: ConfigMapping) throws(ConfigError) -> Line {
        var line: Line
        if let device = try fields.optionalString("iio_device") {
            line = Line(chip: "", offset: 0, activeLow: try fields.bool("active_low", default: false))
            line.iioAttribute = (device, try fields.string("iio_attribute"))
        } else if let name = try fields.optionalString("name") {
            line = Line(chip: try fields.string("chip"), offset: 0, activeLow: try fields.bool("active_low"))
            line.lineName = name
        } else {
            line = Line(
                chip: try fields.string("chip"), offset: try fields.int("line", in: 0...65535),
                activeLow: try fields.bool("active_low"))
        }
        try fields.rejectUnknownFields()
        return line
    }

    /// Whether `text` can be one folder name: 1 to 64 of [A-Za-z0-9._-], not starting with '.'.
    public static func isSafePathComponent(_ text: String) -> Bool {
        guard (1...64).contains(text.utf8.count), text.first != "." else { return false }
        return text.utf8.allSatisfy { byte in
            (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 46
                || byte == 95 || byte == 45
        }
    }

    /// `path` as written in a data file, made relative to the folder of `file` unless absolute.
    public static func resolve(_ path: String, relativeTo file: String) -> String {
        guard !path.hasPrefix("/"), let slash = file.lastIndex(of: "/") else { return path }
        // Join, then fold "folder/.." pairs so messages show the path a person would type.
        var parts: [Substring] = []
        for part in (String(file[...slash]) + path).split(separator: "/", omittingEmptySubsequences: false) {
            if part == "..", let last = parts.last, last != "..", !last.isEmpty, last != "." {
                parts.removeLast()
            } else if part != "." || parts.isEmpty {
                parts.append(part)
            }
        }
        return parts.joined(separator: "/")
    }
}
