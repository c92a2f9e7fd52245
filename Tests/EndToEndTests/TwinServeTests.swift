import Foundation
import ReservoirFiles
import ReservoirHAL
import ReservoirHardware
import ReservoirTesting
import Testing

/// `ringlab twin serve` against libiio's own tools (Debian's libiio-utils, libiio 0.24): the
/// checklist of docs/iiod-protocol.md §9, items 1–4, on 127.0.0.1 with an ephemeral port.
@Suite(.serialized) struct TwinServeTests {
    /// A running server: the process and its URI.
    final class Server {
        let process = Process()
        let output = Pipe()
        let errors = Pipe()
        var uri = ""
        /// What the server printed on stderr so far, drained as it comes (a server whose log
        /// pipe fills up would block).
        private let log = LogBuffer()

        init(_ arguments: [String] = []) throws {
            process.executableURL = URL(fileURLWithPath: CommandRunner.executablePath)
            process.arguments = ["twin", "serve", "--port", "0"] + arguments
            process.currentDirectoryURL = URL(fileURLWithPath: TwinFixtures.packageRoot)
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            // The first line names the port.
            var line = Data()
            let handle = output.fileHandleForReading
            while !line.contains(UInt8(ascii: "\n")) {
                let byte = handle.readData(ofLength: 1)
                if byte.isEmpty { break }
                line.append(byte)
            }
            let text = String(decoding: line, as: UTF8.self)
            guard let range = text.range(of: "ip:127.0.0.1:[0-9]+", options: .regularExpression) else {
                throw ServeFailure(firstLine: text)
            }
            uri = String(text[range])
            let log = self.log
            errors.fileHandleForReading.readabilityHandler = { handle in log.append(handle.availableData) }
        }

        /// The port the server listens on.
        var port: UInt16 { UInt16(uri.split(separator: ":").last!)! }

        /// Stops the server with SIGTERM; its exit status and what it printed on stderr.
        func stop() -> (Int32, String) {
            process.terminate()
            process.waitUntilExit()
            errors.fileHandleForReading.readabilityHandler = nil
            log.append(errors.fileHandleForReading.readDataToEndOfFile())
            return (process.terminationStatus, log.text)
        }
    }

    /// Runs a tool with a time bound; (status, stdout, stderr).
    func tool(_ name: String, _ arguments: [String], input: Data? = nil) throws -> (Int32, Data, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["20", "/usr/bin/\(name)"] + arguments
        let output = Pipe()
        let errors = Pipe()
        let standardInput = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = standardInput
        try process.run()
        if let input { standardInput.fileHandleForWriting.write(input) }
        try standardInput.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let error = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, data, String(decoding: error, as: UTF8.self))
    }

    @Test func libiiosToolsWorkAgainstTheTwin() throws {
        let server = try Server()
        defer { _ = server.stop() }
        let (infoStatus, info, infoErrors) = try tool("iio_info", ["-u", server.uri])
        let listing = String(decoding: info, as: UTF8.self)
        #expect(infoStatus == 0, "\(infoErrors)")
        #expect(listing.contains("iio:device0: ring-adc (buffer capable)"))
        #expect(listing.contains("iio:device1: ring-dac (buffer capable)"))
        #expect(listing.contains("attr  3: interlock value: 0"))
        #expect(!infoErrors.contains("validity error"), "the XML must carry its DTD")

        // Attributes: write the DAC level and the amplifier line, read them back.
        let (written, echo, _) = try tool(
            "iio_attr", ["-u", server.uri, "-o", "-c", "ring-dac", "voltage0", "raw", "40000"])
        #expect(written == 0 && String(decoding: echo, as: UTF8.self) == "40000\n")
        let (_, amplifier, _) = try tool("iio_attr", ["-u", server.uri, "-d", "ring-control", "amp_enable", "1"])
        #expect(String(decoding: amplifier, as: UTF8.self) == "1\n")
        let (_, loop, _) = try tool("iio_attr", ["-u", server.uri, "-d", "ring-control", "loop_close", "1"])
        #expect(String(decoding: loop, as: UTF8.self) == "1\n")
        let (refused, _, _) = try tool("iio_attr", ["-u", server.uri, "-d", "ring-control", "interlock", "1"])
        #expect(refused != 0, "the interlock is read-only")

        // Streaming: 16 ADC samples in blocks of 8, then 32 DAC samples in blocks of 16.
        let (readStatus, samples, readErrors) = try tool(
            "iio_readdev", ["-u", server.uri, "-b", "8", "-s", "16", "ring-adc", "voltage0"])
        #expect(readStatus == 0, "\(readErrors)")
        #expect(samples.count == 32)
        let codes = stride(from: 0, to: samples.count, by: 2).map { Int(samples[$0]) | Int(samples[$0 + 1]) << 8 }
        #expect(codes.allSatisfy { $0 < 4096 }, "12-bit codes: \(codes)")
        let (writeStatus, _, writeErrors) = try tool(
            "iio_writedev", ["-u", server.uri, "-b", "16", "-s", "32", "ring-dac", "voltage0"],
            input: Data(repeating: 0x10, count: 64))
        #expect(writeStatus == 0, "\(writeErrors)")

        // A cyclic DAC buffer: one block replayed while the ADC streams, until SIGINT.
        let cyclic = Process()
        cyclic.executableURL = URL(fileURLWithPath: "/usr/bin/iio_writedev")
        cyclic.arguments = ["-u", server.uri, "-c", "-b", "32", "ring-dac", "voltage0"]
        let cyclicInput = Pipe()
        cyclic.standardInput = cyclicInput
        cyclic.standardOutput = FileHandle.nullDevice
        cyclic.standardError = FileHandle.nullDevice
        try cyclic.run()
        cyclicInput.fileHandleForWriting.write(Data(repeating: 0x20, count: 64))
        try cyclicInput.fileHandleForWriting.close()
        Thread.sleep(forTimeInterval: 0.5)
        let (whileCyclic, streamed, _) = try tool(
            "iio_readdev", ["-u", server.uri, "-b", "64", "-s", "256", "ring-adc", "voltage0"])
        #expect(whileCyclic == 0 && streamed.count == 512)
        #expect(cyclic.isRunning, "a cyclic writer runs until it is interrupted")
        kill(cyclic.processIdentifier, SIGINT)
        cyclic.waitUntilExit()

        let (status, log) = server.stop()
        #expect(status == 0, "\(log)")
        #expect(log.contains("the twin is in its safe state"))
        #expect(log.contains("connection from"))
    }

    /// hardware/boards/twin-net.yaml pointed at `uri`, in a temporary file.
    func networkBoard(uri: String) throws -> String {
        let text = try String(
            contentsOfFile: TwinFixtures.packageRoot + "/hardware/boards/twin-net.yaml", encoding: .utf8
        )
        .replacingOccurrences(of: "uri: ip:127.0.0.1:30431", with: "uri: \(uri)")
        let path = NSTemporaryDirectory() + "ringlab-twin-net-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theRingRunsOverTheNetworkAsItDoesInProcess() throws {
        let server = try Server()
        defer { _ = server.stop() }
        let board = try networkBoard(uri: server.uri)

        let info = try CommandRunner.ringlab(["info", "--board", board])
        #expect(info.status == 0, "\(info.standardError)")
        #expect(info.standardOutput.contains("GPIO interlock: ring-control attribute interlock: found"))

        // The same seed through libiio and the server, and in-process: STM within 0.3 (the
        // in-process run uses the committed calibration's bias, 1.78 V against the file's 1.7877 V).
        let network = try CommandRunner.ringlabJSON([
            "reservoir", "--task", "stm", "--seed", "1", "--board", board, "--json",
        ])
        let local = try CommandRunner.ringlabJSON(["reservoir", "--task", "stm", "--seed", "1", "--json"])
        let networkSTM = try #require(network["stm"] as? Double)
        let localSTM = try #require(local["stm"] as? Double)
        #expect(abs(networkSTM - localSTM) < 0.3, "STM over the network \(networkSTM), in-process \(localSTM)")

        // A cyclic DAC block through ringlab's libiio backend and the server's cyclic buffer.
        let remote = try IIOBoard.make(
            wiring: DataFile.loadBoard(board), uri: server.uri, clock: ManualClock())
        let swing = try CyclicContrast.measure(remote, cyclic: true)
        print("cyclic swing over the network \(swing) V")
        #expect(swing > 0.05, "cyclic swing over the network \(swing) V")

        let trained = try CommandRunner.ringlabJSON([
            "train", "ring", "--task", "moons", "--budget", "100", "--board", board, "--json",
        ])
        #expect((trained["test_accuracy"] as? Double ?? 0) > 0.6)
        let (status, _) = server.stop()
        #expect(status == 0)

        // With the server down: one line naming the URI and the reason.
        let down = try CommandRunner.ringlab(["info", "--board", board])
        #expect(down.status != 0)
        #expect(down.standardError.contains("open IIO context \"\(server.uri)\" failed"))
        #expect(down.standardError.split(separator: "\n").count == 1, "\(down.standardError)")
    }

    /// GPIO through libgpiod, on the LD_PRELOAD fake (tools/build-fake-gpiod.sh): ring-v1.yaml's
    /// lines, its converters at the server. The roles are requested with their offsets and
    /// polarity, the outputs driven to the safe state, and an open interlock contact stops a run.
    @Test func gpioRolesBindThroughLibgpiod() throws {
        let build = Process()
        build.executableURL = URL(fileURLWithPath: TwinFixtures.packageRoot + "/tools/build-fake-gpiod.sh")
        let library = NSTemporaryDirectory() + "ringlab-fake-gpiod-\(UUID().uuidString).so"
        build.arguments = [library]
        build.standardOutput = FileHandle.nullDevice
        try build.run()
        build.waitUntilExit()
        #expect(build.terminationStatus == 0)

        let server = try Server()
        defer { _ = server.stop() }
        let text = try String(
            contentsOfFile: TwinFixtures.packageRoot + "/hardware/boards/ring-v1.yaml", encoding: .utf8
        )
        .replacingOccurrences(of: "uri: \"local:\"", with: "uri: \"\(server.uri)\"")
        .replacingOccurrences(of: "device: ad5686r", with: "device: ring-dac")
        .replacingOccurrences(of: "device: ad7476a", with: "device: ring-adc")
        // The served twin streams both converters at 200 kHz with no trigger device.
        .replacingOccurrences(of: "sample_rate_hz: 10000", with: "sample_rate_hz: 200000")
        .replacingOccurrences(of: "  stream: raw ", with: "  # stream: raw ")
        .replacingOccurrences(of: "  trigger: ring_clock ", with: "  # trigger: ring_clock ")
        .replacingOccurrences(
            of: "# No operating_point",
            with: "operating_point: {bias_volts: 1.7877, span_volts: 0.15, latency_samples: 3, feedback: 2.4}\n#")
        let board = NSTemporaryDirectory() + "ringlab-gpiod-board-\(UUID().uuidString).yaml"
        try text.write(toFile: board, atomically: true, encoding: .utf8)

        func ringlab(_ arguments: [String], interlockPhysical: Int) throws -> (Int32, String, String) {
            let log = NSTemporaryDirectory() + "ringlab-gpiod-log-\(UUID().uuidString)"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandRunner.executablePath)
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: TwinFixtures.packageRoot)
            var environment = ProcessInfo.processInfo.environment
            environment["LD_PRELOAD"] = library
            environment["FAKE_GPIOD_LOG"] = log
            environment["FAKE_GPIOD_INPUT_gpiochip0_23"] = "\(interlockPhysical)"
            environment["FAKE_GPIOD_NAME_SCOPE_TRIG"] = "22"
            process.environment = environment
            let errors = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let calls = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return (process.terminationStatus, calls, message)
        }

        // Contact closed (pulled high, active-low: not asserted): info finds every role.
        let (status, calls, message) = try ringlab(["info", "--board", board], interlockPhysical: 1)
        #expect(status == 0, "\(message)")
        #expect(calls.contains("request gpiochip0 17 output active_low=0 consumer=ringlab"))
        #expect(calls.contains("request gpiochip0 27 output active_low=0 consumer=ringlab"))
        #expect(calls.contains("request gpiochip0 23 input active_low=1 consumer=ringlab"))
        #expect(calls.contains("request gpiochip0 22 output"), "the trigger, found by its name")
        #expect(calls.contains("set gpiochip0 17 physical=0") && calls.contains("set gpiochip0 27 physical=0"))

        // Contact open (low: asserted): the drive loop refuses to run and says why.
        let (stopped, _, reason) = try ringlab(["reservoir", "--task", "stm", "--board", board], interlockPhysical: 0)
        #expect(stopped != 0)
        #expect(reason.contains("interlock"), "\(reason)")
    }

    @Test func malformedInputGetsErrorsAndTheServerKeepsServing() throws {
        let server = try Server()
        defer { _ = server.stop() }
        let port = UInt16(server.uri.split(separator: ":").last!)!
        var random = SystemRandomNumberGenerator()
        let keywords = ["READ", "WRITE", "OPEN", "READBUF", "WRITEBUF", "PRINT", "TIMEOUT", "CLOSE", "GETTRIG", "SET"]
        var sent = 0
        // 20 connections × 500 lines: random words, keywords with junk, binary frames, long lines;
        // half the connections never read their replies, the other half read them all.
        for connection in 0..<20 {
            let socket = try RawSocket(port: port)
            let reads = connection % 2 == 0
            for _ in 0..<500 {
                var line: [UInt8]
                switch Int.random(in: 0..<4, using: &random) {
                case 0:
                    line = (0..<Int.random(in: 0..<200, using: &random)).map { _ in
                        UInt8.random(in: 0...255, using: &random)
                    }
                case 1:
                    line = Array(
                        "\(keywords.randomElement(using: &random)!) iio:device\(Int.random(in: 0..<4, using: &random)) \(Int.random(in: -5..<70_000, using: &random)) 0000000\(Int.random(in: 0..<4, using: &random))"
                            .utf8)
                case 2:
                    line = Array("WRITE iio:device1 OUTPUT voltage0 raw \(Int.random(in: 0..<8, using: &random))".utf8)
                default: line = [UInt8](repeating: UInt8(ascii: "A"), count: Int.random(in: 0..<6_000, using: &random))
                }
                #expect(socket.send(line + [UInt8(ascii: "\n")]), "the server dropped connection \(connection)")
                if reads { socket.drain() }
                sent += 1
            }
            socket.close()
        }
        #expect(sent >= 10_000)
        // Memory stayed bounded: the server's resident set after the fuzz.
        let status = try String(contentsOfFile: "/proc/\(server.process.processIdentifier)/status", encoding: .utf8)
        let residentLine = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        let residentKilobytes = Int(residentLine.split(separator: " ").dropFirst().first ?? "") ?? 0
        #expect(residentKilobytes > 0 && residentKilobytes < 200_000, "server resident set \(residentKilobytes) kB")
        let (infoStatus, info, errors) = try tool("iio_info", ["-u", server.uri])
        #expect(infoStatus == 0, "\(errors)")
        #expect(String(decoding: info, as: UTF8.self).contains("ring-control"))
        let (stopStatus, log) = server.stop()
        #expect(stopStatus == 0, "\(log)")
    }
}

/// Bytes appended from a reading thread, read at the end.
final class LogBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ more: Data) { lock.withLock { data.append(more) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}

struct ServeFailure: Error {
    var firstLine: String
}

/// A TCP client socket to 127.0.0.1 that sends without waiting for replies (a peer that never
/// reads: the server must not block on it).
struct RawSocket {
    let descriptor: Int32

    init(port: UInt16) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
        // A send that cannot complete within 5 s fails the test instead of hanging it.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends all of `bytes`; false when the peer closed.
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    /// Reads whatever replies are waiting, without blocking.
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while buffer.withUnsafeMutableBytes({ recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) > 0 {}
    }

    /// Reads one reply line (without its newline), waiting up to 5 s.
    func readLine() -> String {
        var line: [UInt8] = []
        while let byte = readBytes(1).first, byte != UInt8(ascii: "\n") { line.append(byte) }
        return String(decoding: line, as: UTF8.self)
    }

    /// Reads exactly `count` bytes (fewer if the peer closes or 5 s pass).
    func readBytes(_ count: Int) -> [UInt8] {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var bytes = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = bytes.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress! + got, count - got, 0) }
            if n <= 0 { break }
            got += n
        }
        return Array(bytes.prefix(got))
    }

    func close() { _ = Glibc.close(descriptor) }
}
