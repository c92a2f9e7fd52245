import ReservoirHAL

/// One client connection of the iiod text protocol (libiio 0.24; docs/iiod-protocol.md §1–3,
/// §6): bytes in, reply bytes out, no I/O of its own. Lines end in `\n` (a `\r` before it is
/// dropped); a WRITE or WRITEBUF line is followed by the raw bytes it announced. Every bound
/// is checked before anything is allocated: a client cannot make the server hold more than
/// one line of `maximumLineLength` (a longer one is dropped and answered −EINVAL) or one
/// buffer of `maximumBufferBytes`.
public final class IIODSession {
    public let context: IIODContext
    /// Whether the client asked to end the connection (EXIT, QUIT) or broke a bound.
    public private(set) var closed = false

    public static let maximumLineLength = 4_096
    public static let maximumBufferBytes = 1 << 22
    public static let maximumSamples = 1 << 20

    private var pending: [UInt8] = []
    /// Inside a line longer than the bound: its bytes are dropped until its newline.
    private var skippingLine = false
    private enum Awaiting {
        case attribute(device: IIODContext.Device, channel: String?, attribute: String, count: Int)
        case buffer(device: IIODContext.Device, count: Int)
    }
    private var awaiting: Awaiting?

    /// The buffer this connection has open.
    private struct OpenBuffer {
        var device: IIODContext.Device
        var samples: Int
        var mask: String
        var input: (any AnalogInputStream)?
        var output: (any AnalogOutputStream)?
        var volts: UnsafeMutableBufferPointer<Volts>
        /// Samples of the last refill not sent yet.
        var unsent = 0
        /// A cyclic DAC buffer: its first block is replayed until CLOSE or EOF.
        var cyclic = false
    }
    private var buffer: OpenBuffer?

    public init(context: IIODContext) {
        self.context = context
    }

    deinit { closeBuffer() }

    /// Takes bytes from the client; returns the bytes to send back.
    public func receive(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        pending.append(contentsOf: bytes)
        var start = 0
        while !closed {
            if let waiting = awaiting {
                let count: Int
                switch waiting {
                case .attribute(_, _, _, let n), .buffer(_, let n): count = n
                }
                guard pending.count - start >= count else { break }
                let payload = Array(pending[start..<(start + count)])
                start += count
                awaiting = nil
                output += finish(waiting, payload: payload)
                continue
            }
            guard let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                // An over-long line is dropped as it arrives (memory stays bounded) and answered
                // with −EINVAL at its end.
                if pending.count - start > Self.maximumLineLength {
                    start = pending.count
                    skippingLine = true
                }
                break
            }
            var line = pending[start..<newline]
            start = newline + 1
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard !skippingLine, line.count <= Self.maximumLineLength else {
                skippingLine = false
                output += reply(-22)
                continue
            }
            output += command(String(decoding: line, as: UTF8.self))
        }
        pending.removeFirst(start)
        return output
    }

    /// The client went away: whatever it had open is closed (EOF is an implicit CLOSE).
    public func endOfInput() {
        closeBuffer()
        closed = true
    }

    // MARK: Commands

    private func reply(_ value: Int) -> [UInt8] { Array("\(value)\n".utf8) }

    /// A value as iiod sends it: its length with the trailing NUL, the bytes, the NUL, `\n`.
    private func value(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8) + [0]
        return Array("\(bytes.count)\n".utf8) + bytes + [UInt8(ascii: "\n")]
    }

    private func command(_ line: String) -> [UInt8] {
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let keyword = words.first?.uppercased() else { return [] }  // an empty line: no reply
        switch keyword {
        case "VERSION": return Array("0.24.v0.24  \n".utf8)
        case "PRINT":
            let xml = Array(context.xml.utf8)
            return Array("\(xml.count)\n".utf8) + xml + [UInt8(ascii: "\n")]
        case "TIMEOUT": return words.count == 2 && Int(words[1]) != nil ? reply(0) : reply(-22)
        case "EXIT", "QUIT":
            closeBuffer()
            closed = true
            return []
        case "READ": return read(Array(words.dropFirst()))
        case "WRITE": return write(Array(words.dropFirst()))
        case "GETTRIG":
            guard words.count == 2 else { return reply(-22) }
            return context.device(words[1]) == nil ? reply(-19) : reply(-2)
        case "SETTRIG":
            guard words.count >= 2 else { return reply(-22) }
            return context.device(words[1]) == nil ? reply(-19) : reply(0)
        case "SET":
            guard words.count == 4, words[2].uppercased() == "BUFFERS_COUNT", Int(words[3]) != nil else {
                return reply(-22)
            }
            return context.device(words[1]) == nil ? reply(-19) : reply(0)
        case "OPEN": return open(Array(words.dropFirst()))
        case "CLOSE":
            guard words.count == 2 else { return reply(-22) }
            guard let device = context.device(words[1]) else { return reply(-19) }
            guard buffer?.device.id == device.id else { return reply(-6) }
            closeBuffer()
            return reply(0)
        case "READBUF": return readBuffer(Array(words.dropFirst()))
        case "WRITEBUF":
            guard words.count == 3, let count = Int(words[2]), count >= 0 else { return reply(-22) }
            guard let device = context.device(words[1]) else { return reply(-19) }
            guard let open = buffer, open.device.id == device.id, open.output != nil else { return reply(-9) }
            guard count <= Self.maximumBufferBytes, count % 2 == 0 else { return reply(-22) }
            awaiting = .buffer(device: device, count: count)
            return reply(0)
        default: return reply(-22)
        }
    }

    /// `[INPUT|OUTPUT ch | BUFFER | DEBUG] attr` after the device: (channel, attribute, kind).
    private func attributeAddress(_ words: ArraySlice<String>) -> (channel: String?, attribute: String, buffer: Bool)? {
        guard let first = words.first else { return nil }
        switch first.uppercased() {
        case "INPUT", "OUTPUT":
            guard words.count == 3 else { return nil }
            return (words[words.startIndex + 1], words[words.startIndex + 2], false)
        case "BUFFER", "DEBUG":
            guard words.count == 2 else { return nil }
            return (nil, words[words.startIndex + 1], first.uppercased() == "BUFFER")
        default:
            guard words.count == 1 else { return nil }
            return (nil, first, false)
        }
    }

    private func read(_ words: [String]) -> [UInt8] {
        guard words.count >= 2 else { return reply(-22) }
        guard let device = context.device(words[0]) else { return reply(-19) }
        guard let address = attributeAddress(words[1...]) else { return reply(-22) }
        if address.buffer {
            guard address.attribute == "length" else { return reply(-2) }
            return value("\(buffer?.device.id == device.id ? buffer!.samples : 0)")
        }
        if let channel = address.channel, channel != device.channel { return reply(-6) }
        switch (device.kind, address.channel, address.attribute) {
        case (.adc, nil, "sampling_frequency"), (.dac, nil, "sampling_frequency"):
            return value("\(Int(context.board.sampleRate.value.rounded()))")
        case (.adc, _?, "raw"): return value("\(context.lastADCCode)")
        case (.dac, _?, "raw"): return value("\(context.lastDACCode)")
        case (.adc, _?, "scale"), (.dac, _?, "scale"): return value(context.scaleText(device))
        case (.control, nil, "interlock"):
            do { return value(try context.board.interlock.read() ? "1" : "0") } catch { return reply(-5) }
        case (.control, nil, let name) where context.lineLevels[name] != nil:
            return value(context.lineLevels[name]! ? "1" : "0")
        default: return reply(-2)
        }
    }

    private func write(_ words: [String]) -> [UInt8] {
        guard words.count >= 3, let count = Int(words[words.count - 1]), count >= 0 else { return reply(-22) }
        guard count <= Self.maximumLineLength else { return reply(-22) }
        guard let device = context.device(words[0]) else { return reply(-19) }
        guard let address = attributeAddress(words[1..<(words.count - 1)]) else { return reply(-22) }
        if let channel = address.channel, channel != device.channel { return reply(-6) }
        awaiting = .attribute(device: device, channel: address.channel, attribute: address.attribute, count: count)
        return []
    }

    private func finish(_ waiting: Awaiting, payload: [UInt8]) -> [UInt8] {
        switch waiting {
        case .attribute(let device, let channel, let attribute, let count):
            // iio_attr_write sends strlen + 1 bytes: drop the NUL and surrounding whitespace.
            let text =
                String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
                .split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).first.map(String.init)
                ?? ""
            let status = writeAttribute(device, channel: channel, attribute: attribute, text: text)
            return reply(status == 0 ? count : status)
        case .buffer(_, let count):
            return reply(pushSamples(payload) ?? count)
        }
    }

    /// Applies a write; 0 or −errno.
    private func writeAttribute(_ device: IIODContext.Device, channel: String?, attribute: String, text: String) -> Int
    {
        switch (device.kind, channel, attribute) {
        case (.dac, _?, "raw"):
            guard let code = Int(text), code >= 0, code <= context.board.dac.format.maximumCode else { return -22 }
            // Clamped to the board's drive range like every drive (docs/drive-loop.md, Safety).
            let volts = context.board.dac.format.volts(forCode: code).clamped(to: context.board.wiring.driveRange)
            do { try context.board.dac.hold(volts) } catch { return -5 }
            context.lastDACCode = code
            return 0
        case (.control, nil, "interlock"): return -13
        case (.control, nil, let name) where context.lineLevels[name] != nil:
            guard text == "0" || text == "1" else { return -22 }
            let level = text == "1"
            let line: any DigitalOutputLine
            switch name {
            case "amp_enable": line = context.board.ampEnable
            case "loop_close": line = context.board.loopClose
            default: line = context.board.trigger
            }
            do { try line.set(level) } catch { return -5 }
            context.lineLevels[name] = level
            return 0
        case (_, _, "sampling_frequency"), (_, _, "scale"), (.adc, _, "raw"): return -13
        default: return -2
        }
    }

    private func open(_ words: [String]) -> [UInt8] {
        guard words.count == 3 || (words.count == 4 && words[3].uppercased() == "CYCLIC") else { return reply(-22) }
        guard let device = context.device(words[0]) else { return reply(-19) }
        guard let samples = Int(words[1]), samples > 0, samples <= Self.maximumSamples else { return reply(-22) }
        // One scan element: one 32-bit mask word, 8 hex digits, bit 0 set.
        let mask = words[2]
        guard mask.count == 8, let bits = UInt32(mask, radix: 16), bits & 1 == 1, bits == 1 else { return reply(-22) }
        guard device.channel != nil else { return reply(-22) }
        guard buffer == nil, !context.openDevices.contains(device.id) else { return reply(-16) }
        let cyclic = words.count == 4
        guard !cyclic || (device.kind == .dac && context.cyclic == nil) else { return reply(cyclic ? -16 : -22) }
        let volts = UnsafeMutableBufferPointer<Volts>.allocate(capacity: samples)
        volts.initialize(repeating: .zero)
        var open = OpenBuffer(device: device, samples: samples, mask: mask, volts: volts)
        open.cyclic = cyclic
        do {
            if device.kind == .adc {
                open.input = try context.board.adc.openStream(samplesPerBlock: samples)
            } else {
                open.output = try context.board.dac.openStream(samplesPerBlock: samples)
            }
        } catch {
            volts.deallocate()
            return reply(-Int(error.errno?.rawValue ?? 5))
        }
        buffer = open
        context.openDevices.insert(device.id)
        return reply(0)
    }

    private func readBuffer(_ words: [String]) -> [UInt8] {
        guard words.count == 2, let count = Int(words[1]), count >= 0 else { return reply(-22) }
        guard let device = context.device(words[0]) else { return reply(-19) }
        guard var open = buffer, open.device.id == device.id, let input = open.input else { return reply(-9) }
        guard count % 2 == 0, count <= Self.maximumBufferBytes else { return reply(-22) }
        var samples: [UInt8] = []
        samples.reserveCapacity(count)
        let format = context.board.adc.format
        while samples.count < count {
            if open.unsent == 0 {
                do {
                    try context.replayCyclic(covering: open.samples)
                    try input.refill(open.volts)
                } catch {
                    buffer = open
                    return samples.isEmpty ? reply(-Int(error.errno?.rawValue ?? 5)) : chunk(samples, mask: open.mask)
                }
                open.unsent = open.samples
            }
            let code = format.code(forVolts: open.volts[open.samples - open.unsent])
            context.lastADCCode = code
            samples.append(UInt8(code & 0xff))
            samples.append(UInt8((code >> 8) & 0xff))
            open.unsent -= 1
        }
        buffer = open
        return chunk(samples, mask: open.mask)
    }

    private func chunk(_ bytes: [UInt8], mask: String) -> [UInt8] {
        Array("\(bytes.count)\n\(mask)\n".utf8) + bytes
    }

    /// Pushes little-endian u16 codes to the DAC in blocks of the buffer's size; −errno or nil.
    private func pushSamples(_ payload: [UInt8]) -> Int? {
        guard var open = buffer, let output = open.output else { return -9 }
        let format = context.board.dac.format
        let range = context.board.wiring.driveRange
        var index = 0
        while index + 1 < payload.count {
            let code = Int(payload[index]) | (Int(payload[index + 1]) << 8)
            open.volts[open.unsent] = format.volts(forCode: min(code, format.maximumCode)).clamped(to: range)
            open.unsent += 1
            index += 2
            if open.unsent == open.samples {
                if open.cyclic {
                    // The first block is the cycle; later writes to a cyclic buffer are refused.
                    guard context.cyclic == nil else {
                        buffer = open
                        return -16
                    }
                    let block = UnsafeMutableBufferPointer<Volts>.allocate(capacity: open.samples)
                    _ = block.initialize(from: open.volts)
                    context.cyclic = (block, output)
                    context.cyclicSamplesAhead = 0
                    open.unsent = 0
                    do { try context.replayCyclic(covering: open.samples) } catch {
                        buffer = open
                        return -Int(error.errno?.rawValue ?? 5)
                    }
                    continue
                }
                do { try output.push(UnsafeBufferPointer(open.volts)) } catch {
                    buffer = open
                    return -Int(error.errno?.rawValue ?? 5)
                }
                open.unsent = 0
            }
        }
        buffer = open
        return nil
    }

    private func closeBuffer() {
        guard let open = buffer else { return }
        if open.cyclic, let cyclic = context.cyclic {
            cyclic.block.deallocate()
            context.cyclic = nil
        }
        open.input?.close()
        open.output?.close()
        open.volts.deallocate()
        context.openDevices.remove(open.device.id)
        buffer = nil
    }
}
