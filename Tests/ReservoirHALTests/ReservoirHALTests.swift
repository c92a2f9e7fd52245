import ReservoirHAL
import Testing

@Suite struct UnitsTests {
    @Test func hertzConvertsBetweenSamplesAndDurations() {
        let rate = Hertz(200_000)
        #expect(rate.periodSeconds == 5e-6)
        #expect(rate.samples(in: .milliseconds(1)) == SampleCount(200))
        #expect(rate.duration(of: SampleCount(200_000)) == .seconds(1))
        #expect(Duration.milliseconds(1500).seconds == 1.5)
        #expect(Duration.microseconds(3).nanoseconds == 3000)
    }

    @Test func voltsClampToARange() {
        let range = Volts(0)...Volts(2.2)
        #expect(Volts(3).clamped(to: range) == Volts(2.2))
        #expect(Volts(-1).clamped(to: range) == Volts(0))
        #expect(Volts(1).clamped(to: range) == Volts(1))
    }
}

@Suite struct ConverterFormatTests {
    let format = ConverterFormat(bits: 12, reference: Volts(2.5))

    @Test func stepIsReferenceOverTwoToTheBits() {
        #expect(format.leastSignificantBit.value == 2.5 / 4096)
        #expect(format.maximumCode == 4095)
    }

    @Test func codesRoundTripAndClamp() {
        for code in [0, 1, 2047, 4095] {
            #expect(format.code(forVolts: format.volts(forCode: code)) == code)
        }
        #expect(format.code(forVolts: Volts(10)) == 4095)
        #expect(format.code(forVolts: Volts(-1)) == 0)
        // Half a step rounds to the nearest code.
        #expect(format.code(forVolts: Volts(format.leastSignificantBit.value * 0.6)) == 1)
        #expect(format.code(forVolts: Volts(format.leastSignificantBit.value * 0.4)) == 0)
    }
}

@Suite struct ManualClockTests {
    @Test func movesOnlyWhenToldAndNeverBackwards() {
        let clock = ManualClock()
        #expect(clock.now() == .zero)
        clock.advance(by: .milliseconds(2))
        clock.sleep(until: .milliseconds(1))
        #expect(clock.now() == .milliseconds(2))
        clock.sleep(until: .milliseconds(5))
        #expect(clock.now() == .milliseconds(5))
    }
}

@Suite struct ConfigMappingTests {
    func node(_ entries: [(String, ConfigNode.Value)]) -> ConfigNode {
        ConfigNode(.mapping(entries.map { (key: $0.0, value: ConfigNode($0.1, line: 3)) }), line: 1)
    }

    @Test func readsTypedFields() throws {
        let fields = try ConfigMapping(
            node([("rate", .scalar("200e3")), ("bits", .scalar("12")), ("on", .scalar("true"))]), file: "f.yaml")
        #expect(try fields.double("rate", in: 1...1e9) == 200_000)
        #expect(try fields.int("bits", in: 1...32) == 12)
        #expect(try fields.bool("on") == true)
        try fields.rejectUnknownFields()
    }

    @Test func namesFileFieldFoundAndExpected() throws {
        let fields = try ConfigMapping(
            node([("bits", .scalar("sixteen")), ("extra", .scalar("1"))]), file: "f.yaml", path: "dac")
        // Each call must throw, and its one line must name file, line, field, found and expected.
        let bits = #expect(throws: ConfigError.self) { try fields.int("bits", in: 1...32) }
        #expect(bits?.description == #"f.yaml:3: field "dac.bits": found "sixteen", expected an integer from 1 to 32"#)
        let device = #expect(throws: ConfigError.self) { try fields.string("device") }
        #expect(device?.description == #"f.yaml:1: field "dac.device" is missing; expected a non-empty string"#)
        let unknown = #expect(throws: ConfigError.self) { try fields.rejectUnknownFields() }
        #expect(unknown?.field == "dac.extra")
        #expect(unknown?.problem == .unknownField)
    }

    @Test func rejectsNonFiniteAndOutOfRangeNumbers() throws {
        let fields = try ConfigMapping(node([("a", .scalar("nan")), ("b", .scalar("5"))]), file: "f.yaml")
        #expect(throws: ConfigError.self) { try fields.double("a", in: -.infinity ... .infinity) }
        #expect(throws: ConfigError.self) { try fields.double("b", in: 0...1) }
    }
}

@Suite struct PathResolutionTests {
    @Test func relativePathsJoinTheFilesFolderAndFoldParentSteps() {
        #expect(
            BoardDescription.resolve("../twin/a.yaml", relativeTo: "hardware/boards/twin.yaml")
                == "hardware/twin/a.yaml")
        #expect(BoardDescription.resolve("a.yaml", relativeTo: "/x/y/b.yaml") == "/x/y/a.yaml")
        #expect(BoardDescription.resolve("/abs/a.yaml", relativeTo: "x/b.yaml") == "/abs/a.yaml")
        #expect(BoardDescription.resolve("../../a.yaml", relativeTo: "b.yaml") == "../../a.yaml")
        #expect(BoardDescription.resolve("../a.yaml", relativeTo: "../boards/b.yaml") == "../a.yaml")
    }
}
