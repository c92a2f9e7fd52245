import Foundation
import ReservoirFiles
import ReservoirHAL
import ReservoirTesting
import Testing

/// Board files: the repository's own, and each kind of mistake a user makes in one.
@Suite struct BoardFileTests {
    @Test func theTwinBoardFileLoads() throws {
        let board = try DataFile.loadBoard(TwinFixtures.twinBoardPath)
        #expect(board.name == "twin")
        #expect(board.sampleRate == Hertz(200_000))
        #expect(board.dac.format == ConverterFormat(bits: 16, reference: Volts(2.5)))
        #expect(board.adc.format == ConverterFormat(bits: 12, reference: Volts(2.5)))
        #expect(board.safeVolts == Volts(0))
        #expect(board.driveRange == Volts(0)...Volts(2.2))
        #expect(board.gpio.interlock.activeLow)
        guard case .twin(let parameters) = board.backend else {
            Issue.record("expected the twin backend")
            return
        }
        #expect(parameters.hasSuffix("/hardware/twin/ring-default.yaml"))
        #expect(FileManager.default.fileExists(atPath: parameters))
    }

    /// The network twin's board and the example real board: iio backends, GPIO roles as IIO
    /// attributes or gpiochip lines, and the lock-step clock only where the server is lock-step.
    @Test func theIIOBoardFilesLoad() throws {
        let network = try DataFile.loadBoard(TwinFixtures.packageRoot + "/hardware/boards/twin-net.yaml")
        #expect(network.backend == .iio(uri: "ip:127.0.0.1:30431"))
        #expect(network.lockStep)
        #expect(network.gpio.ampEnable.iioAttribute?.device == "ring-control")
        #expect(network.gpio.interlock.iioAttribute?.attribute == "interlock")
        let real = try DataFile.loadBoard(TwinFixtures.packageRoot + "/hardware/boards/ring-v1.yaml")
        #expect(real.backend == .iio(uri: "local:"))
        #expect(!real.lockStep)
        #expect(real.gpio.interlock.iioAttribute == nil && real.gpio.interlock.offset == 23)
        #expect(real.operatingPoint == nil)
    }

    /// Every board file in hardware/boards validates; the VM's and the ADALM2000's carry the
    /// hardware-path fields (trigger, raw DAC stream, stuck limit, divided-down rates).
    @Test func everyBoardFileValidatesAndTheFrontEndFieldsAreRead() throws {
        let folder = TwinFixtures.packageRoot + "/hardware/boards"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 5)
        for file in files { _ = try DataFile.loadBoard(folder + "/" + file) }
        let vm = try DataFile.loadBoard(folder + "/vm-dummy.yaml")
        #expect(vm.adc.trigger == "ring_clock")
        #expect(vm.dac.stream == .raw && vm.adc.stream == .buffer)
        #expect(vm.adcStuckPeriods == 0)
        #expect(vm.gpio.interlock.lineName == "interlock" && vm.gpio.interlock.chip == "ring-gpio")
        let m2k = try DataFile.loadBoard(folder + "/adalm2000.yaml")
        #expect(m2k.dac.device == "m2k-dac-a" && m2k.adc.device == "m2k-adc")
        #expect(m2k.adc.deviceAttributes.map(\.name) == ["sampling_frequency", "oversampling_ratio"])
        #expect(m2k.dac.deviceAttributes.map(\.value) == ["75000000", "375"])
        #expect(m2k.sampleRate == Hertz(200_000))
    }

    /// A clock divided down to anything but the board's rate is refused, naming both.
    @Test func aDividedRateThatMissesTheSampleRateIsNamed() throws {
        let original = try String(
            contentsOfFile: TwinFixtures.packageRoot + "/hardware/boards/adalm2000.yaml", encoding: .utf8)
        let path = NSTemporaryDirectory() + "ringlab-board-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        for (edit, broken, field) in [
            ("    oversampling_ratio: 500", "    oversampling_ratio: 400", "adc.device_attributes.sampling_frequency"),
            ("    sampling_frequency: 75000000", "    sampling_frequency: 7500000", "dac.device_attributes.sampling_frequency"),
        ] {
            #expect(original.contains(edit + "\n"), "the fixture line must exist")
            try original.replacingOccurrences(of: edit + "\n", with: broken + "\n")
                .write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: ConfigError.self) { try DataFile.loadBoard(path) }
            do { _ = try DataFile.loadBoard(path) } catch {
                #expect(error.field == field)
                #expect(error.expected.contains("200000.0 Hz"), "\(error)")
            }
        }
        let dma = "  channel: voltage0\n  bits: 12\n  reference_volts: 10.0"
        #expect(original.contains(dma), "the fixture lines must exist")
        try original.replacingOccurrences(of: dma, with: "  channel: voltage0\n  stream: dma\n  bits: 12\n  reference_volts: 10.0")
            .write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try DataFile.loadBoard(path)
            Issue.record("stream: dma loaded")
        } catch {
            #expect(error.field == "dac.stream")
            #expect(error.expected.contains("\"buffer\"") && error.expected.contains("\"raw\""))
        }
    }

    /// The twin board file with `line` replaced by `replacement` (nil deletes it), written to a
    /// real temporary file; returns the error loading it gives.
    func loadingError(replacing line: String, with replacement: String?) throws -> ConfigError {
        let original = try String(contentsOfFile: TwinFixtures.twinBoardPath, encoding: .utf8)
        #expect(original.contains(line), "the fixture line must exist")
        let edited = original.replacingOccurrences(of: line + "\n", with: replacement.map { $0 + "\n" } ?? "")
        let path = NSTemporaryDirectory() + "ringlab-board-\(UUID().uuidString).yaml"
        try edited.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try DataFile.loadBoard(path)
        } catch {
            #expect(error.file == path)
            #expect(error.description.hasPrefix(path))
            return error
        }
        Issue.record("the edited board file loaded without error")
        throw CancellationError()
    }

    @Test func aMissingFieldIsNamed() throws {
        let error = try loadingError(replacing: "  bits: 12", with: nil)
        #expect(error.field == "adc.bits")
        #expect(error.problem == .missingField)
        #expect(error.description.contains(#"field "adc.bits" is missing; expected an integer from 1 to 32"#))
    }

    @Test func aWrongTypeIsNamedWithWhatWasFound() throws {
        let error = try loadingError(replacing: "sample_rate_hz: 200000", with: "sample_rate_hz: fast")
        #expect(error.field == "sample_rate_hz")
        #expect(error.problem == .invalidValue(found: "\"fast\""))
        #expect(error.expected == "a number from 1.0 to 1000000000.0")
        #expect(error.line == 7)  // hardware/boards/twin.yaml: sample_rate_hz is on line 7
    }

    @Test func anOutOfRangeValueIsNamedWithTheRange() throws {
        let error = try loadingError(
            replacing: "  safe_volts: 0.0        # amplifier off, attenuator at minimum gain", with: "  safe_volts: 3.0"
        )
        #expect(error.field == "dac.safe_volts")
        #expect(error.problem == .invalidValue(found: "\"3.0\""))
        #expect(error.expected == "a number from 0.0 to 2.2")
    }

    @Test func anUnknownKeyIsRejected() throws {
        let error = try loadingError(
            replacing: "  channel: voltage0\n  bits: 16", with: "  channel: voltage0\n  bitz: 16\n  bits: 16")
        #expect(error.field == "dac.bitz")
        #expect(error.problem == .unknownField)
        #expect(error.expected.contains("bits"))
    }

    @Test func contradictoryFieldsAreNamed() throws {
        let error = try loadingError(replacing: "  min_volts: 0.0", with: "  min_volts: 2.3")
        #expect(error.field == "dac.max_volts")
        #expect(error.expected == "a value above min_volts")
    }

    @Test func aWrongBackendListsTheChoices() throws {
        let error = try loadingError(replacing: "backend: twin", with: "backend: simulation")
        #expect(error.description.hasSuffix(#"field "backend": found "simulation", expected one of "twin", "iio""#))
    }

    @Test func aMissingFileIsOneLineNamingIt() {
        #expect {
            try DataFile.loadBoard("/no/such.yaml")
        } throws: { error in
            (error as? ConfigError)?.description == "/no/such.yaml: cannot read: No such file or directory"
        }
    }

    @Test func invalidYAMLNamesTheLine() {
        #expect {
            try DataFile.parse("name: twin\ndac: [unclosed\n", file: "bad.yaml")
        } throws: { error in
            guard let error = error as? ConfigError, case .unreadable(let reason) = error.problem else { return false }
            return error.file == "bad.yaml" && reason.hasPrefix("not valid YAML") && error.line != nil
        }
    }
}

@Suite struct AtomicWriteTests {
    @Test func writesReplacesAndLeavesNoTemporaryFile() throws {
        let folder = NSTemporaryDirectory() + "ringlab-atomic-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/calibration.json"
        try DataFile.writeAtomically("first", to: path)
        try DataFile.writeAtomically("second", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["calibration.json"])
    }

    @Test func aMissingFolderIsAnErrorNamingTheFile() {
        #expect {
            try DataFile.writeAtomically("x", to: "/no/such/folder/file.json")
        } throws: { error in
            "\(error)".hasPrefix("cannot write /no/such/folder/file.json: create")
        }
    }
}
