import CMallocCounter
import ReservoirControl
import ReservoirHAL
import ReservoirTesting
import ReservoirTwin
import Testing

/// A lock-step twin board (optionally with parameters changed) and default reservoir settings.
func loopOnTwin(
    seed: UInt64 = 1, adjust: (inout TwinParameters) -> Void = { _ in },
    configure: (inout ReservoirSettings) -> Void = { _ in }
) throws -> (twin: RingTwin, board: Board, settings: ReservoirSettings) {
    let (twin, board) = try TwinFixtures.twinBoard(seed: seed, adjust: adjust)
    var settings = ReservoirSettings(operatingPoint: try #require(board.wiring.operatingPoint))
    configure(&settings)
    return (twin, board, settings)
}

/// Runs `loop` over `inputs` (one scalar per input, spread by a ±1 mask) and returns the states.
func runInputs(_ loop: DriveLoop, _ inputs: [Double], scale: Double = 0.8) throws -> [Double] {
    let nodes = loop.settings.nodes
    var drive = [Double](repeating: 0, count: inputs.count * nodes)
    for (k, u) in inputs.enumerated() {
        for i in 0..<nodes { drive[k * nodes + i] = scale * u * (i % 2 == 0 ? 1 : -1) }
    }
    var states = [Double](repeating: 0, count: inputs.count * nodes)
    try drive.withUnsafeBufferPointer { d throws(LoopStopped) in
        try states.withUnsafeMutableBufferPointer { s throws(LoopStopped) in
            try loop.run(drive: d, inputCount: inputs.count, states: s)
        }
    }
    return states
}

@Suite struct DriveLoopTests {
    @Test func theFeedbackDelayIsCausalForTheLatency() throws {
        let (_, board, settings) = try loopOnTwin()
        // Double buffering puts the drive 2 periods ahead; a latency of 3 samples makes each
        // period complete one block later: D ≥ 3.
        #expect(settings.minimumDelayPeriods == 3)
        var tooShort = settings
        tooShort.delayPeriods = 2
        #expect(tooShort.problem(on: board.wiring)?.contains("not causal") == true)
        var noLatency = settings
        noLatency.operatingPoint.latencySamples = 0
        #expect(noLatency.minimumDelayPeriods == 2)
        var noFeedback = settings
        noFeedback.feedback = 0
        #expect(noFeedback.effectiveDelayPeriods == 1)
    }

    @Test func statesAreAlignedWithTheConverterLatency() throws {
        // The same seed with latency 0 and latency 7 and the loop told each: the aligned
        // states are identical, sample for sample.
        let inputs = (0..<60).map { Double(($0 * 7) % 5) / 4 - 0.5 }
        let (_, prompt, promptSettings) = try loopOnTwin(seed: 4, adjust: { $0.adcLatencySamples = 0 }) {
            $0.operatingPoint.latencySamples = 0
            $0.delayPeriods = 3
        }
        let (_, late, lateSettings) = try loopOnTwin(seed: 4, adjust: { $0.adcLatencySamples = 7 }) {
            $0.operatingPoint.latencySamples = 7
            $0.delayPeriods = 3
        }
        let promptStates = try runInputs(DriveLoop(board: prompt, settings: promptSettings), inputs)
        let lateStates = try runInputs(DriveLoop(board: late, settings: lateSettings), inputs)
        #expect(promptStates == lateStates)
    }

    @Test func withoutFeedbackAStateDependsOnlyOnItsOwnInput() throws {
        // η = 0: the ring's memory (2.5 µs at G ≈ 1.12) is far shorter than a node, so equal
        // inputs give equal states whatever came before, up to the ring's noise.
        let (_, board, settings) = try loopOnTwin(configure: { $0.feedback = 0 })
        let inputs: [Double] = [1, -1, 1, 1, -1, -1, 1, -1, 1, 1]
        let states = try runInputs(DriveLoop(board: board, settings: settings), inputs)
        let nodes = settings.nodes
        func row(_ k: Int) -> ArraySlice<Double> { states[(k * nodes)..<((k + 1) * nodes)] }
        for (a, b) in [(0, 2), (2, 3), (1, 4), (4, 5), (6, 8)] {
            let largest = zip(row(a), row(b)).map { abs($0 - $1) }.max()!
            // 0.12: a node's noise is σ ≈ 0.02 in x̂ (σ_P ≈ 3e-3 over 3 samples, on a full scale
            // of ≈ 0.1 in P), so a difference of two has σ ≈ 0.028 and the largest of 50 stays
            // below 4.3σ.
            #expect(largest < 0.12, "inputs \(a) and \(b) differ by \(largest)")
        }
        // And opposite inputs give clearly different states on every node.
        #expect(zip(row(0), row(1)).allSatisfy { abs($0 - $1) > 0.2 })
    }

    @Test func theNormalizationPutsTheBiasAtOneHalf() throws {
        let (_, board, settings) = try loopOnTwin(configure: { $0.feedback = 0 })
        let states = try runInputs(DriveLoop(board: board, settings: settings), [Double](repeating: 0, count: 20))
        let mean = states.reduce(0, +) / Double(states.count)
        #expect(abs(mean - 0.5) < 0.01)
    }

    @Test func drivesOutsideTheSafeRangeNeverReachTheDAC() throws {
        // Whatever the caller asks (huge inputs, huge feedback, a span beyond the rails), every
        // pushed sample stays inside the board's drive range, and the twin's DAC never
        // outputs more than the range's top.
        let (twin, board, _) = try loopOnTwin()
        var settings = ReservoirSettings(operatingPoint: board.wiring.operatingPoint!)
        settings.operatingPoint.spanVolts = Volts(2.0)
        settings.feedback = 50
        let (traced, trace) = BoardTrace.wrapping(board)
        let loop = try DriveLoop(board: traced, settings: settings)
        _ = try runInputs(loop, (0..<100).map { $0 % 2 == 0 ? 1e6 : -1e6 }, scale: 1)
        let range = board.wiring.driveRange
        var pushes = 0
        for (_, event) in trace.events {
            if case .push(let minimum, let maximum) = event {
                pushes += 1
                #expect(minimum >= range.lowerBound && maximum <= range.upperBound)
            }
        }
        #expect(pushes > 300)
        #expect(twin.dacOutput.value <= twin.dacOutputVolts(forRequest: range.upperBound) + 1e-12)
    }

    @Test func theAllocationCounterSeesAllocations() {
        // The counter interposes on malloc for the whole test process; without this check a
        // broken interposition would make the next test pass vacuously.
        malloc_counter_begin()
        let array = [Int](repeating: 7, count: Int.random(in: 1000...2000))
        let counted = malloc_counter_end()
        #expect(array.count >= 1000)
        #expect(counted >= 1)
    }

    @Test func thePerPeriodPathDoesNotAllocate() throws {
        // Count heap allocations on the loop's thread over 500 steady periods (after 100 of
        // warm-up: first-use metadata, lazily built tables), ADC refill, safety checks, state
        // extraction, drive computation, DAC push and statistics included.
        let (_, board, settings) = try loopOnTwin()
        nonisolated(unsafe) var counted: Int?
        let hooked = RefillHook.wrapping(board) { refill in
            if refill == 100 { malloc_counter_begin() }
            if refill == 600 { counted = malloc_counter_end() }
        }
        let loop = try DriveLoop(board: hooked, settings: settings)
        _ = try runInputs(loop, (0..<300).map { Double($0 % 3) - 1 })
        #expect(counted == 0)
    }
}
