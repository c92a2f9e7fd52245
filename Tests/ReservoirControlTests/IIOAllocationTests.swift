import CMallocCounter
import Foundation
import ReservoirControl
import ReservoirFiles
import ReservoirHAL
import ReservoirHardware
import ReservoirTesting
import RinglabJobs
import Testing

/// The per-period path through the libiio backend, against the twin served on 127.0.0.1
/// (`ringlab twin serve`), the GPIO roles routed through IIO attributes
/// (hardware/boards/twin-net.yaml): ADC refill, DAC push, interlock read and heartbeat writes
/// included, 500 periods after 100 of warm-up, no heap allocation on the loop's thread by
/// ringlab's code (libiio's own are counted apart, below).
@Suite struct IIOAllocationTests {
    @Test func thePerPeriodPathThroughLibiioDoesNotAllocate() throws {
        let (server, uri) = try ServedTwin.start(
            executable: CommandRunner.executablePath, paced: false, directory: TwinFixtures.packageRoot)
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let wiring = try DataFile.loadBoard(TwinFixtures.packageRoot + "/hardware/boards/twin-net.yaml")
        #expect(wiring.gpio.interlock.iioAttribute != nil && wiring.gpio.trigger.iioAttribute != nil, "the roles must go through IIO attributes")
        let board = try IIOBoard.make(wiring: wiring, uri: uri, clock: ManualClock())
        var settings = ReservoirSettings(operatingPoint: try #require(wiring.operatingPoint))
        settings.feedback = 0
        nonisolated(unsafe) var counted: Int?
        nonisolated(unsafe) var inLibiio = 0
        nonisolated(unsafe) var firstCaller = [CChar](repeating: 0, count: 512)
        let hooked = RefillHook.wrapping(board) { refill in
            if refill == 100 { malloc_counter_begin_excluding("libiio") }
            if refill == 600 {
                counted = malloc_counter_end()
                inLibiio = malloc_counter_excluded()
                malloc_counter_first_caller(&firstCaller, Int(firstCaller.count))
            }
        }
        let loop = try DriveLoop(board: hooked, settings: settings)
        _ = try runInputs(loop, (0..<700).map { Double($0 % 3) - 1 })
        print("per-period path through libiio, 500 periods: \(counted.map(String.init) ?? "no count") allocations by ringlab, \(inLibiio) inside libiio")
        #expect(
            counted == 0,
            "\(counted.map(String.init) ?? "no count") allocations over 500 periods, the first from \(String(cString: firstCaller))")
        // libiio 0.24's network client mallocs the channel mask it reads back with every READBUF
        // (8·words + 1 bytes, iiod_client_read_unlocked): one a period, not ours to avoid, and
        // absent from the local backend a board runs on. Counted apart, so that more would show.
        // At least one: else the exclusion or the backend changed, and this test needs a look.
        #expect(inLibiio > 0 && inLibiio <= 500, "libiio allocated \(inLibiio) times over 500 periods")
    }
}
