import ArgumentParser
import Foundation
import NeuralNet

/// `ringlab bench nn`: forward and backward passes of the 64-40-10 network with each kernel.
struct BenchNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nn",
        abstract: "Compare the network's kernels (OpenBLAS double and single, hand-written) and threads at our sizes.")

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        var rows: [[String: String]] = []
        let configurations: [(MatrixKernels, Int)] = [
            (.blas, 1), (.blas, 2), (.blasSingle, 1), (.blasSingle, 2), (.handWritten, 1),
        ]
        for batch in [64, 256, 1257] {
            for (kernels, chunks) in configurations {
                var network = DenseNetwork(
                    widths: [64, 40, 10], activations: [.tanh, .identity], loss: .softmaxCrossEntropy)
                network.kernels = kernels
                let parameters = network.initialParameters(seed: 1)
                let inputs = (0..<(batch * 64)).map { Double($0 % 17) / 17 - 0.5 }
                let labels = (0..<batch).map { $0 % 10 }
                let workspace = NetworkWorkspace(network: network, capacity: batch, chunks: chunks)
                var gradient = [Double](repeating: 0, count: network.parameterCount)
                let repeats = max(200_000 / batch, 20)
                let (forward, backward) = inputs.withUnsafeBufferPointer { x in
                    labels.withUnsafeBufferPointer { y in
                        parameters.withUnsafeBufferPointer { p in
                            gradient.withUnsafeMutableBufferPointer { g in
                                let data = Batch(inputs: x, labels: y, count: batch)
                                let clock = ContinuousClock()
                                let start = clock.now
                                for _ in 0..<repeats {
                                    _ = network.loss(parameters: p, batch: data, workspace: workspace)
                                }
                                let middle = clock.now
                                for _ in 0..<repeats {
                                    _ = network.lossAndGradient(
                                        parameters: p, batch: data, workspace: workspace, gradient: g)
                                }
                                let end = clock.now
                                func micro(_ d: Duration) -> Double {
                                    (Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) * 1e-12)
                                        / Double(repeats)
                                }
                                return (micro(middle - start), micro(end - middle))
                            }
                        }
                    }
                }
                rows.append([
                    "batch": "\(batch)", "kernels": kernels.rawValue, "threads": "\(chunks)",
                    "forward_us": String(format: "%.1f", forward),
                    "forward_backward_us": String(format: "%.1f", backward),
                ])
            }
        }
        if json {
            try printJSON(rows)
        } else {
            print("64-40-10 tanh network (µs per call; threads: row chunks of the forward pass)")
            print("  batch  kernels       threads  forward   forward+backward")
            for row in rows {
                print(
                    "  " + row["batch"]!.padding(toLength: 7, withPad: " ", startingAt: 0)
                        + row["kernels"]!.padding(toLength: 14, withPad: " ", startingAt: 0)
                        + row["threads"]!.padding(toLength: 9, withPad: " ", startingAt: 0)
                        + row["forward_us"]!.padding(toLength: 10, withPad: " ", startingAt: 0) + row[
                            "forward_backward_us"]!)
            }
        }
    }
}
