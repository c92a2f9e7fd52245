import ArgumentParser
import Dispatch
import Foundation
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

    @Option(name: .long, help: "TCP port (0: any free port, printed on stdout).")
    var port = 30_431

    @Option(name: .long, help: "Address to bind (default 127.0.0.1: this machine only).")
    var bind = "127.0.0.1"

    @Option(name: .long, help: "Board file of the twin (default hardware/boards/twin.yaml).")
    var board = "hardware/boards/twin.yaml"

    @Option(name: .long, help: "Twin parameter file (default: the one the board file names).")
    var twin: String?

    @Option(name: .long, help: "Seed of the twin's noise.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Draw the twin's hidden parameters from this seed.")
    var randomize: UInt64?

    @Flag(name: .long, help: "Run the twin at the sample rate on the wall clock (default: lock-step).")
    var paced = false

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
            let server = IIODServer(board: device)
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

TwinServe.main()
