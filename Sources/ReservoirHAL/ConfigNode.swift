/// A parsed data file (YAML) as a plain tree, with the line each node came from. The parser
/// lives in ReservoirFiles; this module only reads the tree, so the vocabulary stays free of
/// Foundation and of any YAML library.
public struct ConfigNode: Sendable {
    /// The shapes a node can take.
    public enum Value: Sendable {
        /// A scalar, exactly as written (numbers are parsed by the reader that expects them).
        case scalar(String)
        /// A mapping, in file order.
        case mapping([(key: String, value: ConfigNode)])
        /// A sequence.
        case sequence([ConfigNode])
        /// An empty value (`key:` with nothing after it, or `null`).
        case null
    }

    /// The node's content.
    public var value: Value
    /// 1-based line in the file, when the parser knows it.
    public var line: Int?

    /// A node holding `value`, from `line`.
    public init(_ value: Value, line: Int? = nil) {
        self.value = value
        self.line = line
    }

    /// How the node looks in an error message.
    var foundDescription: String {
        switch value {
        case .scalar(let text): return "\"\(text)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .null: return "an empty value"
        }
    }
}

/// A data file that does not say what it must: the file, the field, what was found and what
/// was expected, in one line.
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    /// How the file fails.
    public enum Problem: Sendable, Equatable {
        /// The file cannot be read at all (missing, unreadable, not valid YAML).
        case unreadable(reason: String)
        /// A required field is absent.
        case missingField
        /// A field holds something of the wrong type or out of range.
        case invalidValue(found: String)
        /// A field that this file type does not have (often a typo).
        case unknownField
        /// Two fields, each valid, that contradict each other.
        case inconsistent(found: String)
    }

    /// The file, as the user named it.
    public var file: String
    /// Dotted path of the field (`dac.bits`), empty for the whole file.
    public var field: String
    /// What went wrong.
    public var problem: Problem
    /// What a valid file has there.
    public var expected: String
    /// 1-based line, when known.
    public var line: Int?

    /// An error about `field` in `file`.
    public init(file: String, field: String, problem: Problem, expected: String, line: Int? = nil) {
        self.file = file
        self.field = field
        self.problem = problem
        self.expected = expected
        self.line = line
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        switch problem {
        case .unreadable(let reason):
            return "\(place): cannot read: \(reason)"
        case .missingField:
            return "\(place): field \"\(field)\" is missing; expected \(expected)"
        case .invalidValue(let found):
            return "\(place): field \"\(field)\": found \(found), expected \(expected)"
        case .unknownField:
            return "\(place): field \"\(field)\" is not a known field; expected one of \(expected)"
        case .inconsistent(let found):
            return "\(place): field \"\(field)\": found \(found), expected \(expected)"
        }
    }
}

/// Reads one mapping of a data file field by field, checking types and ranges, and at the end
/// rejects any key it was not asked for (a typo is an error, not a silently ignored field).
public final class ConfigMapping {
    /// The file being read (for messages).
    public let file: String
    /// Dotted path of this mapping (empty at the top level).
    public let path: String
    /// Line of the mapping itself.
    public let line: Int?
    private let entries: [(key: String, value: ConfigNode)]
    private var consumed: Set<String> = []

    /// Reads `node` as a mapping, or throws naming `path` in `file`.
    public init(_ node: ConfigNode, file: String, path: String = "") throws(ConfigError) {
        guard case .mapping(let entries) = node.value else {
            throw ConfigError(
                file: file, field: path, problem: .invalidValue(found: node.foundDescription),
                expected: "a mapping of fields", line: node.line)
        }
        self.file = file
        self.path = path
        self.line = node.line
        self.entries = entries
    }

    /// The mapping's keys, in file order (for mappings whose keys are data, not fields).
    public var keys: [String] { entries.map(\.key) }

    /// The dotted path of `key` inside this mapping.
    public func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The node at `key`, or nil when absent; marks the key as known.
    public func optionalNode(_ key: String) -> ConfigNode? {
        consumed.insert(key)
        guard let node = entries.first(where: { $0.key == key })?.value else { return nil }
        if case .null = node.value { return nil }
        return node
    }

    /// The node at `key`; throws when absent.
    public func node(_ key: String, expected: String) throws(ConfigError) -> ConfigNode {
        guard let node = optionalNode(key) else {
            throw ConfigError(
                file: file, field: fieldPath(key), problem: .missingField, expected: expected, line: line)
        }
        return node
    }

    /// The nested mapping at `key`.
    public func mapping(_ key: String) throws(ConfigError) -> ConfigMapping {
        try ConfigMapping(node(key, expected: "a mapping of fields"), file: file, path: fieldPath(key))
    }

    /// The nested mapping at `key`, or nil when absent.
    public func optionalMapping(_ key: String) throws(ConfigError) -> ConfigMapping? {
        guard let node = optionalNode(key) else { return nil }
        return try ConfigMapping(node, file: file, path: fieldPath(key))
    }

    /// The list at `key`, or an empty list when absent.
    public func list(_ key: String) throws(ConfigError) -> [ConfigNode] {
        guard let node = optionalNode(key) else { return [] }
        guard case .sequence(let items) = node.value else {
            throw invalid(key, node, expected: "a list")
        }
        return items
    }

    /// A non-empty string.
    public func string(_ key: String) throws(ConfigError) -> String {
        let expected = "a non-empty string"
        return try parsedScalar(node(key, expected: expected), key, expected: expected) { $0.isEmpty ? nil : $0 }
    }

    /// A non-empty string, or nil when absent.
    public func optionalString(_ key: String) throws(ConfigError) -> String? {
        guard let node = optionalNode(key) else { return nil }
        return try parsedScalar(node, key, expected: "a non-empty string") { $0.isEmpty ? nil : $0 }
    }

    /// One of `choices`.
    public func choice(_ key: String, from choices: [String]) throws(ConfigError) -> String {
        let expected = choices.map { "\"\($0)\"" }.joined(separator: ", ")
        let expectation = "one of \(expected)"
        return try parsedScalar(node(key, expected: expectation), key, expected: expectation) {
            choices.contains($0) ? $0 : nil
        }
    }

    /// One of `choices`, or `defaultValue` when the key is absent.
    public func choice(_ key: String, from choices: [String], default defaultValue: String) throws(ConfigError)
        -> String
    {
        guard optionalNode(key) != nil else { return defaultValue }
        return try choice(key, from: choices)
    }

    /// A finite number in `range`.
    public func double(_ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        let expected = Self.describe(range)
        return try parsedDouble(node(key, expected: expected), key, in: range, expected: expected)
    }

    /// A finite number in `range`, or `defaultValue` when absent.
    public func double(_ key: String, in range: ClosedRange<Double>, default defaultValue: Double) throws(ConfigError)
        -> Double
    {
        guard let node = optionalNode(key) else { return defaultValue }
        return try parsedDouble(node, key, in: range, expected: Self.describe(range))
    }

    /// A finite number in `range`, or nil when absent.
    public func optionalDouble(_ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double? {
        guard let node = optionalNode(key) else { return nil }
        return try parsedDouble(node, key, in: range, expected: Self.describe(range))
    }

    /// An integer in `range`.
    public func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let expected = "an integer from \(range.lowerBound) to \(range.upperBound)"
        return try parsedScalar(node(key, expected: expected), key, expected: expected) { text in
            Int(text).flatMap { range.contains($0) ? $0 : nil }
        }
    }

    /// An integer in `range`, or `defaultValue` when absent.
    public func int(_ key: String, in range: ClosedRange<Int>, default defaultValue: Int) throws(ConfigError) -> Int {
        guard optionalNode(key) != nil else { return defaultValue }
        return try int(key, in: range)
    }

    /// `true` or `false`.
    public func bool(_ key: String) throws(ConfigError) -> Bool {
        let expected = "true or false"
        return try parsedScalar(node(key, expected: expected), key, expected: expected) { text in
            switch text {
            case "true": return true
            case "false": return false
            default: return nil
            }
        }
    }

    /// `true` or `false`, or `defaultValue` when absent.
    public func bool(_ key: String, default defaultValue: Bool) throws(ConfigError) -> Bool {
        guard optionalNode(key) != nil else { return defaultValue }
        return try bool(key)
    }

    /// An error about the value at `key`, for checks that span fields.
    public func inconsistency(_ key: String, found: String, expected: String) -> ConfigError {
        ConfigError(
            file: file, field: fieldPath(key), problem: .inconsistent(found: found), expected: expected,
            line: entries.first(where: { $0.key == key })?.value.line ?? line)
    }

    /// Throws for the first key that was never asked for.
    public func rejectUnknownFields() throws(ConfigError) {
        if let unknown = entries.first(where: { !consumed.contains($0.key) }) {
            throw ConfigError(
                file: file, field: fieldPath(unknown.key), problem: .unknownField,
                expected: consumed.sorted().joined(separator: ", "), line: unknown.value.line)
        }
    }

    private func parsedDouble(
        _ node: ConfigNode, _ key: String, in range: ClosedRange<Double>, expected: String
    ) throws(ConfigError) -> Double {
        try parsedScalar(node, key, expected: expected) { text in
            Double(text).flatMap { $0.isFinite && range.contains($0) ? $0 : nil }
        }
    }

    private func parsedScalar<T>(
        _ node: ConfigNode, _ key: String, expected: String, _ parse: (String) -> T?
    ) throws(ConfigError) -> T {
        guard case .scalar(let text) = node.value, let parsed = parse(text) else {
            throw invalid(key, node, expected: expected)
        }
        return parsed
    }

    private func invalid(_ key: String, _ node: ConfigNode, expected: String) -> ConfigError {
        ConfigError(
            file: file, field: fieldPath(key), problem: .invalidValue(found: node.foundDescription),
            expected: expected, line: node.line ?? line)
    }

    private static func describe(_ range: ClosedRange<Double>) -> String {
        switch (range.lowerBound.isFinite, range.upperBound.isFinite) {
        case (true, true): return "a number from \(range.lowerBound) to \(range.upperBound)"
        case (true, false): return "a number ≥ \(range.lowerBound)"
        case (false, true): return "a number ≤ \(range.upperBound)"
        case (false, false): return "a finite number"
        }
    }
}
