import ReservoirHAL

/// One client connection of the iiod text protocol (libiio 0.24; docs/iiod-protocol.md §1–3,
/// §6): bytes in, reply bytes out, no I/O of its own.
///
/// Work is done in bounded steps (`step`), so that the server can run one step of each
/// connection in turn on the board thread: a step answers the commands waiting (at most
/// `commandsPerStep`), or sends one chunk of a READBUF, or takes the WRITEBUF bytes that have
/// arrived. A paced DAC stream whose queue is full is not pushed: the step returns the instant
/// to try again, so the board thread never waits on a client's stream.
///
/// Every length that comes from the client is checked before memory is touched: a line is at
/// most `maximumLineLength` bytes (a longer one is dropped as it arrives and answered −EINVAL),
/// an attribute value at most `maximumLineLength`, a buffer at most `maximumSamples` samples,
/// and READBUF and WRITEBUF at most one buffer's bytes. WRITEBUF data is consumed as it
/// arrives, never held whole.
///
/// A connection that goes away (EXIT, EOF, a reset, an idle timeout) while it holds the board
/// — it asserted `amp_enable` or `loop_close` and nobody deasserted them since, or it has the
/// DAC's buffer open — leaves the board driven safe.
///
/// Touched only on the server's board thread, like the board.
public final class IIODSession: @unchecked Sendable {
    public let context: IIODContext
    /// Whether the connection is over (EXIT, QUIT, end of input).
    public private(set) var closed = false

    public static let maximumLineLength = 4_096
    public static let maximumSamples = 1 << 20
    /// Commands answered in one step before other connections get their turn.
    public static let commandsPerStep = 64
    /// Reply bytes after which a step ends (a READBUF chunk is at most 8 KiB more).
    public static let outputPerStep = 16_384

    /// What one step produced.
    public struct Step {
        /// Bytes to send to the client.
        public var output: [UInt8] = []
        /// Whether there is more to do without new input (call `step` again).
        public var more = false
        /// When `more`: not before this instant on the board's clock (a paced DAC queue is full).
        public var notBefore: Duration?
    }

    private var pending: [UInt8] = []
    private var start = 0
    /// Inside a line longer than the bound: its bytes are dropped until its newline.
    private var skippingLine = false

    /// Bytes announced by the last command and not yet received.
    private enum Awaiting {
        case attribute(device: IIODContext.Device, channel: Substring?, attribute: Substring, count: Int)
        case payload(remaining: Int, total: Int, error: Int?)
    }
    private var awaiting: Awaiting?
    /// A READBUF being answered: bytes still to send, and whether its first chunk (which
    /// carries the mask) has gone.
    private var reading: (remaining: Int, first: Bool)?

    /// The buffer this connection has open.
    private final class OpenBuffer {
        let device: IIODContext.Device
        /// Samples per block, as the client opened it.
        let samples: Int
        let mask: Substring
        let cyclic: Bool
        /// The value of `forcedSafeCount` when opened: a DAC stream opened before the server
        /// last drove the board safe is cut off.
        let generation: Int
        /// ADC: opened with `chunk.count` samples per block (the server's chunk), not the
        /// client's block size, so that one board job is one chunk.
        var input: (any AnalogInputStream)?
        /// ADC: samples of the last chunk not sent yet. DAC: samples gathered in `chunk`.
        var held = 0
        var output: (any AnalogOutputStream)?
        var cyclicOutput: (any CyclicOutput)?
        /// The low byte of a DAC sample whose high byte has not arrived.
        var lowByte: UInt8?
        /// When the DAC's queued samples run out, on the board's clock (paced only).
        var fedUntil: Duration
        var chunk: UnsafeMutableBufferPointer<Volts>

        init(
            device: IIODContext.Device, samples: Int, mask: Substring, cyclic: Bool, generation: Int, chunkSamples: Int,
            now: Duration
        ) {
            self.device = device
            self.samples = samples
            self.mask = mask
            self.cyclic = cyclic
            self.generation = generation
            fedUntil = now
            chunk = .allocate(capacity: chunkSamples)
            chunk.initialize(repeating: .zero)
        }

        deinit { chunk.deallocate() }
    }
    private var buffer: OpenBuffer?

    public init(context: IIODContext) {
        self.context = context
    }

    deinit { closeBuffer() }

    /// Whether this connection holds the board: it asserted a GPIO output that is still
    /// asserted, or it has the DAC's buffer open.
    public var holdsBoard: Bool {
        context.lineHolders.values.contains(ObjectIdentifier(self)) || buffer?.device.kind == .dac
    }

    /// Takes bytes from the client (answered by the next steps).
    public func accept(_ bytes: some Collection<UInt8>) {
        guard !closed else { return }
        pending.append(contentsOf: bytes)
    }

    /// Bytes received and not yet taken by a step.
    public var pendingBytes: Int { pending.count - start }

    /// Takes bytes and answers everything they complete, at once: for callers without an event
    /// loop (tests, the fuzz target). A full paced DAC queue is pushed anyway (the push waits).
    public func receive(_ bytes: some Collection<UInt8>) -> [UInt8] {
        accept(bytes)
        var output: [UInt8] = []
        var step = self.step(ignoringPace: true)
        output += step.output
        while step.more && !closed {
            step = self.step(ignoringPace: true)
            output += step.output
        }
        return output
    }

    /// Does one bounded unit of work.
    public func step() -> Step { step(ignoringPace: false) }

    private func step(ignoringPace: Bool) -> Step {
        var result = Step()
        defer { compact() }
        if closed { return result }
        if reading != nil {
            result.output = readChunk()
            result.more = reading != nil || hasWork
            return result
        }
        var commands = 0
        while !closed {
            if let waiting = awaiting {
                switch waiting {
                case .attribute(let device, let channel, let attribute, let count):
                    guard pendingBytes >= count else { return result }
                    let payload = pending[start..<(start + count)]
                    start += count
                    awaiting = nil
                    let status = writeAttribute(device, channel: channel, attribute: attribute, payload: payload)
                    result.output += reply(status == 0 ? count : status)
                case .payload:
                    if let wait = takePayload(ignoringPace: ignoringPace) {
                        result.more = true
                        result.notBefore = wait
                        return result
                    }
                    if case .payload(let remaining, let total, let error) = awaiting! {
                        guard remaining == 0 else { return result }
                        awaiting = nil
                        result.output += reply(error ?? total)
                    }
                }
                continue
            }
            if commands == Self.commandsPerStep {
                result.more = true
                return result
            }
            guard let line = nextLine() else { return result }
            commands += 1
            guard let line = line else {
                result.output += reply(-22)  // an over-long line
                continue
            }
            result.output += command(line)
            if result.output.count >= Self.outputPerStep {
                result.more = true
                return result
            }
            if reading != nil {
                result.output += readChunk()
                result.more = reading != nil || hasWork
                return result
            }
        }
        return result
    }

    /// Whether a step would do something without new input.
    private var hasWork: Bool {
        guard !closed else { return false }
        if reading != nil { return true }
        switch awaiting {
        case .attribute(_, _, _, let count): return pendingBytes >= count
        case .payload(let remaining, _, _): return remaining > 0 && pendingBytes > 0
        case nil: return pending[start...].contains(UInt8(ascii: "\n"))
        }
    }

    /// The next complete line without its `\r\n`; `.some(nil)` for a line over the bound; nil
    /// when no line is complete. An over-long line is dropped as it arrives, so memory stays
    /// bounded by the line limit.
    private func nextLine() -> Substring?? {
        guard let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) else {
            if pendingBytes > Self.maximumLineLength {
                start = pending.count
                skippingLine = true
            }
            return nil
        }
        var line = pending[start..<newline]
        start = newline + 1
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        if skippingLine || line.count > Self.maximumLineLength {
            skippingLine = false
            return .some(nil)
        }
        return .some(Substring(decoding: line, as: UTF8.self))
    }

    private func compact() {
        if start == pending.count {
            pending.removeAll(keepingCapacity: pending.capacity <= 65_536)
            start = 0
        } else if start > 65_536 {
            pending.removeFirst(start)
            start = 0
        }
    }

    /// The client went away (end of input, a reset, an idle timeout): whatever it had open is
    /// closed (EOF is an implicit CLOSE), and if it held the board, the board is driven safe.
    public func endOfInput(reason: String = "the client closed its connection") {
        guard !closed else { return }
        leave(reason: reason)
    }

    private func leave(reason: String) {
        if holdsBoard {
            let holding = context.lineHolders.filter { $0.value == ObjectIdentifier(self) }.keys.sorted()
            let what = holding + (buffer?.device.kind == .dac ? ["the DAC stream"] : [])
            context.driveSafe(reason: "\(reason) holding \(what.joined(separator: ", "))")
        }
        closeBuffer()
        closed = true
        reading = nil
        awaiting = nil
        pending = []
        start = 0
    }

    /// On a paced board: drives the board safe when this connection's DAC stream has had no
    /// samples queued for longer than the dead-man time. Returns whether it did.
    public func checkDeadMan(now: Duration) -> Bool {
        guard context.timing.paced, let open = buffer, open.output != nil, !open.cyclic,
            open.generation == context.forcedSafeCount, now > open.fedUntil + context.timing.deadMan
        else { return false }
        context.driveSafe(
            reason: "the DAC stream of a connection ran dry for more than \(context.timing.deadMan) (dead-man time)")
        return true
    }

    // MARK: Commands

    private func reply(_ value: Int) -> [UInt8] { Array("\(value)\n".utf8) }

    /// A value as iiod sends it: its length with the trailing NUL, the bytes, the NUL, `\n`.
    private func value(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8) + [0]
        return Array("\(bytes.count)\n".utf8) + bytes + [UInt8(ascii: "\n")]
    }

    /// A non-negative decimal of at most 10 digits (no sign, no junk).
    private func count(_ word: Substring) -> Int? {
        guard !word.isEmpty, word.count <= 10, word.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(word)
    }

    private func command(_ line: Substring) -> [UInt8] {
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
    private func attributeAddress(_ words: ArraySlice<Substring>) -> (
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

    private func read(_ words: ArraySlice<Substring>) -> [UInt8] {
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

    private func write(_ words: ArraySlice<Substring>) -> [UInt8] {
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
    private func writeAttribute(
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

    private func open(_ words: ArraySlice<Substring>) -> [UInt8] {
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

    // MARK: Streams

    private func startReading(_ words: ArraySlice<Substring>) -> [UInt8] {
        guard words.count == 2, let count = count(words[words.startIndex + 1]) else { return reply(-22) }
        guard let device = context.device(words[words.startIndex]) else { return reply(-19) }
        guard let open = buffer, open.device.id == device.id, open.input != nil else { return reply(-9) }
        // libiio asks for one buffer's bytes; more is refused, not produced.
        guard count % 2 == 0, count <= open.samples * 2 else { return reply(-22) }
        guard count > 0 else { return reply(0) }
        reading = (count, true)
        return []
    }

    /// One chunk of the READBUF in progress: at most one refill of the server's chunk.
    private func readChunk() -> [UInt8] {
        guard let (remaining, first) = reading, let open = buffer, let input = open.input else {
            reading = nil
            return reply(-9)
        }
        if open.held == 0 {
            do { try input.refill(open.chunk) } catch {
                reading = nil
                return reply(-Int(error.errno?.rawValue ?? 5))
            }
            open.held = open.chunk.count
        }
        let count = min(open.held, remaining / 2)
        let format = context.board.adc.format
        var output = Array("\(count * 2)\n".utf8)
        if first { output += Array("\(open.mask)\n".utf8) }
        output.reserveCapacity(output.count + count * 2)
        let offset = open.chunk.count - open.held
        for index in offset..<(offset + count) {
            let code = format.code(forVolts: open.chunk[index])
            output.append(UInt8(code & 0xff))
            output.append(UInt8((code >> 8) & 0xff))
        }
        open.held -= count
        reading = remaining - count * 2 > 0 ? (remaining - count * 2, false) : nil
        return output
    }

    private func startWriting(_ words: ArraySlice<Substring>) -> [UInt8] {
        guard words.count == 2, let count = count(words[words.startIndex + 1]) else { return reply(-22) }
        guard let device = context.device(words[words.startIndex]) else { return reply(-19) }
        guard let open = buffer, open.device.id == device.id, open.device.kind == .dac else { return reply(-9) }
        guard count % 2 == 0, count <= open.samples * 2 else { return reply(-22) }
        // A cyclic buffer takes one block; the board was driven safe since this stream opened.
        if open.cyclic && open.cyclicOutput != nil { return reply(-16) }
        if open.generation != context.forcedSafeCount { return reply(-32) }
        awaiting = .payload(remaining: count, total: count, error: nil)
        return reply(0)
    }

    /// Takes the WRITEBUF bytes that have arrived, pushing each block as it fills. Returns the
    /// instant to come back when a paced DAC queue is full.
    private func takePayload(ignoringPace: Bool) -> Duration? {
        guard case .payload(var remaining, let total, var error) = awaiting else { return nil }
        defer { awaiting = .payload(remaining: remaining, total: total, error: error) }
        guard let open = buffer, open.device.kind == .dac else {
            // The buffer is gone: the bytes are still the client's payload; drop them.
            let taken = min(remaining, pendingBytes)
            start += taken
            remaining -= taken
            error = error ?? -9
            return nil
        }
        let format = context.board.dac.format
        let range = context.board.wiring.driveRange
        while true {
            if open.held == open.samples {
                if error == nil {
                    switch flush(open, ignoringPace: ignoringPace) {
                    case .wait(let until): return until
                    case .failed(let status): error = status
                    case .played: break
                    }
                }
                open.held = 0
            }
            guard remaining > 0, pendingBytes > 0 else { return nil }
            let byte = pending[start]
            start += 1
            remaining -= 1
            if let low = open.lowByte {
                open.lowByte = nil
                let code = min(Int(low) | Int(byte) << 8, format.maximumCode)
                open.chunk[open.held] = format.volts(forCode: code).clamped(to: range)
                open.held += 1
            } else {
                open.lowByte = byte
            }
        }
    }

    private enum Flush {
        case played
        /// −errno for the WRITEBUF's reply.
        case failed(Int)
        /// A paced queue is full: retry at this instant.
        case wait(Duration)
    }

    /// Plays a full block: the cyclic block, or a push to the stream.
    private func flush(_ open: OpenBuffer, ignoringPace: Bool) -> Flush {
        let block = UnsafeBufferPointer(open.chunk)
        do {
            if open.cyclic {
                guard open.cyclicOutput == nil else { return .failed(-16) }
                open.cyclicOutput = try context.board.dac.playCyclic(block)
            } else if let output = open.output {
                guard open.generation == context.forcedSafeCount else { return .failed(-32) }
                let blockTime = context.board.sampleRate.duration(of: SampleCount(open.samples))
                if context.timing.paced {
                    // Keep at most two blocks queued ahead of the converter (the twin's queue
                    // holds four): a fuller queue would block the board thread in push.
                    let now = context.board.clock.now()
                    let ready = open.fedUntil - blockTime * 2
                    if !ignoringPace && now < ready { return .wait(ready) }
                    open.fedUntil = max(open.fedUntil, now) + blockTime
                }
                try output.push(block)
            }
            context.appliedDACCode = context.board.dac.format.code(forVolts: block[block.count - 1])
        } catch {
            return .failed(-Int(error.errno?.rawValue ?? 5))
        }
        return .played
    }

    private func closeBuffer() {
        guard let open = buffer else { return }
        open.input?.close()
        open.output?.close()
        open.cyclicOutput?.close()
        context.openDevices.remove(open.device.id)
        buffer = nil
        reading = nil
    }
}
