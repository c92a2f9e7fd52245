import ReservoirHAL
import Synchronization

/// A libiio context, destroyed with its last user.
final class IIOContextHandle {
    let pointer: OpaquePointer
    let uri: String

    init(uri: String, timeoutMilliseconds: UInt32) throws(DeviceError) {
        pointer = try IIOCalls.createContext(uri: uri)
        self.uri = uri
        do { try IIOCalls.setTimeout(pointer, milliseconds: timeoutMilliseconds) } catch {
            IIOCalls.destroyContext(pointer)
            throw error
        }
    }

    deinit { IIOCalls.destroyContext(pointer) }
}

/// One converter channel of a board file in a libiio context: device and channel looked up
/// by the file's names, and a block buffer for streaming.
final class IIOChannel {
    let context: IIOContextHandle
    let device: OpaquePointer
    let channel: OpaquePointer
    let name: String
    let format: ConverterFormat
    let output: Bool
    /// The kernel's scale, when the channel reports one: value = (code + offset)·scale, the
    /// IIO ABI's (`scale` in millivolts per code for a voltage channel). Without it, codes
    /// convert at the board file's nominal scale (reference / 2^bits).
    let kernelScale: (offset: Double, voltsPerCode: Double)?
    /// Whether stored codes are two's complement (a bipolar converter).
    let signed: Bool
    /// The board file's device attributes for a stream (`device_attributes:`).
    let deviceAttributes: [BoardDescription.Converter.DeviceAttribute]

    init(context: IIOContextHandle, converter: BoardDescription.Converter, output: Bool) throws(DeviceError) {
        self.context = context
        device = try IIOCalls.device(context.pointer, named: converter.device)
        channel = try IIOCalls.channel(device, id: converter.channel, output: output)
        name = converter.device
        format = converter.format
        self.output = output
        deviceAttributes = converter.deviceAttributes
        let found = channel
        kernelScale = IIOCalls.number(found, attribute: "scale").flatMap { millivolts in
            millivolts > 0 ? (IIOCalls.number(found, attribute: "offset") ?? 0, millivolts / 1000) : nil
        }
        signed = IIOCalls.sampleFormat(found).signed
    }

    /// The volts a stored code stands for.
    @inline(__always)
    func volts(forStored stored: UInt16) -> Volts {
        let code = signed ? Int(Int16(bitPattern: stored)) : Int(stored)
        guard let scale = kernelScale else { return format.volts(forCode: code) }
        return Volts((Double(code) + scale.offset) * scale.voltsPerCode)
    }

    /// The code that stands nearest `volts`, within the converter's codes.
    @inline(__always)
    func code(forVolts volts: Volts) -> Int {
        guard let scale = kernelScale else { return format.code(forVolts: volts) }
        let code = (volts.value / scale.voltsPerCode - scale.offset).rounded()
        return Int(min(max(code, 0), Double(format.maximumCode)))
    }

    /// Before a stream opens: the board file's device attributes in file order; without a
    /// `sampling_frequency` among them, the board's rate to a device that has the attribute.
    /// Each is written only when it differs and is read back: a driver that rounds a rate by
    /// more than 0.5 % (or keeps another text) is an error naming both values.
    func configureForStream(sampleRate: Hertz) throws(DeviceError) {
        let label = "\(output ? "DAC" : "ADC") \"\(name)\""
        for attribute in deviceAttributes {
            try Self.ensure(attribute.name, is: attribute.value, of: device, named: label)
        }
        if !deviceAttributes.contains(where: { $0.name == "sampling_frequency" }),
            IIOCalls.hasAttribute(device, "sampling_frequency")
        {
            try Self.ensure("sampling_frequency", is: "\(Int(sampleRate.value.rounded()))", of: device, named: label)
        }
    }

    static func ensure(_ attribute: String, is wanted: String, of device: OpaquePointer, named label: String)
        throws(DeviceError)
    {
        let operation = "set \(attribute) of \(label) to \(wanted)"
        func matches(_ text: String) -> Bool {
            let found = text.trimmingWhitespace
            if let value = Double(found), let target = Double(wanted) {
                return abs(value - target) <= 0.005 * max(abs(target), 1e-12)
            }
            return found == wanted[...]
        }
        func current() throws(DeviceError) -> String {
            try IIOCalls.readAttribute(device, channel: nil, attribute: attribute, operation: operation)
        }
        if matches(try current()) { return }
        try IIOCalls.writeAttribute(device, channel: nil, attribute: attribute, value: wanted, operation: operation)
        let actual = try current()
        guard matches(actual) else {
            throw DeviceError(
                .invalidRequest, operation: operation,
                detail: "the driver kept \(actual.trimmingWhitespace); give the board file a value it supports")
        }
    }

    /// Enables the channel and creates a buffer of `samples` (libiio: one per stream; a cyclic
    /// one repeats its first push). ringlab streams 16-bit samples.
    func openBuffer(samples: Int, cyclic: Bool = false) throws(DeviceError) -> IIOBlockBuffer {
        let storage = IIOCalls.sampleFormat(channel)
        guard storage.storageBytes == 2 else {
            throw DeviceError(
                .invalidRequest, operation: "open the stream of \(output ? "DAC" : "ADC") \"\(name)\"",
                detail: "the channel stores \(storage.storageBytes) bytes a sample, expected 2 (16-bit storage)"
                    + (storage.storageBytes == 0 ? ": it is not a scan element (no buffer)" : ""))
        }
        // ringlab's DAC codes are straight binary (0 … 2^bits − 1): a two's-complement DAC
        // (the ADALM2000's) would play them as wrong levels, so it is refused, not driven.
        guard !(output && storage.signed) else {
            throw DeviceError(
                .invalidRequest, operation: "open the stream of DAC \"\(name)\"",
                detail: "the channel takes signed (two's-complement) codes; ringlab's DAC codes are straight binary")
        }
        IIOCalls.enable(channel)
        let buffer = try IIOCalls.createBuffer(
            device, samples: samples, cyclic: cyclic,
            operation: "open the \(cyclic ? "cyclic " : "")stream of \(output ? "DAC" : "ADC") \"\(name)\"")
        return IIOBlockBuffer(channel: self, buffer: buffer, samplesPerBlock: samples)
    }
}

/// An open stream of one channel: refilled (ADC) or pushed (DAC) a block at a time, as u16
/// codes converted at the converter's nominal scale.
final class IIOBlockBuffer: AnalogInputStream, AnalogOutputStream, CyclicOutput {
    let channel: IIOChannel
    private var buffer: OpaquePointer?
    let samplesPerBlock: Int
    private let codes: UnsafeMutableBufferPointer<UInt16>

    init(channel: IIOChannel, buffer: OpaquePointer, samplesPerBlock: Int) {
        self.channel = channel
        self.buffer = buffer
        self.samplesPerBlock = samplesPerBlock
        codes = .allocate(capacity: samplesPerBlock)
        codes.initialize(repeating: 0)
    }

    deinit {
        close()
        codes.deallocate()
    }

    private func openBuffer(count: Int, operation: String) throws(DeviceError) -> OpaquePointer {
        guard let buffer, count == samplesPerBlock else {
            throw DeviceError(
                .invalidRequest, operation: operation,
                detail: buffer == nil
                    ? "the stream is closed" : "a block of \(count) samples, expected \(samplesPerBlock)")
        }
        return buffer
    }

    // Built once: an interpolated string allocates, and these run every period.
    private lazy var refillOperation = "refill of ADC \"\(channel.name)\""
    private lazy var pushOperation = "push to DAC \"\(channel.name)\""

    func refill(_ block: UnsafeMutableBufferPointer<Volts>) throws(DeviceError) {
        let operation = refillOperation
        let buffer = try openBuffer(count: block.count, operation: operation)
        try IIOCalls.refill(buffer, channel: channel.channel, into: codes, operation: operation)
        for index in 0..<samplesPerBlock { block[index] = channel.volts(forStored: codes[index]) }
    }

    func push(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError) {
        let operation = pushOperation
        let buffer = try openBuffer(count: block.count, operation: operation)
        for index in 0..<samplesPerBlock { codes[index] = UInt16(truncatingIfNeeded: channel.code(forVolts: block[index])) }
        try IIOCalls.push(buffer, channel: channel.channel, codes: UnsafeBufferPointer(codes), operation: operation)
    }

    func cancel() {
        if let open = buffer { IIOCalls.cancel(open) }
    }

    func close() {
        guard let open = buffer else { return }
        IIOCalls.destroyBuffer(open)
        IIOCalls.disable(channel.channel)
        buffer = nil
    }
}

/// The ADC of a board file, through libiio: one input channel streamed in blocks.
final class IIOADC: AnalogInput {
    let channel: IIOChannel
    let sampleRate: Hertz
    /// The trigger device that clocks the buffer, looked up when the board opens.
    let trigger: OpaquePointer?
    let triggerName: String?
    var format: ConverterFormat { channel.format }

    init(context: IIOContextHandle, converter: BoardDescription.Converter, sampleRate: Hertz) throws(DeviceError) {
        channel = try IIOChannel(context: context, converter: converter, output: false)
        self.sampleRate = sampleRate
        triggerName = converter.trigger
        trigger = try converter.trigger.map { name throws(DeviceError) in
            let device = try IIOCalls.device(context.pointer, named: name)
            guard IIOCalls.isTrigger(device) else {
                throw DeviceError(
                    .invalidRequest, operation: "find the trigger \"\(name)\" of ADC \"\(converter.device)\"",
                    detail: "\"\(name)\" is an IIO device but not a trigger")
            }
            return device
        }
    }

    func openStream(samplesPerBlock: Int) throws(DeviceError) -> any AnalogInputStream {
        try setSampleClock()
        return try channel.openBuffer(samples: samplesPerBlock)
    }

    /// Clocks the ADC at the board's rate before its buffer opens: the trigger's
    /// `sampling_frequency` and the device's trigger when the board file names one (an
    /// hrtimer trigger for an SPI converter: one interrupt a sample), then the device's own
    /// attributes (`IIOChannel.configureForStream`).
    func setSampleClock() throws(DeviceError) {
        if let trigger, let triggerName {
            try IIOChannel.ensure(
                "sampling_frequency", is: "\(Int(sampleRate.value.rounded()))", of: trigger,
                named: "trigger \"\(triggerName)\"")
            try IIOCalls.setTrigger(
                channel.device, trigger, operation: "clock ADC \"\(channel.name)\" from trigger \"\(triggerName)\"")
        }
        try channel.configureForStream(sampleRate: sampleRate)
    }

    /// The channel's `raw` attribute: one conversion by the driver.
    func readOnce() throws(DeviceError) -> Volts {
        let operation = "read ADC \"\(channel.name)\" raw"
        let text = try IIOCalls.readAttribute(channel.device, channel: channel.channel, attribute: "raw", operation: operation)
        let lowest = channel.signed ? -(format.codeCount / 2) : 0
        let highest = channel.signed ? format.codeCount / 2 - 1 : format.maximumCode
        guard let code = Int(text.trimmingWhitespace), code >= lowest, code <= highest else {
            throw DeviceError(
                .ioFailure, errno: .ioError, operation: operation,
                detail: "found \"\(text.prefix(40))\", expected a code from \(lowest) to \(highest)")
        }
        return channel.volts(forStored: UInt16(truncatingIfNeeded: code))
    }
}

/// The DAC of a board file, through libiio: a level through the channel's `raw` attribute, or
/// blocks streamed through an output buffer.
final class IIODAC: AnalogOutput {
    let channel: IIOChannel
    let stream: BoardDescription.Converter.Stream
    let sampleRate: Hertz
    /// The last raw stream opened, stopped before `hold` writes: its thread must not write
    /// after. Behind a lock because the watchdog's thread holds the DAC too.
    private let rawStream = Mutex<PacedRawDACStream?>(nil)
    var format: ConverterFormat { channel.format }

    init(context: IIOContextHandle, converter: BoardDescription.Converter, sampleRate: Hertz) throws(DeviceError) {
        channel = try IIOChannel(context: context, converter: converter, output: true)
        stream = converter.stream
        self.sampleRate = sampleRate
        if stream == .raw, !context.uri.hasPrefix("local:") {
            throw DeviceError(
                .invalidRequest, operation: "open DAC \"\(converter.device)\" with stream: raw",
                detail: "a raw stream writes the kernel's sysfs file, so the board's uri must be local:, found \(context.uri)")
        }
    }

    func hold(_ level: Volts) throws(DeviceError) {
        rawStream.withLock { $0?.cancel() }
        try IIOCalls.writeAttribute(
            channel.device, channel: channel.channel, attribute: "raw", value: "\(channel.code(forVolts: level))",
            operation: "hold DAC \"\(channel.name)\" at \(level)")
    }

    func openStream(samplesPerBlock: Int) throws(DeviceError) -> any AnalogOutputStream {
        guard stream == .raw else {
            try channel.configureForStream(sampleRate: sampleRate)
            return try channel.openBuffer(samples: samplesPerBlock)
        }
        let opened = try PacedRawDACStream(
            channel: channel, path: IIOCalls.sysfsPath(channel.device, channel.channel, attribute: "raw"),
            samplesPerBlock: samplesPerBlock, sampleRate: sampleRate,
            capacityBlocks: PacedRawDACStream.queuedBlocks)
        rawStream.withLock { $0 = opened }
        return opened
    }

    func playCyclic(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError) -> any CyclicOutput {
        try channel.configureForStream(sampleRate: sampleRate)
        let buffer = try channel.openBuffer(samples: block.count, cyclic: true)
        try buffer.push(block)
        return buffer
    }
}

/// Boards whose converters are reached through libiio, and their GPIO roles through libgpiod
/// (or, routed so, through IIO attributes).
public enum IIOBoard {
    /// The board `wiring` describes, its backend `iio` at `uri`. Every device, channel and line
    /// the file names is looked up now: a missing one is an error naming it.
    public static func make(
        wiring: BoardDescription, uri: String, clock: any BoardClock, timeoutMilliseconds: UInt32 = 5_000
    )
        throws(DeviceError) -> Board
    {
        let context = try IIOContextHandle(uri: uri, timeoutMilliseconds: timeoutMilliseconds)
        func line(_ role: String, _ line: BoardDescription.Line, output: Bool) throws(DeviceError)
            -> any DigitalOutputLine & DigitalInputLine
        {
            guard let routed = line.iioAttribute else { return try GPIODLine(role: role, wiring: line, output: output) }
            return try IIOAttributeLine(
                context: context, device: routed.device, attribute: routed.attribute, activeLow: line.activeLow)
        }
        let board = Board(
            wiring: wiring, dac: try IIODAC(context: context, converter: wiring.dac, sampleRate: wiring.sampleRate),
            adc: try IIOADC(context: context, converter: wiring.adc, sampleRate: wiring.sampleRate),
            ampEnable: try line("amp_enable", wiring.gpio.ampEnable, output: true),
            loopClose: try line("loop_close", wiring.gpio.loopClose, output: true),
            trigger: try line("trigger", wiring.gpio.trigger, output: true),
            interlock: try line("interlock", wiring.gpio.interlock, output: false), clock: clock,
            heartbeat: try wiring.gpio.heartbeat.map { wired throws(DeviceError) in
                try line("heartbeat", wired, output: true)
            })
        try board.enterSafeState()
        return board
    }

    /// The GPIO chips and lines of this machine (for `ringlab info`).
    public static func gpioChips() -> [GPIOChipInventory] { GPIODCalls.describeChips() }

    /// Devices, channels and attributes of the context at `uri` (for `ringlab info`).
    public static func describe(uri: String) throws(DeviceError) -> [(
        device: String, channels: [String], attributes: [String]
    )] {
        let context = try IIOContextHandle(uri: uri, timeoutMilliseconds: 5_000)
        return IIOCalls.describe(context.pointer)
    }
}

extension String {
    /// The text without leading and trailing spaces, tabs, newlines and NULs (Foundation-free).
    var trimmingWhitespace: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" || $0 == "\0" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[first...last]
    }
}
