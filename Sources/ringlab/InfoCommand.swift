import ArgumentParser
import Foundation
import RinglabJobs
import ReservoirFiles
import ReservoirHAL
import ReservoirHardware

/// `ringlab info`: what an IIO context holds, and whether a board file's devices, channels and
/// GPIO roles are all there.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "List an IIO context's devices and check a board file against them.")

    @Option(name: .long, help: "Board file (an iio backend) to check.")
    var board: String?

    @Option(name: .long, help: "libiio URI to list (ip:HOST[:PORT], local:).")
    var uri: String?

    @Flag(name: .long, help: "Print JSON: the context's devices and, with --board, what was found.")
    var json = false

    struct Device: Encodable {
        var name: String
        var channels: [String]
        var attributes: [String]
    }

    struct Report: Encodable {
        var uri: String
        var devices: [Device]
        var board: String?
        var board_found: Bool?
    }

    func validate() throws {
        guard (board == nil) != (uri == nil) else { throw ValidationError("give --board FILE or --uri URI") }
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
            }
            let devices = try IIOBoard.describe(uri: address)
            if json {
                // Opening the board looks every device, channel and line up, and leaves it safe.
                if let wiring { _ = try IIOBoard.make(wiring: wiring, uri: address, clock: ManualClock()) }
                try printJSON(
                    Report(
                        uri: address,
                        devices: devices.map { Device(name: $0.device, channels: $0.channels, attributes: $0.attributes) },
                        board: wiring?.name, board_found: wiring == nil ? nil : true))
                return
            }
            print("IIO context \(address): \(devices.count) devices")
            for device in devices {
                print("  \(device.device)")
                for channel in device.channels { print("    channel \(channel)") }
                for attribute in device.attributes { print("    attribute \(attribute)") }
            }
            guard let wiring else { return }
            // Opening the board looks every device, channel and line up, and leaves it safe.
            _ = try IIOBoard.make(wiring: wiring, uri: address, clock: ManualClock())
            print("board \(wiring.name) (\(wiring.source)):")
            print(
                "  DAC \(wiring.dac.device) \(wiring.dac.channel), ADC \(wiring.adc.device) \(wiring.adc.channel): found"
            )
            let roles = [
                ("amp_enable", wiring.gpio.ampEnable), ("loop_close", wiring.gpio.loopClose),
                ("trigger", wiring.gpio.trigger), ("interlock", wiring.gpio.interlock),
            ]
            for (role, line) in roles {
                let place =
                    line.iioAttribute.map { "\($0.device) attribute \($0.attribute)" }
                    ?? "\(line.chip) line \(line.offset)"
                print("  GPIO \(role): \(place): found")
            }
            print("  the board is in its safe state")
        }
    }
}
