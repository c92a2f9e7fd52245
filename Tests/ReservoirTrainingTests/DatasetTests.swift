import Foundation
import PerturbativeTraining
import NeuralNet
import ReservoirTesting
import ReservoirTraining
import Testing

@Suite struct DatasetTests {
    func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "ringlab-\(UUID().uuidString).csv"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The validation split is the training split cut again: every training row lands in
    /// exactly one of its parts, stratified, and no test row is among them.
    @Test func theValidationSplitIsCarvedFromTheTrainingSplitOnly() {
        // One feature, a row's own index, so rows can be told apart after standardizing.
        let ids = (0..<300).map(Double.init)
        let dataset = Dataset(
            name: "ids", features: ids, labels: (0..<300).map { $0 % 3 }, featureCount: 1, classCount: 3)
        let split = DatasetSplit(dataset, seed: 4)
        let tuning = split.carvingValidation(seed: 4)
        #expect(tuning.train.count + tuning.test.count == split.train.count)
        #expect(tuning.test.count == 42)  // 20% of each class's 70
        for label in 0..<3 { #expect(tuning.test.labels.filter { $0 == label }.count == 14) }
        // Standardizing is affine and increasing, so rescaled to [0, 1] the sorted values of
        // both parts together are those of the training split, and not those with a test row.
        func unit(_ values: [Double]) -> [Double] {
            let sorted = values.sorted()
            return sorted.map { ($0 - sorted.first!) / (sorted.last! - sorted.first!) }
        }
        let carved = unit(tuning.train.features + tuning.test.features)
        let training = unit(split.train.features)
        #expect(zip(carved, training).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(tuning.test.name.contains("validation"))
    }

    @Test func digitsLoadAsShipped() throws {
        let digits = try Datasets.loadCSV(TwinFixtures.packageRoot + "/data/digits.csv")
        #expect(digits.count == 1797)
        #expect(digits.featureCount == 64)
        #expect(digits.classCount == 10)
        #expect(digits.features.allSatisfy { (0...16).contains($0) })
    }

    @Test func aRaggedRowNamesItsLine() throws {
        let path = try write("a,b,label\n1,2,0\n1,2\n")
        #expect { try Datasets.loadCSV(path) } throws: {
            "\($0)" == "\(path):3: found 2 cells, expected 3 as in the header"
        }
    }

    @Test func aNonNumericCellNamesLineAndColumn() throws {
        let path = try write("a,b,label\n1,2,0\n1,x,1\n")
        #expect { try Datasets.loadCSV(path) } throws: {
            "\($0)" == "\(path):3 column \"b\": found \"x\", expected a number from −1e12 to 1e12"
        }
    }

    @Test func aBadLabelNamesTheLabelColumn() throws {
        let path = try write("label,a,b\n0,1,2\n1.5,1,2\n")
        #expect { try Datasets.loadCSV(path) } throws: {
            "\($0)" == "\(path):3 column \"label\": found \"1.5\", expected an integer label from 0 to 999"
        }
    }

    @Test func aMissingFileIsNamed() {
        #expect { try Datasets.loadCSV("/no/such.csv") } throws: { "\($0)".hasPrefix("/no/such.csv: cannot read") }
    }

    @Test func theSplitIsStratifiedAndStandardizedOnTraining() throws {
        let digits = try Datasets.loadCSV(TwinFixtures.packageRoot + "/data/digits.csv")
        let split = DatasetSplit(digits, seed: 4)
        #expect(split.train.count + split.test.count == 1797)
        for label in 0..<10 {
            let total = digits.labels.filter { $0 == label }.count
            let train = split.train.labels.filter { $0 == label }.count
            #expect(abs(Double(train) - 0.7 * Double(total)) <= 0.5)
        }
        // Every non-constant feature has mean 0 and standard deviation 1 on the training split.
        for j in 0..<64 {
            let column = (0..<split.train.count).map { split.train.features[$0 * 64 + j] }
            let mean = column.reduce(0, +) / Double(column.count)
            let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(column.count)
            #expect(abs(mean) < 1e-9)
            #expect(abs(variance - 1) < 1e-9 || variance == 0)
        }
        #expect(DatasetSplit(digits, seed: 4).test.labels == split.test.labels)
    }
}

@Suite struct MLPTrainingTests {
    func run(_ settings: MLPSettings, _ split: DatasetSplit, threads: Int? = nil) throws -> (TrainingSummary, MLPModel) {
        let model = MLPModel(settings: settings, split: split, threads: threads)
        return (try TrainingRun(model: model, plan: settings.plan).run(), model)
    }

    @Test func backpropLearnsTwoMoons() throws {
        var settings = MLPSettings()
        settings.task = "moons"
        settings.mode = .backprop
        settings.budget = 20_000
        settings.hidden = [16]
        let (summary, _) = try run(settings, DatasetSplit(Datasets.moons(seed: 1), seed: 1))
        #expect(try #require(summary.test_accuracy) > 0.95)
    }

    @Test(arguments: [MLPSettings.Mode.pgt, .spsa, .backprop])
    func theSameSeedGivesTheSameResult(mode: MLPSettings.Mode) throws {
        var settings = MLPSettings()
        settings.mode = mode
        settings.budget = 2000
        settings.task = "moons"
        let split = DatasetSplit(Datasets.moons(seed: 2), seed: 2)
        let (a, first) = try run(settings, split)
        let (b, second) = try run(settings, split)
        #expect(a.test_accuracy == b.test_accuracy && a.test_loss == b.test_loss)
        #expect(first.parameters == second.parameters)
        #expect(a.forward_passes <= 2000 && a.forward_passes > 1900)
    }

    @Test func theBatchGrowsAsTSquaredToTheWholeSplit() {
        var settings = MLPSettings()
        settings.task = "moons"
        settings.budget = 10_000
        settings.batch = 100
        settings.finalBatch = 0
        let split = DatasetSplit(Datasets.moons(seed: 3), seed: 3)
        let model = MLPModel(settings: settings, split: split)
        let all = split.train.count
        #expect(model.batchSize(afterPasses: 0) == 100)
        #expect(model.batchSize(afterPasses: 5_000) == 100 + Int((Double(all - 100) / 4).rounded()))
        #expect(model.batchSize(afterPasses: 10_000) == all)
        settings.finalBatch = nil
        #expect(MLPModel(settings: settings, split: split).batchSize(afterPasses: 5_000) == 100)
    }

    @Test func hiddenWidthsParseAndASingleSavedWidthStillLoads() throws {
        #expect(HiddenWidths(parsing: "100,100") == [100, 100])
        #expect(HiddenWidths(parsing: " 40") == [40])
        for bad in ["", "0", "a", "1,,2", "4097", "-3", "1,2,3,4,5,6,7,8,9"] { #expect(HiddenWidths(parsing: bad) == nil, "\(bad)") }
        var settings = MLPSettings()
        settings.hidden = [100, 100]
        let saved = String(decoding: try JSONEncoder().encode(settings), as: UTF8.self)
        #expect(saved.contains(#""hidden":[100,100]"#))
        // config.json as runs saved it before a network could have two hidden layers.
        let older = saved.replacingOccurrences(of: #""hidden":[100,100]"#, with: #""hidden":40"#)
        #expect(try JSONDecoder().decode(MLPSettings.self, from: Data(older.utf8)).hidden == [40])
    }

    /// Backprop's cosine schedule: lr·½(1 + cos(πt/T)) is 0 at t = T, so a step there changes nothing,
    /// while the constant schedule's does.
    @Test func backpropsCosineScheduleReachesRateZeroAtTheEnd() {
        let network = DenseNetwork(widths: [3, 4, 2], activations: [.tanh, .identity], loss: .softmaxCrossEntropy)
        let workspace = NetworkWorkspace(network: network, capacity: 5)
        let inputs: [Double] = (0..<15).map { Double($0 % 7) / 3 - 1 }
        let labels = [0, 1, 1, 0, 1]
        for schedule in [Schedule.cosine, .constant] {
            let update = BackpropUpdate(
                parameters: network.initialParameters(seed: 1), learningRate: 0.1, schedule: schedule, totalSteps: 2)
            inputs.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { y in
                    let batch = Batch(inputs: x, labels: y, count: 5)
                    for _ in 0..<2 { _ = update.step(network: network, batch: batch, workspace: workspace) }
                    let before = update.parameters
                    _ = update.step(network: network, batch: batch, workspace: workspace)
                    #expect((update.parameters == before) == (schedule == .cosine), "\(schedule)")
                }
            }
        }
    }

    @Test func theThreadCountDoesNotChangeTheResult() throws {
        var settings = MLPSettings()
        settings.task = "moons"
        settings.budget = 1_000
        settings.batch = 150  // two chunks of 75 rows: the chunks run on two threads
        settings.finalBatch = 0
        let split = DatasetSplit(Datasets.moons(seed: 2), seed: 2)
        let (a, one) = try run(settings, split, threads: 1)
        let (b, two) = try run(settings, split, threads: 2)
        #expect(one.parameters == two.parameters)
        #expect(a.test_loss == b.test_loss)
    }
}
