import Foundation
import SluiceEngine

/// Where one CSV column goes in a recipient.
enum CSVColumnTarget: Equatable, Sendable, CustomStringConvertible {
    /// The recipient's number.
    case to
    /// The template's `{{n}}`, from 1.
    case parameter(Int)
    /// The caller's own id for the recipient.
    case externalID
    /// Read past.
    case skip

    /// `to`, `skip` or a parameter number from 1 to `CampaignIntakeRoute.parameterColumnsMax`.
    init?(_ text: String) {
        switch text.lowercased() {
        case "to": self = .to
        case "skip": self = .skip
        case "external_id": self = .externalID
        default:
            guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let n = Int(text),
                (1...CampaignIntakeRoute.parameterColumnsMax).contains(n)
            else { return nil }
            self = .parameter(n)
        }
    }

    var description: String {
        switch self {
        case .to: "to"
        case .parameter(let n): String(n)
        case .externalID: "external_id"
        case .skip: "skip"
        }
    }
}

/// The `column=NAME=TARGET` parameters of a CSV query (`?column=phone=to&column=first_name=1`):
/// which header columns fill the recipient, by name, whatever else the file holds.
struct CSVColumnMapping: Equatable, Sendable {
    /// Trimmed and lowercased, as header names are compared.
    var name: String
    var target: CSVColumnTarget

    /// More than any file needs: the parameters, `to`, and as many skipped.
    static let mappingsMax = 2 * CampaignIntakeRoute.parameterColumnsMax + 1
    static let expected = "NAME=TARGET, TARGET being to, external_id, skip or a parameter number 1–\(CampaignIntakeRoute.parameterColumnsMax)"

    /// One query value; split at its last `=`, since a header name may hold one.
    init(query value: String) throws {
        guard let equals = value.lastIndex(of: "=") else {
            throw APIError.invalid("column", "column '\(value)' must be \(Self.expected)")
        }
        let name = value[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
        let targetText = value[value.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw APIError.invalid("column", "column '\(value)' names no column; it must be \(Self.expected)") }
        guard let target = CSVColumnTarget(targetText) else {
            throw APIError.invalid("column", "column '\(value)': '\(targetText)' is not a target; it must be \(Self.expected)")
        }
        self.name = name
        self.target = target
    }

    /// The whole mapping from the query, checked before the body is read: each name once,
    /// exactly one `to`, parameters numbered from 1 without a gap or a repeat. None given:
    /// none (the header's `to` and order decide).
    static func parse(_ values: [String]) throws -> [CSVColumnMapping] {
        if values.isEmpty { return [] }
        guard values.count <= mappingsMax else { throw APIError.invalid("column", "at most \(mappingsMax) column parameters, got \(values.count)") }
        let mappings = try values.map { try CSVColumnMapping(query: $0) }
        var seen = Set<String>()
        for mapping in mappings where !seen.insert(mapping.name).inserted {
            throw APIError.invalid("column", "column '\(mapping.name)' is mapped twice")
        }
        let toCount = mappings.count { $0.target == .to }
        guard toCount == 1 else {
            throw APIError.invalid("column", "exactly one column must be mapped to 'to' (the recipient's number), got \(toCount)")
        }
        guard mappings.count(where: { $0.target == .externalID }) <= 1 else {
            throw APIError.invalid("column", "at most one column may be mapped to 'external_id'")
        }
        var numbers: [Int] = []
        for mapping in mappings {
            if case .parameter(let n) = mapping.target { numbers.append(n) }
        }
        for (expected, n) in zip(1..., numbers.sorted()) where n != expected {
            throw APIError.invalid(
                "column", n < expected
                    ? "parameter \(n) is mapped twice"
                    : "parameters must be numbered from 1 without a gap: \(n) is mapped but \(expected) is not")
        }
        return mappings
    }

    /// The mapping in the idempotency digest: each name with its length, so no two
    /// mappings read the same.
    static func canonical(_ mappings: [CSVColumnMapping]) -> String {
        mappings.map { "\($0.name.utf8.count):\($0.name)=\($0.target)" }.joined(separator: "\u{0}")
    }
}

/// The columns of a CSV upload from its header row. Without a mapping: one `to`
/// column, the others fill `{{1}}`, `{{2}}` … in order. With one
/// (``CSVColumnMapping``): the named columns go where it says, the rest are skipped.
struct CSVColumns {
    /// Trimmed, lowercased column names.
    var names: [String]
    /// Where each column goes, in header order.
    var targets: [CSVColumnTarget]
    /// The header's separator, which every row is split with.
    var separator: CSVSeparator
    var toColumn: Int
    var parameterCount: Int

    /// The header row (line `number`), or a 400 naming what is wrong with it; `separator`
    /// nil: detected from the header.
    init(header: [UInt8], number: Int, separator: CSVSeparator?, mappings: [CSVColumnMapping]) throws {
        guard BodyLines.isValidUTF8(header) else {
            throw APIError.invalid("header", "line \(number), the header row, is not valid UTF-8 (save the file as UTF-8)")
        }
        var header = header
        // A UTF-8 byte order mark (spreadsheet exports) is not part of the first name.
        if header.starts(with: [0xEF, 0xBB, 0xBF]) { header.removeFirst(3) }
        let separator = separator ?? CSVSeparator.detected(in: header)
        let names: [String]
        switch CSVLine.fields(header, separator: separator) {
        case .success(let fields): names = fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        case .failure(let problem): throw APIError.invalid("header", "line \(number), the header row: \(problem)")
        }
        self.names = names
        self.separator = separator
        targets = try mappings.isEmpty ? Self.inOrder(names, number: number) : Self.mapped(names, mappings, number: number)
        // Both ways hold exactly one `to`.
        toColumn = targets.firstIndex(of: .to)!
        parameterCount = targets.count { if case .parameter = $0 { true } else { false } }
        guard parameterCount <= CampaignIntakeRoute.parameterColumnsMax else {
            throw APIError.invalid("header", "line \(number), the header row, has \(parameterCount) parameter columns; at most \(CampaignIntakeRoute.parameterColumnsMax)")
        }
    }

    /// Without a mapping: the `to` column, an `external_id` column if there is one, the
    /// others parameters in order.
    static func inOrder(_ names: [String], number: Int) throws -> [CSVColumnTarget] {
        let toColumns = names.indices.filter { names[$0] == "to" }
        guard toColumns.count == 1 else {
            throw APIError.invalid(
                "header", toColumns.isEmpty
                    ? "line \(number), the header row, has no 'to' column (found: \(names.joined(separator: ", "))); name it 'to', or map one with ?column=NAME=to"
                    : "line \(number), the header row, has \(toColumns.count) 'to' columns")
        }
        guard names.count(where: { $0 == "external_id" }) <= 1 else {
            throw APIError.invalid("header", "line \(number), the header row, has more than one 'external_id' column")
        }
        var next = 0
        return names.map { name in
            guard name != "to" else { return .to }
            guard name != "external_id" else { return .externalID }
            next += 1
            return .parameter(next)
        }
    }

    /// With a mapping: each mapped name must be one column of the header.
    static func mapped(_ names: [String], _ mappings: [CSVColumnMapping], number: Int) throws -> [CSVColumnTarget] {
        var targets = [CSVColumnTarget](repeating: .skip, count: names.count)
        for mapping in mappings {
            let columns = names.indices.filter { names[$0] == mapping.name }
            guard columns.count == 1, let column = columns.first else {
                if !columns.isEmpty {
                    throw APIError.invalid("column", "column '\(mapping.name)' appears \(columns.count) times in the header row (line \(number))")
                }
                var message = "column '\(mapping.name)' is not in the header row (line \(number))"
                if let near = KnownFields.suggestion(for: mapping.name, among: Set(names)) { message += " (did you mean \(near)?)" }
                throw APIError.invalid("column", message + "; found: \(names.joined(separator: ", "))")
            }
            targets[column] = mapping.target
        }
        return targets
    }

    /// One data row as a recipient, or why it is not one.
    func recipient(_ line: [UInt8]) -> Result<RecipientInput, CSVLine.Problem> {
        switch CSVLine.fields(line, separator: separator) {
        case .failure(let problem):
            return .failure(problem)
        case .success(let fields) where fields.count != names.count:
            return .failure(CSVLine.Problem(description: "the row has \(fields.count) field(s), the header has \(names.count)"))
        case .success(let fields):
            var recipient = RecipientInput(to: fields[toColumn], params: [String](repeating: "", count: parameterCount))
            for (field, target) in zip(fields, targets) {
                switch target {
                case .to, .skip: continue
                case .parameter(let n): recipient.params[n - 1] = field
                // An empty cell: no id for this row.
                case .externalID: recipient.externalID = field.isEmpty ? nil : field
                }
            }
            return .success(recipient)
        }
    }
}
