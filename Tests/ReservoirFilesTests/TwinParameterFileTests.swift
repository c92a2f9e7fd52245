import ReservoirFiles
import ReservoirHAL
import ReservoirTesting
import ReservoirTwin
import Testing

@Suite struct TwinParameterFileTests {
    @Test func theDefaultFileHasTheDocumentedParameters() throws {
        let p = try TwinFixtures.defaultParameters()
        #expect(p.roundTripSeconds == 500e-9)
        #expect(p.noiseStrengthPerSecond == 40)
        #expect(p.attenuator == .init(gainMin: 0.3, gainMax: 1.3, midVolts: 1.25, widthVolts: 0.35))
        #expect(p.adcLatencySamples == 3)
        #expect(p.adc.format == ConverterFormat(bits: 12, reference: Volts(2.5)))
        #expect(p.substeps == 4)
        #expect(p.faults.isEmpty)
        // docs/ring-twin.md: the relaxation at G = 0.98 is 12.5 µs, the floor at G = 0.9 is 1e-4,
        // and the threshold is "near 1.55 V".
        #expect(abs(p.powerRelaxationSeconds(gain: 0.98) - 12.5e-6) < 1e-15)
        #expect(abs(p.noiseFloorPower(gain: 0.9) - 1e-4) < 1e-15)
        #expect(abs(p.attenuatorVolts(forGain: 1) - 1.5466) < 1e-4)
    }

    @Test func faultsAreReadFromTheFile() throws {
        let text = try String(contentsOfFile: TwinFixtures.defaultParametersPath, encoding: .utf8)
            .replacingOccurrences(
                of: "faults: []",
                with:
                    "faults:\n  - {kind: interlock, at_seconds: 2}\n  - {kind: adc-dropout, at_seconds: 1, duration_seconds: 0.01}"
            )
        let p = try TwinParameters(parsing: DataFile.parse(text, file: "twin.yaml"), source: "twin.yaml")
        #expect(
            p.faults == [
                ScheduledFault(.interlock, at: .seconds(2)),
                ScheduledFault(.adcDropout(duration: .milliseconds(10)), at: .seconds(1)),
            ])
    }

    @Test func anUnknownFaultKindListsTheKinds() throws {
        let text = try String(contentsOfFile: TwinFixtures.defaultParametersPath, encoding: .utf8)
            .replacingOccurrences(of: "faults: []", with: "faults:\n  - {kind: meltdown, at_seconds: 2}")
        #expect {
            try TwinParameters(parsing: DataFile.parse(text, file: "twin.yaml"), source: "twin.yaml")
        } throws: { error in
            let description = "\(error)"
            return description.contains(#"field "faults[0].kind": found "meltdown""#)
                && description.contains("\"adc-stuck\"")
        }
    }

    @Test func aBoardThatDisagreesWithItsTwinIsRefusedNamingBoth() throws {
        var parameters = try TwinFixtures.defaultParameters()
        parameters.adc.format = ConverterFormat(bits: 14, reference: Volts(2.5))
        let twin = RingTwin(parameters: parameters, seed: 1)
        #expect {
            try twin.makeBoard(wiring: DataFile.loadBoard(TwinFixtures.twinBoardPath))
        } throws: { error in
            let description = "\(error)"
            return description.contains(
                #"field "adc": found 12 bits over 2.5 V, expected 14 bits over 2.5 V, as the twin's parameter file says"#
            )
        }
    }
}
