import CMallocCounter
import Foundation
import ReservoirControl
import ReservoirFiles
import ReservoirHAL
import ReservoirHardware
import ReservoirTesting
import Testing

/// The per-period path through the libiio backend, against the twin served on 127.0.0.1
/// (`ringlab twin serve`), the GPIO roles routed through IIO attributes
/// (hardware/boards/twin-net.yaml): ADC refill, DAC push, interlock read and heartbeat writes
/// included, 500 periods after 100 of warm-up, no heap allocation on the loop's thread.
@Suite struct IIOAllocationTests {
    @Test func thePerPeriodPathThroughLibiioDoesNotAllocate() throws {
        let server = Process()
        let output = Pipe()
        server.executableURL = URL(fileURLWithPath: CommandRunner.executablePath)
        server.arguments = ["twin", "serve", "--port", "0"]
        server.currentDirectoryURL = URL(fileURLWithPath: TwinFixtures.packageRoot)
        server.standardOutput = output
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        let uri = try #require(text.range(of: "ip:127.0.0.1:[0-9]+", options: .regularExpression).map { String(text[$0]) })
        let wiring = try DataFile.loadBoard(TwinFixtures.packageRoot + "/hardware/boards/twin-net.yaml")
        #expect(wiring.gpio.interlock.iioAttribute != nil && wiring.gpio.trigger.iioAttribute != nil, "the roles must go through IIO attributes")
        let board = try IIOBoard.make(wiring: wiring, uri: uri, clock: ManualClock())
        var settings = ReservoirSettings(operatingPoint: try #require(wiring.operatingPoint))
        settings.feedback = 0
        nonisolated(unsafe) var counted: Int?
        let hooked = RefillHook.wrapping(board) { refill in
            if refill == 100 { malloc_counter_begin() }
            if refill == 600 { counted = malloc_counter_end() }
        }
        let loop = try DriveLoop(board: hooked, settings: settings)
        _ = try runInputs(loop, (0..<700).map { Double($0 % 3) - 1 })
        #expect(counted != nil && counted! <= 500, "\(counted.map(String.init) ?? "no count") allocations over 500 periods")
        // Open (issue 13, deliverable 5): the operation strings and the GPIO attributes no longer
        // allocate (2 → 1 per period); one allocation per period remains in the libiio path.
        // Recorded as a known issue, so this fails the day it is fixed and must be tightened.
        withKnownIssue("one allocation per period remains on the libiio path") {
            #expect(counted == 0, "\(counted.map(String.init) ?? "no count") allocations over 500 periods")
        }
    }
}
