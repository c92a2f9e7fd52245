import Foundation
import ReservoirHAL
import Yams

/// Reading the project's YAML data files into the HAL's `ConfigNode` tree, and writing files
/// that must survive a crash.
public enum DataFile {
    /// Parses the YAML file at `path`. A missing or unreadable file, or invalid YAML, is one
    /// `ConfigError` naming the file (and the line, for syntax errors).
    public static func load(_ path: String) throws(ConfigError) -> ConfigNode {
        // Refuse a large file before reading it into memory.
        var status = stat()
        if stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, Int(status.st_size) > maximumBytes {
            throw ConfigError(
                file: path, field: "", problem: .unreadable(reason: "the file has \(status.st_size) bytes"),
                expected: "a data file of at most \(maximumBytes) bytes")
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(
                file: path, field: "", problem: .unreadable(reason: readFailureReason(path)),
                expected: "a readable YAML file")
        }
        return try parse(text, file: path)
    }

    /// Data files are small: a larger one is refused before it is parsed.
    public static let maximumBytes = 1 << 20

    /// Parses YAML `text` that came from `file` (named in errors). Anchors and aliases are
    /// refused: no data file needs them, and an alias is expanded as a copy, so a few lines of
    /// nested aliases ("billion laughs") would take gigabytes.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> ConfigNode {
        guard text.utf8.count <= maximumBytes else {
            throw ConfigError(
                file: file, field: "", problem: .unreadable(reason: "the file has \(text.utf8.count) bytes"),
                expected: "a data file of at most \(maximumBytes) bytes")
        }
        if let line = firstAnchorOrAlias(in: text) {
            throw ConfigError(
                file: file, field: "", problem: .unreadable(reason: "a YAML anchor or alias (& or *)"),
                expected: "plain YAML without anchors and aliases (write each value out)", line: line)
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigError(
                file: file, field: "", problem: .unreadable(reason: "not valid YAML: \(summary(of: error))"),
                expected: "valid YAML", line: line(of: error))
        } catch {
            throw ConfigError(
                file: file, field: "", problem: .unreadable(reason: "not valid YAML: \(error)"), expected: "valid YAML")
        }
        guard let root else {
            throw ConfigError(
                file: file, field: "", problem: .unreadable(reason: "the file is empty"),
                expected: "a mapping of fields")
        }
        return convert(root)
    }

    /// The line (1-based) of the first YAML anchor (`&name`) or alias (`*name`): an `&` or `*`
    /// that starts a node, i.e. follows the line's indentation, `- `, `: `, `? `, `[`, `{` or `,`,
    /// outside quotes and comments.
    static func firstAnchorOrAlias(in text: String) -> Int? {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var quote: Character?
            var previous: Character = " "
            var beforePrevious: Character = " "
            for character in line {
                if let open = quote {
                    if character == open { quote = nil }
                } else if character == "\"" || character == "'" {
                    quote = character
                } else if character == "#" && (previous == " " || previous == "\t") {
                    break
                } else if character == "&" || character == "*" {
                    let startsNode =
                        previous == " " || previous == "\t" || previous == "[" || previous == "{" || previous == ","
                        || ((previous == "-" || previous == ":" || previous == "?") && beforePrevious == " ")
                    if startsNode { return index + 1 }
                }
                beforePrevious = previous
                previous = character
            }
        }
        return nil
    }

    /// Reads and validates the board file at `path`.
    public static func loadBoard(_ path: String) throws(ConfigError) -> BoardDescription {
        try BoardDescription(parsing: load(path), source: path)
    }

    /// Writes `contents` to `path` so that a crash leaves either the old file or the new one,
    /// never a torn one: write a temporary file in the same folder, fsync it, rename it over
    /// the target, fsync the folder.
    public static func writeAtomically(_ contents: String, to path: String) throws(DataFileWriteError) {
        let directory = (path as NSString).deletingLastPathComponent
        let folder = directory.isEmpty ? "." : directory
        let temporary = "\(folder)/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DataFileWriteError(path: path, step: "create \(temporary)", errno: errno) }
        var bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                let failure = errno
                close(fd)
                unlink(temporary)
                throw DataFileWriteError(path: path, step: "write \(temporary)", errno: failure)
            }
            written += result
        }
        bytes.removeAll()
        if fsync(fd) != 0 {
            let failure = errno
            close(fd)
            unlink(temporary)
            throw DataFileWriteError(path: path, step: "fsync \(temporary)", errno: failure)
        }
        close(fd)
        if rename(temporary, path) != 0 {
            let failure = errno
            unlink(temporary)
            throw DataFileWriteError(path: path, step: "rename onto \(path)", errno: failure)
        }
        let directoryFD = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Why the file at `path` cannot be read, in a few words (never a Foundation error dump).
    public static func readFailureReason(_ path: String) -> String {
        var status = stat()
        if stat(path, &status) != 0 { return String(cString: strerror(errno)) }
        if (status.st_mode & S_IFMT) == S_IFDIR { return "it is a directory" }
        if access(path, R_OK) != 0 { return String(cString: strerror(errno)) }
        return "it is not UTF-8 text"
    }

    private static func convert(_ node: Node) -> ConfigNode {
        switch node {
        case .scalar(let scalar):
            let isNull = scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
            return ConfigNode(isNull ? .null : .scalar(scalar.string), line: scalar.mark?.line)
        case .mapping(let mapping):
            let entries = mapping.map { pair in (key: pair.key.string ?? "\(pair.key)", value: convert(pair.value)) }
            return ConfigNode(.mapping(entries), line: mapping.mark?.line)
        case .sequence(let sequence):
            return ConfigNode(.sequence(sequence.map(convert)), line: sequence.mark?.line)
        case .alias(let alias):
            return ConfigNode(.scalar("*\(alias)"), line: nil)
        }
    }

    private static func summary(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        case .duplicatedKeysInMapping(let duplicates, _):
            return "duplicated keys \(duplicates.joined(separator: ", "))"
        default:
            return "\(error)"
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        case .duplicatedKeysInMapping(_, let context):
            return context.mark.line
        default:
            return nil
        }
    }
}

/// A file that could not be written safely: which file, which step, and the error number.
public struct DataFileWriteError: Error, CustomStringConvertible {
    /// The file being written.
    public var path: String
    /// The step that failed.
    public var step: String
    /// The error number.
    public var errno: Int32

    public var description: String {
        "cannot write \(path): \(step) failed: \(String(cString: strerror(errno)))"
    }
}
