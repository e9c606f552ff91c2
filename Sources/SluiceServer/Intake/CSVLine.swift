/// One CSV line split into fields (RFC 4180 quoting: `"a,b"`, `"say ""hi"""`). A quoted
/// field cannot span lines: intake reads line by line, so a line with an unclosed quote
/// is refused.
enum CSVLine {
    struct Problem: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    static func fields(_ line: [UInt8], separator: CSVSeparator) -> Result<[String], Problem> {
        let comma = separator.rawValue
        var fields: [String] = []
        var i = 0
        let n = line.count
        while true {
            if i < n, line[i] == UInt8(ascii: "\"") {
                var value: [UInt8] = []
                i += 1
                var closed = false
                while i < n {
                    let c = line[i]
                    i += 1
                    if c == UInt8(ascii: "\"") {
                        if i < n, line[i] == UInt8(ascii: "\"") {
                            value.append(c)
                            i += 1
                        } else {
                            closed = true
                            break
                        }
                    } else {
                        value.append(c)
                    }
                }
                guard closed else { return .failure(Problem(description: "field \(fields.count + 1) has an unclosed quote (quoted fields cannot span lines)")) }
                fields.append(String(decoding: value, as: UTF8.self))
                if i == n { return .success(fields) }
                guard line[i] == comma else {
                    return .failure(Problem(description: "field \(fields.count) has text after its closing quote"))
                }
                i += 1
            } else {
                let start = i
                while i < n, line[i] != comma { i += 1 }
                fields.append(String(decoding: line[start..<i], as: UTF8.self))
                if i == n { return .success(fields) }
                i += 1
            }
        }
    }
}

/// What separates the fields of a CSV upload. Spreadsheets in locales with a decimal
/// comma export `;`, and some tools tab-separated text, so all three are read.
enum CSVSeparator: UInt8, CaseIterable, Sendable {
    case comma = 0x2C
    case semicolon = 0x3B
    case tab = 0x09

    /// The `separator` query value: `,`, `;` or `tab` (a literal tab too); nil otherwise.
    init?(query value: String) {
        switch value {
        case ",": self = .comma
        case ";": self = .semicolon
        case "tab", "\t": self = .tab
        default: return nil
        }
    }

    /// As the query names it.
    var name: String {
        switch self {
        case .comma: ","
        case .semicolon: ";"
        case .tab: "tab"
        }
    }

    /// The separator that splits `header` into the most fields, counting only outside
    /// quotes (`"Smith; Bob"` is one name); on a tie the first of comma, semicolon, tab,
    /// so a header with none of them is one column either way.
    static func detected(in header: [UInt8]) -> CSVSeparator {
        var counts = [Int](repeating: 0, count: allCases.count)
        var quoted = false
        for byte in header {
            if byte == UInt8(ascii: "\"") {
                quoted.toggle()
                continue
            }
            guard !quoted, let index = allCases.firstIndex(where: { $0.rawValue == byte }) else { continue }
            counts[index] += 1
        }
        var best = 0
        for index in counts.indices where counts[index] > counts[best] { best = index }
        return allCases[best]
    }
}
