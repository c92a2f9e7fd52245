import ReservoirFiles
import ReservoirHAL
import ReservoirTwin

/// Paths and ready-made twins for tests, found relative to the package root.
public enum TwinFixtures {
    /// The package root (this file is Sources/ReservoirTesting/TwinFixtures.swift).
    public static let packageRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    /// `hardware/boards/twin.yaml`.
    public static var twinBoardPath: String { packageRoot + "/hardware/boards/twin.yaml" }
    /// `hardware/twin/ring-default.yaml`.
    public static var defaultParametersPath: String { packageRoot + "/hardware/twin/ring-default.yaml" }

    /// The default twin's parameters, as loaded from the repository's file.
    public static func defaultParameters() throws -> TwinParameters {
        try TwinParameters(parsing: DataFile.load(defaultParametersPath), source: defaultParametersPath)
    }

    /// The twin board file, loaded.
    public static func twinWiring() throws -> BoardDescription {
        try DataFile.loadBoard(twinBoardPath)
    }

    /// A twin and its board from the default files (optionally with parameters changed), in
    /// lock-step unless given another clock.
    public static func twinBoard(
        seed: UInt64 = 1, clock: any BoardClock = ManualClock(), adjust: (inout TwinParameters) -> Void = { _ in }
    ) throws -> (twin: RingTwin, board: Board) {
        var parameters = try defaultParameters()
        adjust(&parameters)
        let twin = RingTwin(parameters: parameters, seed: seed, clock: clock)
        return (twin, try twin.makeBoard(wiring: twinWiring()))
    }
}
