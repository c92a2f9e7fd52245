import ReservoirTraining

/// What config.json of a training run holds: which model, and its settings. A resumed run
/// reads the model from here.
public struct RunConfiguration: Codable, Sendable {
    public var model: String
    public var mlp: MLPSettings?
    public var ring: RingSettings?
    public var transformer: TransformerSettings?

    public init(model: String, mlp: MLPSettings?, ring: RingSettings?, transformer: TransformerSettings? = nil) {
        self.model = model
        self.mlp = mlp
        self.ring = ring
        self.transformer = transformer
    }

    /// The configuration of the run in `folder`. Settings added since the folder was written
    /// take the value their absence meant then: the default of the time, which for every
    /// setting added so far is today's default — except four, which new runs always save
    /// resolved: the perturbation, added with drive-space (issue 14; a pgt-hybrid run saved
    /// without one perturbed the pre-layer's parameters); the hidden layer's width, whose
    /// absence meant none before drive-space took one by default; drive-space's pre-layer
    /// rate, a constant 0.003 before it fell with the budget; and the training inputs' noise,
    /// none before drive-space took some.
    public static func load(from folder: RunDirectory) throws -> RunConfiguration {
        var configuration = try folder.loadConfiguration(
            RunConfiguration.self, defaults: RunConfiguration(
                model: "", mlp: MLPSettings(), ring: RingSettings(), transformer: TransformerSettings()))
        if configuration.model != "mlp" { configuration.mlp = nil }
        if configuration.model != "ring" { configuration.ring = nil }
        if configuration.model != "transformer" { configuration.transformer = nil }
        if var ring = configuration.ring {
            if ring.mode == .pgtHybrid, ring.perturbation == nil { ring.perturbation = .parameters }
            if ring.mode == .pgtHybrid, ring.perturbation == .drive, ring.preLearningRate == nil {
                ring.preLearningRate = 0.003
            }
            if ring.preHidden == nil { ring.preHidden = 0 }
            if ring.inputNoise == nil { ring.inputNoise = 0 }
            configuration.ring = ring
        }
        return configuration
    }
}
