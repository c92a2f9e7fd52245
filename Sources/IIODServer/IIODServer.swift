import NIOCore
import NIOPosix
import ReservoirHAL

/// The iiod protocol server (SwiftNIO): presents a `Board` as IIO devices to any libiio 0.24
/// client. All connections run on one event loop, so the board is only ever touched from one
/// thread; each connection is an `IIODSession`. Binds 127.0.0.1 unless told otherwise and
/// serves at most `maximumConnections` at once.
public final class IIODServer {
    public let context: IIODContext
    public static let maximumConnections = 16
    private let group: MultiThreadedEventLoopGroup
    private var channel: Channel?
    /// Called (on the event loop) with one line per connection event.
    public var log: @Sendable (String) -> Void = { _ in }

    public init(board: Board) {
        context = IIODContext(board: board)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Starts listening; returns the port bound (useful with port 0).
    public func start(host: String = "127.0.0.1", port: Int) throws -> Int {
        let context = self.context
        let log = self.log
        let connections = ConnectionCount()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 16)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                guard connections.value < IIODServer.maximumConnections else {
                    log(
                        "refused \(channel.remoteAddress?.description ?? "?"): \(IIODServer.maximumConnections) connections open"
                    )
                    return channel.close()
                }
                connections.value += 1
                log("connection from \(channel.remoteAddress?.description ?? "?")")
                channel.closeFuture.whenComplete { _ in
                    connections.value -= 1
                    log("closed \(channel.remoteAddress?.description ?? "?")")
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        SessionHandler(session: IIODSession(context: context)))
                }
            }
        let bound = try bootstrap.bind(host: host, port: port).wait()
        channel = bound
        return bound.localAddress?.port ?? port
    }

    /// Stops listening, closes every connection, then puts the board in its safe state.
    public func stop() {
        try? channel?.close().wait()
        try? group.syncShutdownGracefully()
        context.board.enterSafeStateReporting()
    }
}

/// Connections open now (touched only on the server's one event loop).
private final class ConnectionCount: @unchecked Sendable {
    var value = 0
}

/// Feeds a connection's bytes to its session and writes the replies.
private final class SessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let session: IIODSession

    init(session: IIODSession) { self.session = session }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        let reply = session.receive(bytes)
        if !reply.isEmpty {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)), promise: nil)
        }
        if session.closed {
            context.close(promise: nil)
        } else if !context.channel.isWritable {
            // A client that does not read its replies: stop reading its requests until it
            // does, so unsent replies cannot pile up (NIO's write watermarks bound them).
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            session.endOfInput()
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        session.endOfInput()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        session.endOfInput()
        context.close(promise: nil)
    }
}
