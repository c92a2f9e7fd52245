import Foundation
import NeuralNet
import PerturbativeTraining

/// What a checkpoint keeps of a parameter update: the parameters, its optimizer's moments and
/// its step count.
public struct UpdateState: Codable, Sendable {
    public var parameters: [Double]
    public var optimizer: Optimizer
    public var step: Int
}

/// How a digital network's parameters learn from a batch: by the exact gradient (backprop) or
/// from forward passes alone (PGT, SPSA). One step reads one batch.
public protocol ParameterUpdate: AnyObject {
    /// Forward passes a step spends (backprop: 2, a forward and a backward pass).
    var passesPerStep: Int { get }
    var parameters: [Double] { get }
    /// Whether a step reads the batch in double precision (else `Batch.singleInputs`).
    func readsDoubleInputs(kernels: MatrixKernels) -> Bool
    func step(network: DenseNetwork, batch: Batch, workspace: NetworkWorkspace) -> (loss: Double, gradientNorm: Double)
    var state: UpdateState { get }
    func restore(_ state: UpdateState)
}

/// Backprop with Adam: the reference perturbative estimates are measured against.
public final class BackpropUpdate: ParameterUpdate {
    public private(set) var parameters: [Double]
    private var optimizer: Optimizer
    private var gradient: [Double]
    private let learningRate: Double
    private let schedule: Schedule
    private let totalSteps: Int
    private var steps = 0

    public init(parameters: [Double], learningRate: Double, schedule: Schedule = .constant, totalSteps: Int = 1) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.schedule = schedule
        self.totalSteps = totalSteps
        optimizer = Optimizer(kind: .adam, dimension: parameters.count)
        gradient = [Double](repeating: 0, count: parameters.count)
    }

    public var passesPerStep: Int { 2 }
    public func readsDoubleInputs(kernels: MatrixKernels) -> Bool { true }

    public func step(network: DenseNetwork, batch: Batch, workspace: NetworkWorkspace) -> (
        loss: Double, gradientNorm: Double
    ) {
        let loss = parameters.withUnsafeBufferPointer { p in
            gradient.withUnsafeMutableBufferPointer { g in
                network.lossAndGradient(parameters: p, batch: batch, workspace: workspace, gradient: g)
            }
        }
        let norm = gradient.withUnsafeMutableBufferPointer { clipGradient($0, maximumNorm: nil) }
        gradient.withUnsafeBufferPointer { g in
            parameters.withUnsafeMutableBufferPointer { p in
                optimizer.apply(
                    gradient: g, learningRate: schedule.rate(base: learningRate, step: steps, totalSteps: totalSteps), to: p)
            }
        }
        steps += 1
        return (loss, norm)
    }

    public var state: UpdateState { UpdateState(parameters: parameters, optimizer: optimizer, step: steps) }
    public func restore(_ state: UpdateState) {
        parameters = state.parameters
        optimizer = state.optimizer
        steps = state.step
    }
}

/// PGT or SPSA (`PerturbativeTrainer`): ĝ from forward passes at θ ± σz, shared directions on
/// the whole batch or one direction per sample.
public final class PerturbativeUpdate: ParameterUpdate {
    public let trainer: PerturbativeTrainer

    public init(configuration: PerturbativeConfiguration, parameters: [Double], totalSteps: Int) {
        trainer = PerturbativeTrainer(configuration: configuration, parameters: parameters, totalSteps: totalSteps)
    }

    public var parameters: [Double] { trainer.parameters }
    public var passesPerStep: Int { trainer.configuration.forwardPassesPerStep }
    public func readsDoubleInputs(kernels: MatrixKernels) -> Bool {
        kernels != .blasSingle || trainer.configuration.perSampleDirections
    }

    public func step(network: DenseNetwork, batch: Batch, workspace: NetworkWorkspace) -> (
        loss: Double, gradientNorm: Double
    ) {
        if trainer.configuration.perSampleDirections {
            let inputWidth = network.widths[0]
            let outputWidth = network.widths[network.widths.count - 1]
            // One sample at a time: plain loops beat a BLAS call's overhead here.
            var network = network
            network.kernels = .handWritten
            let record = trainer.step(sampleCount: batch.count) { p, sample in
                let one = batch.rows(sample..<(sample + 1), inputWidth: inputWidth, outputWidth: outputWidth)
                return network.loss(parameters: p, batch: one, workspace: workspace)
            }
            return (record.loss, record.gradientNorm)
        }
        let record = trainer.step { p in network.loss(parameters: p, batch: batch, workspace: workspace) }
        return (record.loss, record.gradientNorm)
    }

    public var state: UpdateState {
        UpdateState(parameters: trainer.parameters, optimizer: trainer.optimizer, step: trainer.step)
    }
    public func restore(_ state: UpdateState) {
        trainer.restore(parameters: state.parameters, optimizer: state.optimizer, step: state.step)
    }
}
