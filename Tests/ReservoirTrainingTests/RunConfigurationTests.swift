import Foundation
import ReservoirTraining
import Testing

/// A run folder written before a setting existed still loads: the keys its config.json lacks
/// come from the defaults, at every depth, and nothing the file says is changed.
@Suite struct RunConfigurationTests {
    struct Inner: Codable, Equatable {
        var kept = 1
        var added = 2
    }
    enum Kind: Codable, Equatable {
        case plain
        case scaled(Double)
    }
    struct Settings: Codable, Equatable {
        var rate = 1.5
        var inner = Inner()
        var kind = Kind.plain
        var widths = [1, 2]
        var optional: Int?
        var added = "today's default"
    }

    func folder(holding json: String) throws -> RunDirectory {
        let path = NSTemporaryDirectory() + "ringlab-config-\(UUID().uuidString)"
        let folder = try RunDirectory(path: path)
        try Data(json.utf8).write(to: URL(fileURLWithPath: path + "/config.json"))
        return folder
    }

    @Test func missingKeysTakeTheDefaultsAndSavedValuesStand() throws {
        let folder = try folder(
            holding: #"{"rate": 3, "inner": {"kept": 5}, "kind": {"scaled": {"_0": 2}}, "widths": [7], "optional": 4}"#)
        let loaded = try folder.loadConfiguration(Settings.self, defaults: Settings())
        #expect(loaded.rate == 3 && loaded.inner == Inner(kept: 5, added: 2) && loaded.kind == .scaled(2))
        #expect(loaded.widths == [7] && loaded.optional == 4 && loaded.added == "today's default")
    }

    @Test func aFileThatIsNotAConfigurationIsNamed() throws {
        let folder = try folder(holding: #"{"rate": "fast"}"#)
        #expect {
            _ = try folder.loadConfiguration(Settings.self, defaults: Settings())
        } throws: { error in
            "\(error)".contains("config.json") && "\(error)".contains("rate")
        }
    }
}
