import ReservoirHAL

/// The iiod commands a session answers (docs/iiod-protocol.md).
extension IIODSession {
    // MARK: Commands

    func reply(_ value: Int) -> [UInt8] { Array("\(value)\n".utf8) }

    /// A value as iiod sends it: its length with the trailing NUL, the bytes, the NUL, `\n`.
    func value(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8) + [0]
        return Array("\(bytes.count)\n".utf8) + bytes + [UInt8(ascii: "\n")]
    }

    /// A non-negative decimal of at most 10 digits (no sign, no junk).
    func count(_ word: Substring) -> Int? {
        guard !word.isEmpty, word.count <= 10, word.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(word)
    }

    func command(_ line: Substring) -> [UInt8] {
        let words = line.split(separator: " ", maxSplits: 16, omittingEmptySubsequences: true)
        guard let keyword = words.first?.uppercased() else { return [] }  // an empty line: no reply
        switch keyword {
        case "VERSION": return Array("0.24.v0.24  \n".utf8)
        case "PRINT":
            let xml = Array(context.xml.utf8)
            return Array("\(xml.count)\n".utf8) + xml + [UInt8(ascii: "\n")]
        case "TIMEOUT": return words.count == 2 && count(words[1]) != nil ? reply(0) : reply(-22)
        case "EXIT", "QUIT":
            leave(reason: "the client said EXIT")
            return []
        case "READ": return read(words.dropFirst())
        case "WRITE": return write(words.dropFirst())
        case "GETTRIG":
            guard words.count == 2 else { return reply(-22) }
            return context.device(words[1]) == nil ? reply(-19) : reply(-2)
        case "SETTRIG":
            guard words.count == 2 || words.count == 3 else { return reply(-22) }
            return context.device(words[1]) == nil ? reply(-19) : reply(0)
        case "SET":
            guard words.count == 4, words[2].uppercased() == "BUFFERS_COUNT", count(words[3]) != nil else {
                return reply(-22)
            }
            return context.device(words[1]) == nil ? reply(-19) : reply(0)
        case "OPEN": return open(words.dropFirst())
        case "CLOSE":
            guard words.count == 2 else { return reply(-22) }
            guard let device = context.device(words[1]) else { return reply(-19) }
            guard buffer?.device.id == device.id else { return reply(-6) }
            closeBuffer()
            return reply(0)
        case "READBUF": return startReading(words.dropFirst())
        case "WRITEBUF": return startWriting(words.dropFirst())
        default: return reply(-22)
        }
    }

    /// `[INPUT|OUTPUT ch | BUFFER | DEBUG] attr` after the device: (channel, attribute, kind).
    func attributeAddress(_ words: ArraySlice<Substring>) -> (
        channel: Substring?, attribute: Substring, buffer: Bool
    )? {
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

    func read(_ words: ArraySlice<Substring>) -> [UInt8] {
        guard words.count >= 2 else { return reply(-22) }
        guard let device = context.device(words[words.startIndex]) else { return reply(-19) }
        guard let address = attributeAddress(words.dropFirst()) else { return reply(-22) }
        if address.buffer {
            guard address.attribute == "length" else { return reply(-2) }
            return value("\(buffer?.device.id == device.id ? buffer!.samples : 0)")
        }
        if let channel = address.channel, channel != device.channel ?? "" { return reply(-6) }
        switch (device.kind, address.channel != nil, address.attribute) {
        case (.adc, false, "sampling_frequency"), (.dac, false, "sampling_frequency"):
            return value("\(Int(context.board.sampleRate.value.rounded()))")
        case (.adc, true, "raw"):
            // A fresh conversion, as the kernel's in_voltageN_raw is.
            do { return value("\(context.board.adc.format.code(forVolts: try context.board.adc.readOnce()))") } catch {
                return reply(-Int(error.errno?.rawValue ?? 5))
            }
        case (.dac, true, "raw"): return value("\(context.appliedDACCode)")
        case (.adc, true, "scale"), (.dac, true, "scale"): return value(context.scaleText(device))
        case (.control, false, "interlock"):
            do { return value(try context.board.interlock.read() ? "1" : "0") } catch { return reply(-5) }
        case (.control, false, let name):
            guard let level = context.lineLevels[String(name)] else { return reply(-2) }
            return value(level ? "1" : "0")
        default: return reply(-2)
        }
    }

    func write(_ words: ArraySlice<Substring>) -> [UInt8] {
        guard words.count >= 3, let count = count(words[words.endIndex - 1]) else { return reply(-22) }
        guard count <= Self.maximumLineLength else { return reply(-22) }
        guard let device = context.device(words[words.startIndex]) else { return reply(-19) }
        guard let address = attributeAddress(words[(words.startIndex + 1)..<(words.endIndex - 1)]) else {
            return reply(-22)
        }
        if let channel = address.channel, channel != device.channel ?? "" { return reply(-6) }
        // The value follows the line (and is answered then), even when the write will fail.
        awaiting = .attribute(device: device, channel: address.channel, attribute: address.attribute, count: count)
        return []
    }

    /// Applies a write; 0 or −errno.
    func writeAttribute(
        _ device: IIODContext.Device, channel: Substring?, attribute: Substring, payload: ArraySlice<UInt8>
    ) -> Int {
        // iio_attr_write sends strlen + 1 bytes: drop the NUL and surrounding whitespace.
        let text = Substring(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
            .split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).first ?? ""
        switch (device.kind, channel != nil, attribute) {
        case (.dac, true, "raw"):
            let format = context.board.dac.format
            guard let code = count(text), code <= format.maximumCode else { return -22 }
            // Clamped to the board's drive range like every drive (docs/drive-loop.md, Safety);
            // `raw` then reads back the code applied.
            let volts = format.volts(forCode: code).clamped(to: context.board.wiring.driveRange)
            do { try context.board.dac.hold(volts) } catch { return -Int(error.errno?.rawValue ?? 5) }
            context.appliedDACCode = format.code(forVolts: volts)
            return 0
        case (.control, false, "interlock"): return -13
        case (.control, false, let name):
            let name = String(name)
            guard let line = context.outputLine(name), context.lineLevels[name] != nil else { return -2 }
            guard text == "0" || text == "1" else { return -22 }
            let level = text == "1"
            do { try line.set(level) } catch { return -Int(error.errno?.rawValue ?? 5) }
            context.lineLevels[name] = level
            if name == "amp_enable" || name == "loop_close" {
                context.lineHolders[name] = level ? ObjectIdentifier(self) : nil
            }
            return 0
        case (_, _, "sampling_frequency"), (_, _, "scale"), (.adc, _, "raw"): return -13
        default: return -2
        }
    }

    func open(_ words: ArraySlice<Substring>) -> [UInt8] {
        guard words.count == 3 || (words.count == 4 && words.last!.uppercased() == "CYCLIC") else { return reply(-22) }
        let first = words.startIndex
        guard let device = context.device(words[first]) else { return reply(-19) }
        guard let samples = count(words[first + 1]), samples > 0, samples <= Self.maximumSamples else {
            return reply(-22)
        }
        // One scan element: one 32-bit mask word, 8 hex digits, bit 0 set.
        let mask = words[first + 2]
        guard mask.count == 8, UInt32(mask, radix: 16) == 1 else { return reply(-22) }
        guard device.channel != nil else { return reply(-22) }
        guard buffer == nil, !context.openDevices.contains(device.id) else { return reply(-16) }
        let cyclic = words.count == 4
        guard !cyclic || device.kind == .dac else { return reply(-22) }
        let chunkSamples = device.kind == .adc ? min(samples, context.timing.chunkSamples) : samples
        let open = OpenBuffer(
            device: device, samples: samples, mask: mask, cyclic: cyclic, generation: context.forcedSafeCount,
            chunkSamples: chunkSamples, now: context.board.clock.now())
        do {
            if device.kind == .adc {
                open.input = try context.board.adc.openStream(samplesPerBlock: chunkSamples)
            } else if !cyclic {
                open.output = try context.board.dac.openStream(samplesPerBlock: samples)
            }
        } catch {
            return reply(-Int(error.errno?.rawValue ?? 5))
        }
        buffer = open
        context.openDevices.insert(device.id)
        return reply(0)
    }
}
