import Foundation
import ReservoirFiles
import SeededRandom

/// A classification dataset: row-major features and integer labels 0..<classCount.
public struct Dataset: Sendable {
    public var name: String
    public var features: [Double]
    public var labels: [Int]
    public var featureCount: Int
    public var classCount: Int
    public var count: Int { labels.count }

    public init(name: String, features: [Double], labels: [Int], featureCount: Int, classCount: Int) {
        self.name = name
        self.features = features
        self.labels = labels
        self.featureCount = featureCount
        self.classCount = classCount
    }

    /// Row `index` of the features.
    public func row(_ index: Int) -> ArraySlice<Double> {
        features[(index * featureCount)..<((index + 1) * featureCount)]
    }
}

/// A CSV file that is not a dataset: the file, the line and column, and what was wrong.
public struct DatasetError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: String?
    public var problem: String

    public var description: String {
        var place = file
        if let line { place += ":\(line)" }
        if let column { place += " column \"\(column)\"" }
        return "\(place): \(problem)"
    }
}

public enum Datasets {
    /// Labels are class numbers 0 … 999 (a CSV of more classes is a mistake, and a label of
    /// 10⁹ would make the split walk a billion classes).
    public static let maximumLabel = 999
    /// Features beyond ±1e12 are refused: their squares, summed for standardization, would
    /// overflow to infinity.
    public static let maximumFeatureMagnitude = 1e12

    /// Reads a CSV of numeric features with a header line; the label is the column named
    /// `label`, else the last one, and must hold non-negative integers.
    public static func loadCSV(_ path: String, name: String? = nil) throws(DatasetError) -> Dataset {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw DatasetError(file: path, line: nil, column: nil, problem: "cannot read: \(DataFile.readFailureReason(path))")
        }
        // "\r\n" is one Character in Swift: split on every newline character, CRLF included.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let headerLine = lines.first else {
            throw DatasetError(file: path, line: 1, column: nil, problem: "the file is empty; expected a header line")
        }
        let header = headerLine.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard header.count >= 2 else {
            throw DatasetError(
                file: path, line: 1, column: nil, problem: "expected at least one feature column and a label column")
        }
        let labelColumns = header.indices.filter { header[$0] == "label" }
        guard labelColumns.count <= 1 else {
            throw DatasetError(
                file: path, line: 1, column: nil,
                problem: "found \(labelColumns.count) columns named label (\(labelColumns.map { $0 + 1 })), expected one")
        }
        let labelColumn = labelColumns.first ?? header.count - 1
        var features: [Double] = []
        var labels: [Int] = []
        for (offset, line) in lines.enumerated().dropFirst() {
            let lineNumber = offset + 1
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count == header.count else {
                throw DatasetError(
                    file: path, line: lineNumber, column: nil,
                    problem: "found \(cells.count) cells, expected \(header.count) as in the header")
            }
            for (index, cell) in cells.enumerated() {
                let trimmed = cell.trimmingCharacters(in: .whitespaces)
                if index == labelColumn {
                    guard let label = Int(trimmed), (0...Self.maximumLabel).contains(label) else {
                        throw DatasetError(
                            file: path, line: lineNumber, column: header[index],
                            problem: "found \"\(trimmed.prefix(40))\", expected an integer label from 0 to \(Self.maximumLabel)")
                    }
                    labels.append(label)
                } else {
                    guard let value = Double(trimmed), abs(value) <= Self.maximumFeatureMagnitude else {
                        throw DatasetError(
                            file: path, line: lineNumber, column: header[index],
                            problem: "found \"\(trimmed.prefix(40))\", expected a number from −1e12 to 1e12")
                    }
                    features.append(value)
                }
            }
        }
        guard !labels.isEmpty else { throw DatasetError(file: path, line: 2, column: nil, problem: "no data rows") }
        // A split needs a training and a test sample of every class, and classes 0 ..< C.
        var counts = [Int](repeating: 0, count: (labels.max() ?? 0) + 1)
        for label in labels { counts[label] += 1 }
        if let sparse = counts.indices.first(where: { counts[$0] < 2 }) {
            throw DatasetError(
                file: path, line: nil, column: header[labelColumn],
                problem:
                    "label \(sparse) has \(counts[sparse]) rows, expected at least 2 of every label from 0 to \(counts.count - 1) (one to train, one to test)"
            )
        }
        return Dataset(
            name: name ?? (path as NSString).lastPathComponent, features: features, labels: labels,
            featureCount: header.count - 1, classCount: (labels.max() ?? 0) + 1)
    }

    /// Two interleaving half circles with Gaussian noise 0.1 (scikit-learn's make_moons), n
    /// samples, from `seed`.
    public static func moons(count: Int = 1000, seed: UInt64) -> Dataset {
        var noise = GaussianSource(seed: seed, stream: 700)
        var random = Xoshiro256StarStar(seed: seed, stream: 701)
        var features: [Double] = []
        var labels: [Int] = []
        for index in 0..<count {
            let label = index % 2
            let angle = Double.pi * random.nextUnitInterval()
            let x = label == 0 ? cos(angle) : 1 - cos(angle)
            let y = label == 0 ? sin(angle) : 0.5 - sin(angle)
            features += [x + 0.1 * noise.next(), y + 0.1 * noise.next()]
            labels.append(label)
        }
        return Dataset(name: "moons", features: features, labels: labels, featureCount: 2, classCount: 2)
    }
}

/// A stratified train/test split with features standardized on the training part.
public struct DatasetSplit: Sendable {
    public var train: Dataset
    public var test: Dataset

    /// Splits each class `trainFraction` : rest after a seeded shuffle, then standardizes every
    /// feature with the training split's mean and standard deviation (a constant feature keeps
    /// scale 1) — unless `standardizing` is false (a signal whose samples share one scale).
    public init(_ dataset: Dataset, trainFraction: Double = 0.7, seed: UInt64, standardizing: Bool = true) {
        var random = Xoshiro256StarStar(seed: seed, stream: 800)
        var trainIndices: [Int] = []
        var testIndices: [Int] = []
        for label in 0..<dataset.classCount {
            var members = dataset.labels.indices.filter { dataset.labels[$0] == label }
            // Fisher–Yates from the seed.
            for i in stride(from: members.count - 1, to: 0, by: -1) {
                let j = Int(random.next() % UInt64(i + 1))
                members.swapAt(i, j)
            }
            let cut = Int((Double(members.count) * trainFraction).rounded())
            trainIndices += members[..<cut]
            testIndices += members[cut...]
        }
        trainIndices.sort()
        testIndices.sort()
        let width = dataset.featureCount
        var mean = [Double](repeating: 0, count: width)
        var deviation = [Double](repeating: 0, count: width)
        for index in trainIndices { for (j, value) in dataset.row(index).enumerated() { mean[j] += value } }
        for j in 0..<width { mean[j] /= Double(trainIndices.count) }
        for index in trainIndices {
            for (j, value) in dataset.row(index).enumerated() { deviation[j] += (value - mean[j]) * (value - mean[j]) }
        }
        for j in 0..<width {
            let standard = (deviation[j] / Double(trainIndices.count)).squareRoot()
            deviation[j] = standard > 1e-12 ? standard : 1
        }
        if !standardizing {
            mean = [Double](repeating: 0, count: width)
            deviation = [Double](repeating: 1, count: width)
        }
        func subset(_ indices: [Int], _ suffix: String) -> Dataset {
            var features: [Double] = []
            features.reserveCapacity(indices.count * width)
            for index in indices {
                for (j, value) in dataset.row(index).enumerated() { features.append((value - mean[j]) / deviation[j]) }
            }
            return Dataset(
                name: "\(dataset.name) (\(suffix))", features: features, labels: indices.map { dataset.labels[$0] },
                featureCount: width, classCount: dataset.classCount)
        }
        train = subset(trainIndices, "train")
        test = subset(testIndices, "test")
    }

    /// A split given as two files (MNIST-1D's fixed train and test sets), used as they are.
    public init(train: Dataset, test: Dataset) {
        self.train = train
        self.test = test
    }

    /// A split for tuning (`--validation`): the training split cut again, stratified, 80 : 20
    /// (re-standardized from the smaller training part); the validation rows stand where the
    /// test rows stood, so the test split is never seen while defaults are chosen.
    public func carvingValidation(seed: UInt64, standardizing: Bool = true) -> DatasetSplit {
        var split = DatasetSplit(train, trainFraction: 0.8, seed: seed &+ 0x7A11_DA7E, standardizing: standardizing)
        split.train.name = train.name.replacingOccurrences(of: " (train)", with: "") + " (train less validation)"
        split.test.name = train.name.replacingOccurrences(of: " (train)", with: "") + " (validation)"
        return split
    }
}
