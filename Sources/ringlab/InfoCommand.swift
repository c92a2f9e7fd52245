import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirFiles
import ReservoirHAL
import ReservoirHardware

/// `ringlab info`: what an IIO context and the machine's GPIO chips hold, and whether a board
/// file's devices, channels and GPIO roles are all there; `--read N` streams N ADC samples.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "List an IIO context's devices and the GPIO lines, and check a board file against them.")

    @Option(name: .long, help: "Board file (an iio backend) to check.")
    var board: String?

    @Option(name: .long, help: "libiio URI to list (ip:HOST[:PORT], local:).")
    var uri: String?

    @Option(name: .long, help: "With --board: stream this many ADC samples (1 to 65536) and print them in volts.")
    var read: Int?

    @Flag(name: .customLong("check-file"), help: "With --board: validate the board file only, opening no device.")
    var checkFile = false

    @Flag(name: .long, help: "Print JSON: the context's devices, the GPIO chips and, with --board, what was found.")
    var json = false

    struct Device: Encodable {
        var name: String
        var channels: [String]
        var attributes: [String]
    }

    struct Report: Encodable {
        var uri: String
        var devices: [Device]
        var gpio_chips: [GPIOChipInventory]
        var board: String?
        var board_found: Bool? = nil
        var samples_volts: [Double]? = nil
    }

    func validate() throws {
        guard (board == nil) != (uri == nil) else { throw ValidationError("give --board FILE or --uri URI") }
        if checkFile, board == nil || read != nil { throw ValidationError("--check-file needs --board and no --read") }
        if let read {
            guard board != nil else { throw ValidationError("--read needs --board (the ADC it streams)") }
            guard (1...65_536).contains(read) else { throw ValidationError("--read must be 1 to 65536, found \(read)") }
        }
    }

    func run() throws {
        try reportingErrors {
            var wiring: BoardDescription?
            var address = uri ?? ""
            if let board {
                let description = try DataFile.loadBoard(board)
                guard case .iio(let boardURI) = description.backend else {
                    throw UnsupportedBackend(
                        description:
                            "\(board): backend twin is the in-process twin; info lists IIO contexts (an iio board, or --uri)"
                    )
                }
                wiring = description
                address = boardURI
                if checkFile {
                    if json {
                        try printJSON(Report(uri: boardURI, devices: [], gpio_chips: [], board: description.name))
                        return
                    }
                    print(
                        "\(board): valid board file \(description.name) (\(boardURI), \(description.sampleRate.value) Hz; DAC \(description.dac.device) \(description.dac.channel), ADC \(description.adc.device) \(description.adc.channel))"
                    )
                    return
                }
            }
            let devices = try IIOBoard.describe(uri: address)
            // Opening the board looks every device, channel and line up, and leaves it safe.
            let opened = try wiring.map { wiring throws(DeviceError) in
                try IIOBoard.make(wiring: wiring, uri: address, clock: MonotonicClock())
            }
            // Listed while the board holds its lines, so the listing shows ringlab as their consumer.
            let chips = IIOBoard.gpioChips()
            let samples = try read.map { count throws(DeviceError) in try opened!.sampleADC(count: count) }
            if let opened { try opened.enterSafeState() }
            if json {
                try printJSON(
                    Report(
                        uri: address,
                        devices: devices.map { Device(name: $0.device, channels: $0.channels, attributes: $0.attributes) },
                        gpio_chips: chips, board: wiring?.name, board_found: wiring == nil ? nil : true,
                        samples_volts: samples?.map(\.value)))
                return
            }
            print("IIO context \(address): \(devices.count) devices")
            for device in devices {
                print("  \(device.device)")
                for channel in device.channels { print("    channel \(channel)") }
                for attribute in device.attributes { print("    attribute \(attribute)") }
            }
            if !chips.isEmpty { print("GPIO: \(chips.count) chips") }
            for chip in chips {
                print("  \(chip.name) [\(chip.label)] \(chip.lines.count) lines")
                for line in chip.lines where line.name != nil || line.consumer != nil {
                    let holder = line.consumer.map { ", held by \"\($0)\" as \(line.output ? "output" : "input")" } ?? ""
                    print("    line \(line.offset) \"\(line.name ?? "")\"\(holder)")
                }
            }
            guard let wiring else { return }
            print("board \(wiring.name) (\(wiring.source)):")
            print(
                "  DAC \(wiring.dac.device) \(wiring.dac.channel), ADC \(wiring.adc.device) \(wiring.adc.channel)"
                    + (wiring.adc.trigger.map { " clocked by trigger \($0)" } ?? "") + ": found")
            let roles = [
                ("amp_enable", wiring.gpio.ampEnable), ("loop_close", wiring.gpio.loopClose),
                ("trigger", wiring.gpio.trigger), ("interlock", wiring.gpio.interlock),
            ]
            for (role, line) in roles {
                let place =
                    line.iioAttribute.map { "\($0.device) attribute \($0.attribute)" }
                    ?? "\(line.chip) line \(line.lineName.map { "\"\($0)\"" } ?? "\(line.offset)")"
                print("  GPIO \(role): \(place): found")
            }
            if let samples {
                let values = samples.map(\.value)
                let mean = values.reduce(0, +) / Double(values.count)
                print(
                    String(
                        format: "  ADC: %d samples at %.0f Hz, min %.6g V, mean %.6g V, max %.6g V", values.count,
                        wiring.sampleRate.value, values.min()!, mean, values.max()!))
                print("  first samples (V): " + values.prefix(8).map { String(format: "%.6g", $0) }.joined(separator: " "))
            }
            print("  the board is in its safe state")
        }
    }
}
