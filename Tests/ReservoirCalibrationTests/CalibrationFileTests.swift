import Foundation
import ReservoirCalibration
import ReservoirFiles
import ReservoirHAL
import ReservoirTesting
import Testing

@Suite struct CalibrationFileTests {
    func temporaryFolder() -> String { NSTemporaryDirectory() + "ringlab-calibration-\(UUID().uuidString)" }

    /// A record of the default twin, measured once for the suite.
    static let record: CalibrationRecord = {
        let (_, board) = try! TwinFixtures.twinBoard(seed: 2)
        let result = try! DeviceCalibration().run(board: board)
        return CalibrationRecord(
            result: result, boardName: "twin", boardSerial: "default",
            provenance: .init(
                ringlabVersion: "test", gitCommit: "unknown", createdUTC: "2026-11-29T00:00:00Z", seed: 2,
                boardFileSHA256: try! SHA256.hexDigest(ofFile: TwinFixtures.twinBoardPath)))
    }()

    @Test func aRecordSurvivesTheRoundTripAndBecomesCurrent() throws {
        let store = CalibrationStore(root: temporaryFolder())
        let path = try store.save(Self.record, timestamp: Date(timeIntervalSince1970: 1_795_000_000))
        #expect(path.hasSuffix("/twin/default/20261118T110640Z.json"))
        let (loaded, currentPath) = try #require(try store.current(board: "twin", serial: "default"))
        #expect(currentPath == path)
        // Foundation's JSON reader on Linux may land one ulp from the written decimal.
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-15 * max(abs(a), abs(b)) }
        #expect(Set(loaded.values.keys) == Set(Self.record.values.keys))
        for (key, value) in Self.record.values {
            let read = try #require(loaded.values[key])
            #expect(
                close(read.value, value.value) && close(read.uncertainty, value.uncertainty) && read.unit == value.unit)
        }
        #expect(loaded.transferCurve.count == Self.record.transferCurve.count)
        for (read, written) in zip(loaded.transferCurve, Self.record.transferCurve) {
            #expect(close(read.driveVolts, written.driveVolts) && close(read.upVolts, written.upVolts))
            #expect(close(read.downVolts, written.downVolts))
        }
        #expect(loaded.provenance == Self.record.provenance)
        #expect(loaded.boardName == "twin" && loaded.boardSerial == "default")
        #expect(try store.current(board: "twin", serial: "other") == nil)
    }

    /// The JSON of the record with `edit` applied to its object.
    func edited(_ edit: (inout [String: Any]) -> Void) throws -> Data {
        var object = try JSONSerialization.jsonObject(with: Data(try Self.record.json().utf8)) as! [String: Any]
        edit(&object)
        return try JSONSerialization.data(withJSONObject: object)
    }

    func message(_ data: Data) -> String {
        do {
            _ = try CalibrationRecord.parse(data, source: "cal.json")
            return "accepted"
        } catch { return error.description }
    }

    @Test func aMissingFieldIsNamed() throws {
        let text = message(
            try edited { object in
                var values = object["values"] as! [String: Any]
                values["threshold_volts"] = nil
                object["values"] = values
            })
        #expect(text.hasPrefix("cal.json: field \"values.threshold_volts\" is missing"), "\(text)")
        let noBoard = message(try edited { $0["board"] = nil })
        #expect(noBoard.hasPrefix("cal.json: field \"board\" is missing"), "\(noBoard)")
    }

    @Test func aWrongUnitIsNamedWithTheExpectedOne() throws {
        let text = message(
            try edited { object in
                var values = object["values"] as! [String: Any]
                var threshold = values["threshold_volts"] as! [String: Any]
                threshold["unit"] = "mV"
                values["threshold_volts"] = threshold
                object["values"] = values
            })
        #expect(text == "cal.json: field \"values.threshold_volts.unit\": found \"mV\", expected \"V\"")
    }

    @Test func anUnknownSchemaVersionIsRefusedAsSuch() throws {
        let text = message(try edited { $0["schemaVersion"] = 2 })
        #expect(
            text
                == "cal.json: field \"schemaVersion\": found 2, expected 1: this ringlab reads calibration schema version 1 only"
        )
    }

    @Test func wrongTypesAndUnknownValuesAreRefused() throws {
        let text = message(
            try edited { object in
                var values = object["values"] as! [String: Any]
                values["latency_samples"] = ["value": "three", "uncertainty": 0, "unit": "samples"]
                object["values"] = values
            })
        #expect(text.hasPrefix("cal.json: field \"values.latency_samples.value\": found three, expected a number"))
        let unknown = message(
            try edited { object in
                var values = object["values"] as! [String: Any]
                values["thresold_volts"] = ["value": 1, "uncertainty": 0, "unit": "V"]
                object["values"] = values
            })
        #expect(unknown.hasPrefix("cal.json: field \"values.thresold_volts\" is not a known field"), "\(unknown)")
        #expect(message(Data("{".utf8)) == "cal.json: cannot read: invalid JSON")
    }

    @Test func theSchemaFileNamesEveryValue() throws {
        let path = TwinFixtures.packageRoot + "/calibration/schema/calibration-v1.schema.json"
        let schema =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        let properties = schema["properties"] as! [String: Any]
        let values = (properties["values"] as! [String: Any])["properties"] as! [String: Any]
        #expect(Set(values.keys) == Set(CalibrationRecord.units.keys))
    }
}
