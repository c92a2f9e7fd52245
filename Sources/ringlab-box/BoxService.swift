import ArgumentParser
import Foundation
import Hummingbird
import LabBox
import Logging
import Metrics
import Prometheus
import ReservoirControl
import ServiceLifecycle

/// `ringlab-box` (`ringlab box`): the lab controller box's service. It owns one board: a
/// persistent queue runs one job at a time on it as a child `ringlab` process, an HTTP API and a
/// live page (loopback by default, bearer token) submit, watch and cancel, and /metrics serves
/// Prometheus. See docs/box.md.
@main
struct BoxMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ringlab-box",
        abstract: "The lab controller box: a queue, a JSON API, a live page and metrics over one board.",
        subcommands: [BoxService.self, IndexBenchmark.self], defaultSubcommand: BoxService.self)
}

struct BoxService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the box (the default).")

    @Option(name: .long, help: "Board file the box owns.")
    var board = "hardware/boards/twin.yaml"

    @Option(name: .long, help: "Address to listen on (a non-loopback address needs the token file to exist).")
    var bind = "127.0.0.1"

    @Option(name: .long, help: "TCP port (0: any free port, printed on stdout).")
    var port = 8431

    @Option(name: .long, help: "State folder: queue, runs, calibrations, token (default: $RINGLAB_STATE, else ~/.local/state/ringlab).")
    var state: String?

    @Option(name: .customLong("cancel-grace"), help: "Seconds between SIGTERM and SIGKILL when a job is cancelled.")
    var cancelGrace = 10.0

    @Option(name: .customLong("ringlab"), help: "The ringlab executable jobs run (default: the one beside ringlab-box).")
    var ringlabExecutable: String?

    @Flag(name: .long, help: "Log JSON lines instead of text.")
    var json = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535; got \(port)") }
        guard cancelGrace >= 0.1, cancelGrace <= 600 else {
            throw ValidationError("--cancel-grace must be 0.1 to 600 seconds; got \(cancelGrace)")
        }
    }

    func run() async throws {
        // Before any thread starts: the service's threads stay off the drive loop's CPU.
        RealtimeThread.keepOffLoopCPU()
        let format = json
        LoggingSystem.bootstrap { label in
            format ? JSONLogHandler(label: label) as any LogHandler : StreamLogHandler.standardError(label: label)
        }
        var logger = Logger(label: "ringlab-box")
        logger.logLevel = .info
        let stateDirectory = try Self.stateDirectory(state)
        let boardFile = try Self.boardFile(board)
        let executable =
            ringlabExecutable
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("ringlab").path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ValidationError("\(executable) is not an executable ringlab; build it with make build or give --ringlab")
        }
        let tokenPath = stateDirectory + "/token"
        if !Self.isLoopback(bind) && !FileManager.default.fileExists(atPath: tokenPath) {
            throw ValidationError(
                "refusing to listen on \(bind) without a configured token: start once on 127.0.0.1 (it writes \(tokenPath)) or create it (mode 0600)")
        }
        let token = try BoxToken.loadOrCreate(at: tokenPath)

        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let metrics = BoxMetrics()
        let store = try BoxStore(path: stateDirectory + "/box.sqlite")
        let workingDirectory = FileManager.default.currentDirectoryPath
        let ringlab = RinglabProcess(executable: executable, stateDirectory: stateDirectory, workingDirectory: workingDirectory)
        let runner = JobRunner(
            store: store, ringlab: ringlab,
            configuration: {
                var configuration = JobRunner.Configuration(board: boardFile, stateDirectory: stateDirectory)
                configuration.cancelGrace = cancelGrace
                return configuration
            }(), logger: logger, onFinish: { job in metrics.jobFinished(job) })
        try runner.recover()
        metrics.safeStateEntered(reason: "service-start")

        let box = Box(
            store: store, runner: runner, token: token, registry: registry, metrics: metrics, board: boardFile,
            stateDirectory: stateDirectory, logger: logger)
        let router = box.router()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(bind, port: port), serverName: "ringlab-box"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                FileHandle.standardOutput.write(
                    Data("ringlab-box: listening on http://\(bind):\(port) (board \(boardFile), state \(stateDirectory))\n".utf8))
            },
            logger: logger)
        let queueThread = Thread { runner.run() }
        queueThread.name = "ringlab-box queue"
        queueThread.start()
        let services = ServiceGroup(
            configuration: .init(
                services: [app, MetricsRefresher(box: box)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await services.run()
        logger.info("stopping: the running job, if any, is stopped and the board driven safe")
        runner.stop()
    }

    static func isLoopback(_ address: String) -> Bool {
        address == "localhost" || address == "::1" || address.hasPrefix("127.")
    }

    static func stateDirectory(_ option: String?) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let path =
            option ?? environment["RINGLAB_STATE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NSHomeDirectory() + "/.local/state/ringlab"
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        do {
            try FileManager.default.createDirectory(atPath: absolute + "/jobs", withIntermediateDirectories: true)
        } catch {
            throw ValidationError("--state \(absolute): cannot create the state folder (\(error.localizedDescription))")
        }
        return absolute
    }

    static func boardFile(_ option: String) throws -> String {
        var path = option
        if !FileManager.default.fileExists(atPath: path) {
            // Relative to a checkout the executable was built in, or to an installation's share.
            let folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            let candidates = ["../../../", "../share/ringlab/"].map {
                folder.appendingPathComponent($0 + option).standardized.path
            }
            guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw ValidationError("--board \(option): no such board file (looked in ., \(candidates.joined(separator: ", ")))")
            }
            path = found
        }
        return path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

/// Refreshes the gauges that are read from the store and the running job's log.
struct MetricsRefresher: Service {
    let box: Box

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            box.refreshMetrics()
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
