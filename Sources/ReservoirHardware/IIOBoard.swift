import ReservoirHAL

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

/// The ADC of a board file, through libiio: one input channel streamed in blocks.
final class IIOADC: AnalogInput {
    let context: IIOContextHandle
    let device: OpaquePointer
    let channel: OpaquePointer
    let name: String
    let format: ConverterFormat

    init(context: IIOContextHandle, converter: BoardDescription.Converter) throws(DeviceError) {
        self.context = context
        device = try IIOCalls.device(context.pointer, named: converter.device)
        channel = try IIOCalls.channel(device, id: converter.channel, output: false)
        name = converter.device
        format = converter.format
    }

    func openStream(samplesPerBlock: Int) throws(DeviceError) -> any AnalogInputStream {
        IIOCalls.enable(channel)
        let buffer = try IIOCalls.createBuffer(
            device, samples: samplesPerBlock, operation: "open the stream of ADC \"\(name)\"")
        return IIOInputStream(adc: self, buffer: buffer, samplesPerBlock: samplesPerBlock)
    }
}

final class IIOInputStream: AnalogInputStream {
    let adc: IIOADC
    var buffer: OpaquePointer?
    let samplesPerBlock: Int
    private let codes: UnsafeMutableBufferPointer<UInt16>

    init(adc: IIOADC, buffer: OpaquePointer, samplesPerBlock: Int) {
        self.adc = adc
        self.buffer = buffer
        self.samplesPerBlock = samplesPerBlock
        codes = .allocate(capacity: samplesPerBlock)
        codes.initialize(repeating: 0)
    }

    deinit {
        close()
        codes.deallocate()
    }

    func refill(_ block: UnsafeMutableBufferPointer<Volts>) throws(DeviceError) {
        let operation = "refill of ADC \"\(adc.name)\""
        guard let buffer, block.count == samplesPerBlock else {
            throw DeviceError(
                .invalidRequest, operation: operation,
                detail: buffer == nil
                    ? "the stream is closed" : "a block of \(block.count) samples, expected \(samplesPerBlock)")
        }
        try IIOCalls.refill(buffer, channel: adc.channel, into: codes, operation: operation)
        for index in 0..<samplesPerBlock { block[index] = adc.format.volts(forCode: Int(codes[index])) }
    }

    func close() {
        guard let open = buffer else { return }
        IIOCalls.destroyBuffer(open)
        IIOCalls.disable(adc.channel)
        buffer = nil
    }
}

/// The DAC of a board file, through libiio: a level through the channel's `raw` attribute, or
/// blocks streamed through an output buffer.
final class IIODAC: AnalogOutput {
    let context: IIOContextHandle
    let device: OpaquePointer
    let channel: OpaquePointer
    let name: String
    let format: ConverterFormat

    init(context: IIOContextHandle, converter: BoardDescription.Converter) throws(DeviceError) {
        self.context = context
        device = try IIOCalls.device(context.pointer, named: converter.device)
        channel = try IIOCalls.channel(device, id: converter.channel, output: true)
        name = converter.device
        format = converter.format
    }

    func hold(_ level: Volts) throws(DeviceError) {
        try IIOCalls.writeAttribute(
            device, channel: channel, attribute: "raw", value: "\(format.code(forVolts: level))",
            operation: "hold DAC \"\(name)\" at \(level)")
    }

    func openStream(samplesPerBlock: Int) throws(DeviceError) -> any AnalogOutputStream {
        IIOCalls.enable(channel)
        let buffer = try IIOCalls.createBuffer(
            device, samples: samplesPerBlock, operation: "open the stream of DAC \"\(name)\"")
        return IIOOutputStream(dac: self, buffer: buffer, samplesPerBlock: samplesPerBlock)
    }
}

final class IIOOutputStream: AnalogOutputStream {
    let dac: IIODAC
    var buffer: OpaquePointer?
    let samplesPerBlock: Int
    private let codes: UnsafeMutableBufferPointer<UInt16>

    init(dac: IIODAC, buffer: OpaquePointer, samplesPerBlock: Int) {
        self.dac = dac
        self.buffer = buffer
        self.samplesPerBlock = samplesPerBlock
        codes = .allocate(capacity: samplesPerBlock)
        codes.initialize(repeating: 0)
    }

    deinit {
        close()
        codes.deallocate()
    }

    func push(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError) {
        let operation = "push to DAC \"\(dac.name)\""
        guard let buffer, block.count == samplesPerBlock else {
            throw DeviceError(
                .invalidRequest, operation: operation,
                detail: buffer == nil
                    ? "the stream is closed" : "a block of \(block.count) samples, expected \(samplesPerBlock)")
        }
        for index in 0..<samplesPerBlock { codes[index] = UInt16(dac.format.code(forVolts: block[index])) }
        try IIOCalls.push(buffer, channel: dac.channel, codes: UnsafeBufferPointer(codes), operation: operation)
    }

    func close() {
        guard let open = buffer else { return }
        IIOCalls.destroyBuffer(open)
        IIOCalls.disable(dac.channel)
        buffer = nil
    }
}

/// A GPIO role routed to an IIO device attribute that reads and writes 0 or 1.
final class IIOAttributeLine: DigitalOutputLine, DigitalInputLine {
    let context: IIOContextHandle
    let device: OpaquePointer
    let attribute: String
    let activeLow: Bool

    init(context: IIOContextHandle, device name: String, attribute: String, activeLow: Bool) throws(DeviceError) {
        self.context = context
        device = try IIOCalls.device(context.pointer, named: name)
        self.attribute = attribute
        self.activeLow = activeLow
    }

    func set(_ asserted: Bool) throws(DeviceError) {
        try IIOCalls.writeAttribute(
            device, channel: nil, attribute: attribute, value: asserted != activeLow ? "1" : "0",
            operation: "set line \(attribute)")
    }

    func read() throws(DeviceError) -> Bool {
        let text = try IIOCalls.readAttribute(
            device, channel: nil, attribute: attribute, operation: "read line \(attribute)")
        return (text.first == "1") != activeLow
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
            wiring: wiring, dac: try IIODAC(context: context, converter: wiring.dac),
            adc: try IIOADC(context: context, converter: wiring.adc),
            ampEnable: try line("amp_enable", wiring.gpio.ampEnable, output: true),
            loopClose: try line("loop_close", wiring.gpio.loopClose, output: true),
            trigger: try line("trigger", wiring.gpio.trigger, output: true),
            interlock: try line("interlock", wiring.gpio.interlock, output: false), clock: clock)
        try board.enterSafeState()
        return board
    }

    /// Devices, channels and attributes of the context at `uri` (for `ringlab info`).
    public static func describe(uri: String) throws(DeviceError) -> [(
        device: String, channels: [String], attributes: [String]
    )] {
        let context = try IIOContextHandle(uri: uri, timeoutMilliseconds: 5_000)
        return IIOCalls.describe(context.pointer)
    }
}
