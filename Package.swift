// swift-tools-version:6.1
// ringlab: controller for a magnonic-ring physical reservoir computer (see README.md).
// Module layers and allowed imports are in docs/architecture.md; the build enforces them with
// --explicit-target-dependency-import-check error (see Makefile).
import PackageDescription

let package = Package(
    name: "ringlab",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ringlab", targets: ["ringlab"]),
        .executable(name: "ringlab-iiod", targets: ["ringlab-iiod"]),
        .executable(name: "iiod-fuzz", targets: ["iiod-fuzz"]),
        .executable(name: "ringlab-box", targets: ["ringlab-box"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // The lab box's service (issue 15): HTTP without a TLS stack (traits: []), the queue in
        // SQLite, metrics, start/stop. Only `ringlab-box` links them.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // L0: C system libraries and shims.
        .systemLibrary(
            name: "CIIO", pkgConfig: "libiio",
            providers: [.apt(["libiio-dev"]), .brew(["libiio"])]),
        .systemLibrary(
            name: "CGPIOD", pkgConfig: "libgpiod",
            providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CRealtime"),
        // L0: seeded randomness shared by the twin and, later, training.
        .target(name: "SeededRandom", dependencies: [.product(name: "RealModule", package: "swift-numerics")]),
        .target(name: "FastMath", dependencies: [.product(name: "RealModule", package: "swift-numerics")]),

        // L1: vocabulary, and the data files that describe boards and twins.
        .target(name: "ReservoirHAL"),
        .target(
            name: "ReservoirFiles",
            dependencies: ["ReservoirHAL", .product(name: "Yams", package: "Yams")]),

        // L1b: backends.
        .target(name: "ReservoirHardware", dependencies: ["ReservoirHAL", "CIIO", "CGPIOD", "CRealtime"]),
        .target(
            name: "ReservoirTwin",
            dependencies: [
                "ReservoirHAL", "SeededRandom", "FastMath", .product(name: "RealModule", package: "swift-numerics"),
            ]),

        // L2: the drive loop, and routines that drive any Board.
        .target(
            name: "ReservoirControl",
            dependencies: [
                "ReservoirHAL", "CRealtime", "SeededRandom", .product(name: "RealModule", package: "swift-numerics"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]),
        // L2b: the benchmark tasks of docs/tasks.md, the ridge readout, and the classic
        // reservoir experiment that runs them through a drive loop.
        .target(
            name: "ReservoirBenchmarks",
            dependencies: [
                "ReservoirControl", "SeededRandom", .product(name: "RealModule", package: "swift-numerics"),
            ]),
        .target(
            name: "ReservoirCalibration",
            dependencies: [
                "ReservoirHAL", "ReservoirFiles", "ReservoirControl", "ReservoirBenchmarks", "SeededRandom",
                .product(name: "RealModule", package: "swift-numerics"),
            ]),

        .target(
            name: "NeuralNet",
            dependencies: [
                "SeededRandom", "CBLAS", "FastMath", .product(name: "RealModule", package: "swift-numerics"),
            ]),
        .target(
            name: "PerturbativeTraining",
            dependencies: ["SeededRandom", .product(name: "RealModule", package: "swift-numerics")]),

        // L3: twins fitted to calibrations (how a lab turns its ring into a twin).
        .target(
            name: "TwinFitting",
            dependencies: [
                "ReservoirHAL", "ReservoirTwin", "ReservoirCalibration",
                .product(name: "RealModule", package: "swift-numerics"),
            ]),

        // L3: models, datasets, runs.
        // L2: the iiod protocol presenting any Board: the sessions (bytes in, bytes out, no I/O;
        // what the fuzz target drives), and the SwiftNIO server around them (issue 7).
        .target(name: "IIODProtocol", dependencies: ["ReservoirHAL"]),
        .target(
            name: "IIODServer",
            dependencies: [
                "IIODProtocol", "ReservoirHAL", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        // The libFuzzer target over an iiod session on the twin (`make fuzz` builds it with
        // -sanitize=fuzzer,address); built plainly, it replays corpus files (the test suite).
        .executableTarget(
            name: "iiod-fuzz",
            dependencies: ["IIODProtocol", "ReservoirHAL", "ReservoirTwin", "ReservoirFiles"]),
        // L4: the twin's iiod server as its own executable (`ringlab twin serve` runs it), so
        // that `ringlab` builds without SwiftNIO.
        .executableTarget(
            name: "ringlab-iiod",
            dependencies: [
                "IIODServer", "IIODProtocol", "ReservoirTwin", "ReservoirFiles", "ReservoirHAL", "ReservoirHardware",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .target(
            name: "ReservoirTraining",
            dependencies: [
                "NeuralNet", "PerturbativeTraining", "SeededRandom", "ReservoirFiles", "ReservoirHAL",
                "ReservoirControl", "ReservoirBenchmarks", "CRealtime",
            ]),

        // L4: the jobs a command or a service starts (open a board from its file, train, resume),
        // with the defaults they apply; the command line only parses and prints.
        .target(
            name: "RinglabJobs",
            dependencies: [
                "ReservoirHAL", "ReservoirFiles", "ReservoirHardware", "ReservoirTwin", "ReservoirCalibration",
                "ReservoirControl", "ReservoirTraining",
            ]),

        // L4: the lab box's core (issue 15): the persistent queue and experiment index (GRDB),
        // job validation and provenance, the child-process runner, the token. No HTTP here.
        .target(
            name: "LabBox",
            dependencies: [
                "ReservoirHAL", "ReservoirFiles", "ReservoirControl", "RinglabJobs",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // L5: the service itself, its own executable (`ringlab box` runs it), so that `ringlab`
        // and `make demo` build without Hummingbird, GRDB or Prometheus.
        .executableTarget(
            name: "ringlab-box",
            dependencies: [
                "LabBox", "ReservoirControl", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Test support: fixtures and fakes for what cannot exist on a build machine.
        .target(name: "CMallocCounter"),
        .target(
            name: "ReservoirTesting",
            dependencies: ["ReservoirHAL", "ReservoirFiles", "ReservoirTwin", "ReservoirControl"]),

        // L4: the composition root.
        .executableTarget(
            name: "ringlab",
            dependencies: [
                "ReservoirHAL", "ReservoirFiles", "ReservoirHardware", "ReservoirTwin",
                "ReservoirCalibration", "ReservoirControl", "ReservoirBenchmarks", "ReservoirTraining", "NeuralNet",
                "PerturbativeTraining", "TwinFitting", "RinglabJobs", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "SeededRandomTests", dependencies: ["SeededRandom"]),
        .testTarget(name: "ReservoirHALTests", dependencies: ["ReservoirHAL"]),
        .testTarget(
            name: "ReservoirFilesTests",
            dependencies: ["ReservoirHAL", "ReservoirFiles", "ReservoirTesting", "ReservoirTwin"]),
        .testTarget(name: "ReservoirHardwareTests", dependencies: ["ReservoirHAL", "ReservoirHardware"]),
        .testTarget(
            name: "ReservoirTwinTests",
            dependencies: [
                "ReservoirHAL", "ReservoirTwin", "ReservoirTesting", "ReservoirCalibration", "ReservoirHardware", "ReservoirFiles",
            ]),
        .testTarget(
            name: "ReservoirControlTests",
            dependencies: [
                "ReservoirHAL", "ReservoirControl", "ReservoirTwin", "ReservoirTesting", "CMallocCounter",
                "ReservoirHardware", "RinglabJobs",
            ]),
        .testTarget(
            name: "ReservoirCalibrationTests",
            dependencies: [
                "ReservoirHAL", "ReservoirCalibration", "ReservoirTwin", "ReservoirTesting", "ReservoirFiles",
                "TwinFitting",
            ]),
        .testTarget(name: "ReservoirBenchmarksTests", dependencies: ["ReservoirBenchmarks"]),
        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet"]),
        .testTarget(name: "FastMathTests", dependencies: ["FastMath"]),
        .testTarget(
            name: "PerturbativeTrainingTests", dependencies: ["PerturbativeTraining", "SeededRandom", "NeuralNet"]),
        .testTarget(
            name: "ReservoirTrainingTests",
            dependencies: [
                "ReservoirTraining", "NeuralNet", "ReservoirTesting", "ReservoirControl", "ReservoirBenchmarks",
                "ReservoirHAL", "ReservoirTwin", "PerturbativeTraining", "SeededRandom",
            ]),
        .testTarget(
            name: "LabBoxTests",
            dependencies: ["LabBox", "ReservoirTesting", "ReservoirFiles", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["ReservoirTesting", "ReservoirHAL", "ReservoirFiles", "ReservoirHardware", "IIODServer"]),
    ],
    swiftLanguageModes: [.v6]
)
