import Foundation
import ReservoirTesting
import Testing

/// The CLI on the twin, as a user runs it (the acceptance commands).
@Suite struct TwinCharacterizeCommandTests {
    @Test(arguments: [1, 2, 3])
    func characterizeMeetsTheAcceptanceTolerances(seed: Int) throws {
        let report = try CommandRunner.ringlabJSON(["twin", "characterize", "--json", "--seed", "\(seed)"])
        let tolerances = [
            "threshold_volts": 0.01, "relaxation_seconds": 0.15, "noise_floor_power": 0.15, "saturation_power": 0.05,
        ]
        #expect(Set(report.keys) == Set(tolerances.keys))
        for (key, tolerance) in tolerances {
            let figure = try #require(report[key] as? [String: Double], "\(key) is missing")
            let measured = try #require(figure["measured"])
            let expected = try #require(figure["expected"])
            #expect(abs(measured - expected) / abs(expected) <= tolerance, "\(key): \(measured) vs \(expected)")
        }
    }

    @Test func aMissingTwinFileIsOneLineNamingIt() throws {
        let outcome = try CommandRunner.ringlab(["twin", "characterize", "--twin", "/no/such.yaml"])
        #expect(outcome.status != 0)
        let lines = outcome.standardError.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("/no/such.yaml") == true)
        #expect(outcome.standardOutput.isEmpty)
    }

    @Test func theTableNamesEveryQuantity() throws {
        let outcome = try CommandRunner.ringlab(["twin", "characterize", "--seed", "4"])
        #expect(outcome.status == 0)
        for label in ["threshold", "relaxation", "noise floor", "saturation"] {
            #expect(outcome.standardOutput.contains(label))
        }
    }
}

@Suite struct BenchAndVersionCommandTests {
    @Test func benchTwinPrintsItsFigures() throws {
        // Prints, never asserts, the speed (a shared machine is no place for timing asserts).
        let report = try CommandRunner.ringlabJSON(["bench", "twin", "--seconds", "0.2", "--json"])
        #expect((report["samples_per_second"] as? Double ?? 0) > 0)
        #expect((report["realtime_factor"] as? Double ?? 0) > 0)
    }

    @Test func versionNamesTheLinkedLibraries() throws {
        let outcome = try CommandRunner.ringlab(["version"])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.contains("libiio 0.24"))
        #expect(outcome.standardOutput.contains("libgpiod 1.6"))
    }
}
