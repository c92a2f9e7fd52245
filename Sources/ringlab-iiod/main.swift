import ArgumentParser
import Dispatch
import Foundation
import IIODProtocol
import IIODServer
import ReservoirFiles
import ReservoirHAL
import ReservoirHardware
import ReservoirTwin

/// `ringlab-iiod` (what `ringlab twin serve` runs): the twin behind an iiod (libiio 0.24 network
/// protocol) server, so that libiio's tools and any libiio client can use it as they would a
/// board. A separate executable so that `ringlab` itself builds without SwiftNIO (`make demo`).
struct TwinServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ringlab twin serve", abstract: "Serve the twin over the libiio network protocol (iiod).")

    @Option(name: .long, parsing: .unconditional, help: "TCP port, 1 to 65535 (0: any free port, printed on stdout).")
    var port = 30_431

    @Option(name: .long, help: "Address to bind (default 127.0.0.1: this machine only).")
    var bind = "127.0.0.1"

    @Flag(
        name: .customLong("allow-remote"),
        help: "Allow binding to an address other machines can reach (the protocol has no authentication).")
    var allowRemote = false

    @Option(name: .long, help: "Board file of the twin (default hardware/boards/twin.yaml).")
    var board = "hardware/boards/twin.yaml"

    @Option(name: .long, help: "Twin parameter file (default: the one the board file names).")
    var twin: String?

    @Option(name: .long, parsing: .unconditional, help: "Seed of the twin's noise.")
    var seed: UInt64 = 1

    @Option(name: .long, parsing: .unconditional, help: "Draw the twin's hidden parameters from this seed.")
    var randomize: UInt64?

    @Flag(name: .long, help: "Run the twin at the sample rate on the wall clock (default: lock-step).")
    var paced = false

    @Flag(name: .long, help: "Print the listening line as JSON ({\"uri\": …, \"paced\": …}).")
    var json = false

    @Option(
        name: .customLong("dead-man-ms"), parsing: .unconditional,
        help: "Paced: drive the board safe when a DAC stream has run dry this long, 1 to 600000 ms (default 2500).")
    var deadManMilliseconds = 2_500

    @Option(
        name: .customLong("idle-timeout-s"), parsing: .unconditional,
        help: "Close a connection that holds the board (lines on, DAC open) after this long silent, 1 to 86400 s (default 60).")
    var idleTimeoutSeconds = 60

    @Option(name: .customLong("max-connections"), parsing: .unconditional, help: "Connections at once, 2 to 1024 (default 32).")
    var maximumConnections = 32

    @Option(
        name: .long,
        help:
            "Network faults to inject on purpose, comma-separated: stall@T (the streaming connection stops answering after T s of samples served), drop@T (it is closed), slow@RATE (samples served at RATE × the sample rate, 0 < RATE < 1).")
    var inject: String?

    func validate() throws {
        if let inject {
            do { _ = try NetworkFault.list(parsing: inject) } catch { throw ValidationError("--inject: \(error)") }
        }
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0 to 65535; found \(port)") }
        guard (1...600_000).contains(deadManMilliseconds) else {
            throw ValidationError("--dead-man-ms must be 1 to 600000; found \(deadManMilliseconds)")
        }
        guard (1...86_400).contains(idleTimeoutSeconds) else {
            throw ValidationError("--idle-timeout-s must be 1 to 86400; found \(idleTimeoutSeconds)")
        }
        guard (2...1_024).contains(maximumConnections) else {
            throw ValidationError("--max-connections must be 2 to 1024; found \(maximumConnections)")
        }
        if !Self.isLoopback(bind) && !allowRemote {
            throw ValidationError(
                "--bind \(bind) would let any machine that reaches it switch the amplifier: the iiod protocol has no authentication. Serve on 127.0.0.1 and tunnel (ssh -L 30431:127.0.0.1:30431 box), or add --allow-remote"
            )
        }
    }

    /// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    func run() throws {
        do {
            let wiring = try DataFile.loadBoard(board)
            guard case .twin(let parametersPath) = wiring.backend else {
                throw ServeError(description: "\(board): backend must be twin to serve it")
            }
            let path = twin ?? parametersPath
            var parameters = try TwinParameters(parsing: DataFile.load(path), source: path)
            if let randomize { parameters = parameters.randomized(seed: randomize) }
            let clock: any BoardClock = paced ? MonotonicClock() : ManualClock()
            let device = try RingTwin(parameters: parameters, seed: seed, clock: clock).makeBoard(wiring: wiring)
            var options = IIODServer.Options(
                timing: IIODContext.Timing(
                    paced: paced, sampleRate: device.sampleRate, deadMan: .milliseconds(deadManMilliseconds)))
            options.idleTimeout = .seconds(idleTimeoutSeconds)
            options.maximumConnections = maximumConnections
            options.faults = try inject.map { text throws(NetworkFaultError) in try NetworkFault.list(parsing: text) } ?? []
            let server = IIODServer(board: device, options: options)
            server.log = { line in FileHandle.standardError.write(Data("twin serve: \(line)\n".utf8)) }
            if !Self.isLoopback(bind) {
                FileHandle.standardError.write(
                    Data(
                        "twin serve: WARNING: serving on \(bind) (--allow-remote). The iiod protocol has no authentication: anyone who reaches this port can switch the amplifier and drive the DAC. Prefer 127.0.0.1 with an SSH tunnel.\n"
                            .utf8))
            }
            let bound: Int
            do { bound = try server.start(host: bind, port: port) } catch {
                throw ServeError(description: "cannot listen on \(bind):\(port): \(error)")
            }
            if json {
                print("{\"uri\": \"ip:\(bind):\(bound)\", \"paced\": \(paced)}")
            } else {
                print("twin serve: listening on \(bind):\(bound) (ip:\(bind):\(bound)), \(paced ? "paced" : "lock-step")")
            }
            fflush(nil)
            // SIGINT/SIGTERM: stop listening, close the connections, leave the twin safe.
            let stopped = DispatchSemaphore(value: 0)
            var sources: [DispatchSourceSignal] = []
            for number in [SIGINT, SIGTERM] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { stopped.signal() }
                source.resume()
                sources.append(source)
            }
            stopped.wait()
            server.stop()
            FileHandle.standardError.write(Data("twin serve: stopped; the twin is in its safe state\n".utf8))
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("ringlab: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

struct ServeError: Error, CustomStringConvertible {
    var description: String
}

// A usage error is one line on stderr with status 64, as `ringlab` prints it (Ringlab.main).
do {
    var command = try TwinServe.parseAsRoot()
    try command.run()
} catch {
    guard TwinServe.exitCode(for: error) == .validationFailure else { TwinServe.exit(withError: error) }
    let first = TwinServe.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
    FileHandle.standardError.write(Data("ringlab: \(first) (ringlab twin serve --help)\n".utf8))
    exit(ExitCode.validationFailure.rawValue)
}
