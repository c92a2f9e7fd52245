import ArgumentParser
import Dispatch
import Foundation
import IIODServer
import ReservoirHAL
import ReservoirHardware

/// `ringlab twin serve`: the twin behind an iiod (libiio 0.24 network protocol) server, so
/// that libiio's tools and any libiio client can use it as they would a board.
struct TwinServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the twin over the libiio network protocol (iiod).")

    @Option(name: .long, help: "TCP port (0: any free port, printed on stdout).")
    var port = 30_431

    @Option(name: .long, help: "Address to bind (default 127.0.0.1: this machine only).")
    var bind = "127.0.0.1"

    @Option(name: .long, help: "Twin parameter file (default: the one the board file names).")
    var twin: String?

    @Option(name: .long, help: "Seed of the twin's noise.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Draw the twin's hidden parameters from this seed.")
    var randomize: UInt64?

    @Flag(name: .long, help: "Run the twin at the sample rate on the wall clock (default: lock-step).")
    var paced = false

    func run() throws {
        try reportingErrors {
            let clock: any BoardClock = paced ? MonotonicClock() : ManualClock()
            let (board, _) = try Composition.board(
                file: Composition.locateDefault(Composition.defaultBoardFile), seed: seed, clock: clock,
                randomize: randomize, twinFile: twin)
            let server = IIODServer(board: board)
            server.log = { line in FileHandle.standardError.write(Data("twin serve: \(line)\n".utf8)) }
            let bound = try server.start(host: bind, port: port)
            print("twin serve: listening on \(bind):\(bound) (ip:\(bind):\(bound)), \(paced ? "paced" : "lock-step")")
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
        }
    }
}
