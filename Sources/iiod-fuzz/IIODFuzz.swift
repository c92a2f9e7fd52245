import Foundation
import IIODProtocol
import ReservoirFiles
import ReservoirHAL
import ReservoirTwin

/// The libFuzzer target over one iiod protocol session (docs/iiod-protocol.md), the default
/// twin behind it in lock-step. Each input is a client's byte stream; it is fed to a fresh
/// session in pieces whose sizes come from the input's first byte, so that frames split across
/// reads are covered too.
///
/// Built by `make fuzz` with `-D FUZZING -sanitize=fuzzer,address`, libFuzzer drives
/// `LLVMFuzzerTestOneInput`. Built plainly (every `make build`), `iiod-fuzz FILE…` replays
/// inputs — the committed corpus and every crash found — through the same function, and exits 1
/// naming the first input after which the server broke a bound.
enum IIODFuzz {
    /// The twin board, made once (the process is the fuzzer's: one board, many sessions).
    nonisolated(unsafe) static let board: Board = {
        let root = ProcessInfo.processInfo.environment["RINGLAB_HOME"] ?? FileManager.default.currentDirectoryPath
        do {
            let wiring = try DataFile.loadBoard(root + "/hardware/boards/twin.yaml")
            guard case .twin(let parametersPath) = wiring.backend else { fatalError("twin.yaml is not a twin board") }
            let parameters = try TwinParameters(parsing: DataFile.load(parametersPath), source: parametersPath)
            return try RingTwin(parameters: parameters, seed: 1).makeBoard(wiring: wiring)
        } catch {
            fatalError("iiod-fuzz: run from the repository root (or set RINGLAB_HOME): \(error)")
        }
    }()

    /// One input through one session; false when a reply broke the protocol's bounds.
    static func run(_ data: UnsafeBufferPointer<UInt8>) -> Bool {
        let context = IIODContext(board: board)
        let session = IIODSession(context: context)
        let piece = max(Int(data.first ?? 1), 1)
        var offset = data.isEmpty ? 0 : 1
        while offset < data.count && !session.closed {
            let end = min(offset + piece, data.count)
            _ = session.receive(data[offset..<end])
            offset = end
            // What a session may hold: one line, one attribute value (the server bounds the rest).
            if session.pendingBytes > 2 * IIODSession.maximumLineLength + 256 { return false }
        }
        session.endOfInput()
        // A session that went away leaves nothing open and the board safe if it held it.
        return context.board.enterSafeStateReporting().isSafe
    }
}

#if FUZZING
    /// libFuzzer's driver (`-sanitize=fuzzer` links it): parses libFuzzer's flags and runs the
    /// callback on each input.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    // SwiftPM links an executable's entry point under the module's name; libFuzzer supplies the
    // loop, so the entry point hands over to it.
    @_cdecl("iiod_fuzz_main")
    func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        var count = argc
        var arguments = argv
        return runFuzzerDriver(&count, &arguments) { data, size in
            guard let data else { return 0 }
            if !IIODFuzz.run(UnsafeBufferPointer(start: data, count: size)) { abort() }
            return 0
        }
    }
#else
    @main
    struct Replay {
        static func main() {
            let paths = CommandLine.arguments.dropFirst().flatMap { path -> [String] in
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue
                else { return [path] }
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                return names.sorted().filter { !$0.hasPrefix(".") }.map { "\(path)/\($0)" }
            }
            guard !paths.isEmpty else {
                FileHandle.standardError.write(Data("usage: iiod-fuzz FILE|FOLDER… (replays fuzz inputs)\n".utf8))
                exit(64)
            }
            for path in paths {
                guard let bytes = FileManager.default.contents(atPath: path) else {
                    FileHandle.standardError.write(Data("iiod-fuzz: cannot read \(path)\n".utf8))
                    exit(1)
                }
                let ok = [UInt8](bytes).withUnsafeBufferPointer { IIODFuzz.run($0) }
                if !ok {
                    FileHandle.standardError.write(Data("iiod-fuzz: \(path) broke a bound\n".utf8))
                    exit(1)
                }
            }
            print("iiod-fuzz: replayed \(paths.count) inputs")
        }
    }
#endif
