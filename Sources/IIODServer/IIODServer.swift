import IIODProtocol
import NIOCore
import NIOPosix
import ReservoirHAL

/// The iiod protocol server (SwiftNIO): presents a `Board` as IIO devices to any libiio 0.24
/// client. Connections run on one event loop; everything that touches the board runs on one
/// board thread (`BoardExecutor`), one bounded step of one connection at a time, so a paced
/// stream never holds up another connection's commands for longer than one step (about a
/// millisecond of samples).
///
/// Bounds (docs/iiod-protocol.md, "The server's limits"): at most `maximumConnections` at once —
/// when full, a new client evicts the connection that has been quiet longest and holds nothing
/// (it may hold the board: asserted lines or the DAC), and is refused only when every
/// connection holds the board; a connection that holds the board and says nothing for
/// `idleTimeout` is closed and the board driven safe; one that holds nothing is closed after
/// `quietTimeout`. Per connection, at most `inboxLimit` bytes wait unread (reading stops until
/// they are taken), and a step runs only while the client keeps reading its replies.
public final class IIODServer: @unchecked Sendable {  // state is confined to the event loop
    /// The server's limits and safety timings.
    public struct Options: Sendable {
        public var maximumConnections = 32
        /// A connection that holds the board and sends nothing this long is closed (board safe).
        public var idleTimeout: Duration = .seconds(60)
        /// A connection that holds nothing and sends nothing this long is closed.
        public var quietTimeout: Duration = .seconds(600)
        /// Paced or lock-step, the DAC dead-man time, the size of a board job.
        public var timing: IIODContext.Timing
        /// Network faults to inject on purpose (`--inject`; `NetworkFault`).
        public var faults: [NetworkFault] = []

        public init(timing: IIODContext.Timing) { self.timing = timing }
    }

    public let context: IIODContext
    public let options: Options
    static let inboxLimit = 65_536
    private let group: MultiThreadedEventLoopGroup
    private let executor = BoardExecutor()
    private var channel: Channel?
    private let registry = ConnectionRegistry()
    private var housekeeping: RepeatedTask?
    /// Called with one line per connection event and whenever the server drives the board safe.
    public var log: @Sendable (String) -> Void = { _ in }

    public init(board: Board, options: Options? = nil) {
        let options = options ?? Options(timing: IIODContext.Timing(paced: false, sampleRate: board.sampleRate))
        self.options = options
        context = IIODContext(board: board, timing: options.timing)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Starts listening; returns the port bound (useful with port 0).
    public func start(host: String = "127.0.0.1", port: Int) throws -> Int {
        let context = self.context
        let log = self.log
        context.log = log
        let registry = self.registry
        let executor = self.executor
        let options = self.options
        let faults = options.faults.isEmpty ? nil : NetworkFaultSchedule(options.faults)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 128)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                let peer = channel.remoteAddress?.description ?? "?"
                if registry.count >= options.maximumConnections {
                    guard let victim = registry.quietestIdle() else {
                        log("refused \(peer): \(options.maximumConnections) connections open, each holding the board")
                        return channel.close()
                    }
                    victim.close(reason: "evicted: \(options.maximumConnections) connections open")
                }
                log("connection from \(peer)")
                return channel.eventLoop.makeCompletedFuture {
                    let handler = SessionHandler(
                        session: IIODSession(context: context), executor: executor, registry: registry, log: log,
                        peer: peer, faults: faults)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let bound = try bootstrap.bind(host: host, port: port).wait()
        channel = bound
        // Idle timeouts once a second; the DAC dead-man check every 10 ms when paced.
        let loop = bound.eventLoop
        housekeeping = loop.scheduleRepeatedTask(initialDelay: .milliseconds(10), delay: .milliseconds(10)) {
            [registry, executor] task in
            registry.tick += 1
            if registry.tick % 100 == 0 {
                let now = NIODeadline.now()
                for connection in registry.connections {
                    let quiet = Duration.nanoseconds((now - connection.lastActivity).nanoseconds)
                    if connection.holdsBoard && quiet > options.idleTimeout {
                        connection.close(reason: "idle timeout: silent for \(options.idleTimeout)")
                    } else if !connection.holdsBoard && quiet > options.quietTimeout {
                        connection.close(reason: "idle timeout: silent for \(options.quietTimeout)")
                    }
                }
            }
            if options.timing.paced && !registry.deadManCheckInFlight {
                registry.deadManCheckInFlight = true
                let sessions = registry.connections.map(\.session)
                let done = loop.makePromise(of: Void.self)
                done.futureResult.whenComplete { _ in registry.deadManCheckInFlight = false }
                executor.submit(urgent: true) {
                    let now = context.board.clock.now()
                    for session in sessions { _ = session.checkDeadMan(now: now) }
                    done.succeed()
                }
            }
        }
        return bound.localAddress?.port ?? port
    }

    /// Stops listening, closes every connection (a connection that held the board leaves it
    /// safe), then puts the board in its safe state.
    public func stop() {
        housekeeping?.cancel()
        try? channel?.close().wait()
        if let loop = channel?.eventLoop {
            let registry = self.registry
            try? loop.submit {
                for connection in registry.connections { connection.close(reason: "the server is stopping") }
            }.wait()
            // Let the close events reach their sessions before the last job.
            try? loop.submit {}.wait()
        }
        let context = self.context
        executor.stop { context.board.enterSafeStateReporting() }
        try? group.syncShutdownGracefully()
    }
}

/// The open connections (touched only on the server's event loop).
final class ConnectionRegistry: @unchecked Sendable {
    var connections: [SessionHandler] = []
    var tick = 0
    var deadManCheckInFlight = false

    var count: Int { connections.count }

    func add(_ connection: SessionHandler) { connections.append(connection) }

    func remove(_ connection: SessionHandler) { connections.removeAll { $0 === connection } }

    /// The connection quiet longest among those that hold nothing and have no work in flight.
    func quietestIdle() -> SessionHandler? {
        connections.filter { !$0.holdsBoard }.min { $0.lastActivity < $1.lastActivity }
    }
}

/// Feeds a connection's bytes to its session, one step at a time on the board thread, and
/// writes the replies. Lives on the event loop; the session lives on the board thread.
final class SessionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let session: IIODSession
    private let executor: BoardExecutor
    private let registry: ConnectionRegistry
    private let log: @Sendable (String) -> Void
    private let peer: String
    private var context: ChannelHandlerContext?
    private let faults: NetworkFaultSchedule?
    /// An injected stall: the connection reads on but gets no more replies.
    private var stalled = false

    /// Bytes received and not yet handed to the session.
    private var inbox: [UInt8] = []
    /// Bytes the session holds unprocessed, as of its last step.
    private var sessionPending = 0
    private var stepInFlight = false
    private var sessionHasWork = false
    private var retry: Scheduled<Void>?
    private var reading = true
    private var ended = false
    private var closeReason: String?
    /// Whether the session held the board after its last step.
    private(set) var holdsBoard = false
    private(set) var lastActivity = NIODeadline.now()

    init(
        session: IIODSession, executor: BoardExecutor, registry: ConnectionRegistry,
        log: @escaping @Sendable (String) -> Void, peer: String, faults: NetworkFaultSchedule? = nil
    ) {
        self.faults = faults
        self.session = session
        self.executor = executor
        self.registry = registry
        self.log = log
        self.peer = peer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        registry.add(self)
    }

    /// Closes the connection (on the event loop); `reason` reaches the session's end.
    func close(reason: String) {
        guard let context, !ended else { return }
        closeReason = reason
        log("closing \(peer): \(reason)")
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        inbox += buffer.readableBytesView
        lastActivity = .now()
        if inbox.count > IIODServer.inboxLimit { setReading(false, context: context) }
        schedule(context: context)
    }

    private func setReading(_ on: Bool, context: ChannelHandlerContext) {
        guard on != reading else { return }
        reading = on
        context.channel.setOption(ChannelOptions.autoRead, value: on).whenFailure { _ in }
        if on { context.read() }
    }

    /// Runs the session's next step on the board thread when there is something to do, nothing
    /// in flight, and the client is reading its replies.
    private func schedule(context: ChannelHandlerContext) {
        guard !ended, !stalled, !stepInFlight, retry == nil, context.channel.isWritable else { return }
        let handOver = sessionPending <= IIODServer.inboxLimit && !inbox.isEmpty
        guard handOver || sessionHasWork else { return }
        let bytes = handOver ? inbox : []
        if handOver {
            inbox = []
            if !reading { setReading(true, context: context) }
        }
        stepInFlight = true
        let session = self.session
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        executor.submit {
            session.accept(bytes)
            let servedBefore = session.context.samplesServed
            let step = session.step()
            var delay: Int64?
            if let notBefore = step.notBefore {
                delay = max((notBefore - session.context.board.clock.now()).nanoseconds, 0)
            }
            let outcome = StepOutcome(
                output: step.output, more: step.more, delayNanoseconds: delay, pending: session.pendingBytes,
                holdsBoard: session.holdsBoard, closed: session.closed,
                served: session.context.samplesServed, servedInStep: session.context.samplesServed - servedBefore)
            loop.execute { bound.value.finished(outcome) }
        }
    }

    private struct StepOutcome: Sendable {
        var output: [UInt8]
        var more: Bool
        var delayNanoseconds: Int64?
        var pending: Int
        var holdsBoard: Bool
        var closed: Bool
        var served: Int
        var servedInStep: Int
    }

    private func finished(_ outcome: StepOutcome) {
        // A reply held back by the slow fault keeps the next step away through `retry`.
        stepInFlight = false
        guard let context, !ended else { return }
        if outcome.servedInStep > 0, let faults {
            let rate = session.context.board.sampleRate.value
            switch faults.due(servedSeconds: Double(outcome.served) / rate)?.kind {
            case .drop:
                close(reason: "injected fault drop after \(outcome.served) samples served")
                return
            case .stall:
                stalled = true
                holdsBoard = outcome.holdsBoard
                log("injected fault: \(peer) stalls after \(outcome.served) samples served (no more replies)")
                return
            case .slow, nil: break
            }
            if let fraction = faults.slowFraction {
                // Serve at most fraction × the sample rate: hold this reply until its samples are due.
                let now = Int64(NIODeadline.now().uptimeNanoseconds)
                if faults.slowOrigin == nil {
                    log("injected fault: samples served at \(fraction) × the sample rate from here on")
                }
                let origin = faults.slowOrigin ?? now
                faults.slowOrigin = origin
                faults.slowServed += outcome.servedInStep
                let due = origin + Int64(Double(faults.slowServed) / (fraction * rate) * 1e9)
                if due > now {
                    retry = context.eventLoop.scheduleTask(in: .nanoseconds(due - now)) { [self] in
                        retry = nil
                        deliver(outcome)
                    }
                    return
                }
            }
        }
        deliver(outcome)
    }

    private func deliver(_ outcome: StepOutcome) {
        guard let context, !ended else { return }
        holdsBoard = outcome.holdsBoard
        sessionPending = outcome.pending
        sessionHasWork = outcome.more
        if !outcome.output.isEmpty {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: outcome.output)), promise: nil)
        }
        if outcome.closed {
            ended = true
            context.close(promise: nil)
            return
        }
        if let delay = outcome.delayNanoseconds, delay > 0 {
            retry = context.eventLoop.scheduleTask(in: .nanoseconds(delay)) { [self] in
                retry = nil
                if let context = self.context { schedule(context: context) }
            }
            return
        }
        schedule(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        schedule(context: context)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        retry?.cancel()
        retry = nil
        registry.remove(self)
        let session = self.session
        let reason = closeReason ?? "the connection from \(peer) closed"
        ended = true
        // First, before any queued ordinary step: a client that went away holding the board
        // leaves it safe within one board job.
        executor.submit(urgent: true) { session.endOfInput(reason: reason) }
        log("closed \(peer)")
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        closeReason = closeReason ?? "connection error: \(error)"
        context.close(promise: nil)
    }
}
