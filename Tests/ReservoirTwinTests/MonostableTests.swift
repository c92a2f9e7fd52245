import ReservoirCalibration
import ReservoirFiles
import ReservoirHAL
import ReservoirTesting
import ReservoirTwin
import Testing

/// The heartbeat monostable (issue 12): with `heartbeat_hold_ms` in the twin file and a
/// heartbeat role in the board file, the amplifier conducts only within the hold time of the
/// last heartbeat edge — so the ring stops when the loop stops toggling, with nothing in
/// software saying so.
@Suite struct MonostableTests {
    @Test func theAmplifierDropsOneHoldTimeAfterTheLastHeartbeat() throws {
        var parameters = try TwinFixtures.defaultParameters()
        parameters.heartbeatHold = .milliseconds(1)  // 200 samples at 200 kHz
        var wiring = try TwinFixtures.twinWiring()
        wiring.gpio.heartbeat = BoardDescription.Line(chip: "twin", offset: 0, activeLow: false)
        let twin = RingTwin(parameters: parameters, seed: 3)
        let board = try twin.makeBoard(wiring: wiring)
        let heartbeat = try #require(board.heartbeat)
        let readout = readout(parameters)
        #expect(!twin.monostableHigh, "a fitted monostable starts fallen")

        try board.dac.hold(Volts(parameters.dacRequestVolts(forGain: 1.2)))
        try board.enableRing()
        // The loop toggles every 100 samples (a period): the ring runs.
        var level = false
        var powers: [Double] = []
        for _ in 0..<30 {
            level.toggle()
            try heartbeat.set(level)
            powers = try readADC(board, count: 100).map { readout.power(fromADC: Volts($0)) }
        }
        #expect(powers.allSatisfy { abs($0 - 0.2) < 0.03 }, "ring on at G = 1.2: P ≈ 0.2")
        // The loop stops: no more edges, amp_enable still asserted.
        let after = try readADC(board, count: 400).map { readout.power(fromADC: Volts($0)) }
        #expect(twin.ringEnabled, "nothing in software switched the amplifier off")
        #expect(!twin.monostableHigh)
        // Edge at sample 0 of this block − 100: the output falls at sample 100 of it; then the
        // ADC latency (3) and the video filter (3) as in the GPIO collapse tests.
        #expect(after.prefix(95).allSatisfy { abs($0 - 0.2) < 0.03 }, "still held")
        #expect(after.dropFirst(110).allSatisfy { $0 < 5e-4 }, "dropped after the hold time")
        // One edge brings it back.
        try heartbeat.set(!level)
        #expect(twin.monostableHigh)
    }

    @Test func theHoldTimeIsReadFromTheTwinFile() throws {
        let yaml = try String(contentsOfFile: TwinFixtures.defaultParametersPath, encoding: .utf8)
        for (value, expected) in [("2.5", Duration.microseconds(2_500)), ("1e9", nil), ("-1", nil), ("nan", nil)] {
            let node = try DataFile.parse(yaml + "\nheartbeat_hold_ms: \(value)\n", file: "twin.yaml")
            let parsed = try? TwinParameters(parsing: node, source: "twin.yaml")
            #expect(parsed?.heartbeatHold == expected, "heartbeat_hold_ms: \(value)")
        }
    }
}
