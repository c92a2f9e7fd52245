import Foundation
import ReservoirFiles
import RinglabJobs

/// What a run is saved with so that it can be traced and repeated: the board file and the
/// calibration in force (paths and SHA-256), ringlab's version and git commit.
public struct Provenance: Sendable {
    public var version: String
    public var gitCommit: String

    /// Reads ringlab's version from the executable and the commit from the checkout it was
    /// built in ("unknown" when there is none, as on an installed box without git).
    public static func of(_ ringlab: RinglabProcess) -> Provenance {
        var version = "unknown"
        if let outcome = try? ringlab.run(["version", "--json"], timeout: 10),
            let object = try? JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: String],
            let value = object["ringlab"]
        {
            version = value
        }
        return Provenance(version: version, gitCommit: gitCommit(near: ringlab.executable))
    }

    /// `git rev-parse HEAD` in the folder holding the executable, "+dirty" when the checkout
    /// has changes.
    static func gitCommit(near executable: String) -> String {
        let folder = URL(fileURLWithPath: executable).deletingLastPathComponent().path
        func git(_ arguments: [String]) -> String? {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
            process.arguments = ["-C", folder] + arguments
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return nil }
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { return nil }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let commit = git(["rev-parse", "HEAD"]), !commit.isEmpty else { return "unknown" }
        let dirty = git(["status", "--porcelain", "--untracked-files=no"]).map { !$0.isEmpty } ?? false
        return dirty ? commit + "+dirty" : commit
    }

    /// The board file's digest and the calibration in force for it (from the box's state
    /// folder, else the installation's), as `calibrate` and `train ring` would find it.
    public static func board(_ boardFile: String, stateDirectory: String) -> (
        boardSHA256: String?, calibrationPath: String?, calibrationSHA256: String?
    ) {
        let boardSHA = try? SHA256.hexDigest(ofFile: boardFile)
        guard let wiring = try? DataFile.loadBoard(boardFile),
            let found = try? Composition.currentCalibration(
                board: wiring.name, serial: wiring.serial, stateOption: stateDirectory + "/calibration")
        else { return (boardSHA, nil, nil) }
        return (boardSHA, found.path, try? SHA256.hexDigest(ofFile: found.path))
    }
}
