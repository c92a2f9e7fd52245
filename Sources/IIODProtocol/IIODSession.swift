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

    var pending: [UInt8] = []
    var start = 0
    /// Inside a line longer than the bound: its bytes are dropped until its newline.
    var skippingLine = false

    /// Bytes announced by the last command and not yet received.
    enum Awaiting {
        case attribute(device: IIODContext.Device, channel: Substring?, attribute: Substring, count: Int)
        case payload(remaining: Int, total: Int, error: Int?)
    }
    var awaiting: Awaiting?
    /// A READBUF being answered: bytes still to send, and whether its first chunk (which
    /// carries the mask) has gone.
    var reading: (remaining: Int, first: Bool)?

    /// The buffer this connection has open.
    final class OpenBuffer {
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
    var buffer: OpenBuffer?

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

    func step(ignoringPace: Bool) -> Step {
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
    var hasWork: Bool {
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
    func nextLine() -> Substring?? {
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

    func compact() {
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

    func leave(reason: String) {
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
}
