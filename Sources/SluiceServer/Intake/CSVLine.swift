/// One CSV line split into fields (RFC 4180 quoting: `"a,b"`, `"say ""hi"""`). A quoted
/// field cannot span lines: intake reads line by line, so a line with an unclosed quote
/// is refused.
enum CSVLine {
    struct Problem: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    static func fields(_ line: [UInt8]) -> Result<[String], Problem> {
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
                guard line[i] == UInt8(ascii: ",") else {
                    return .failure(Problem(description: "field \(fields.count) has text after its closing quote"))
                }
                i += 1
            } else {
                let start = i
                while i < n, line[i] != UInt8(ascii: ",") { i += 1 }
                fields.append(String(decoding: line[start..<i], as: UTF8.self))
                if i == n { return .success(fields) }
                i += 1
            }
        }
    }
}
