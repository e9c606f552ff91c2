import Foundation

/// One setting of `sluice serve`, described once: its flag, its TOML key, the type of its
/// value, how it is checked, and its help. `ServeSettings.table` lists them all.
public struct ServeSetting: Sendable {
    public enum Kind: Sendable {
        case string, integer, number, boolean

        var name: String {
            switch self {
            case .string: "a string"
            case .integer: "an integer"
            case .number: "a number"
            case .boolean: "true or false"
            }
        }
    }

    /// A value as read from a flag or the TOML file, already of the setting's kind.
    public enum Value: Sendable {
        case string(String), integer(Int), number(Double), boolean(Bool)
    }

    /// The long flag without its dashes (`retention-days`); a boolean also has `--no-…`.
    public let flag: String
    /// The TOML key (`retention_days`).
    public let key: String
    public let kind: Kind
    /// What the flag's value looks like in help (`HOST:PORT`).
    public let placeholder: String
    /// The default in words, when the default value is none or depends on another setting.
    let defaultNote: String?
    public let help: String
    /// The setting's value in `settings`, as a flag would give it; nil when it has none.
    public let read: @Sendable (ServeSettings) -> String?
    let write: @Sendable (inout ServeSettings, Value) throws(SettingsError) -> Void
    /// Why the value in `settings` cannot be used; nil when it can.
    let check: @Sendable (ServeSettings) -> String?

    /// The default as the README and `--help` show it.
    public var defaultText: String {
        if let defaultNote { return defaultNote }
        guard let value = read(ServeSettings()) else { return "none" }
        return "`\(value)`"
    }

    /// The flag as `--help` and the README show it: `--listen HOST:PORT`, or
    /// `--[no-]warm-start` for a boolean.
    public var flagText: String { kind == .boolean ? "--[no-]\(flag)" : "--\(flag) \(placeholder)" }

    /// Reads `text` (a flag's value) as this setting's kind.
    func value(parsing text: String, source: String) throws(SettingsError) -> Value {
        switch kind {
        case .string:
            return .string(text)
        case .integer:
            guard let i = Int(text) else { throw SettingsError("\(source) must be an integer, got '\(text)'") }
            return .integer(i)
        case .number:
            guard let d = Double(text), d.isFinite else { throw SettingsError("\(source) must be a number, got '\(text)'") }
            return .number(d)
        case .boolean:
            switch text {
            case "true": return .boolean(true)
            case "false": return .boolean(false)
            default: throw SettingsError("\(source) must be true or false, got '\(text)'")
            }
        }
    }
}

// MARK: - Building the table

extension ServeSetting {
    typealias Path<T> = WritableKeyPath<ServeSettings, T> & Sendable

    static func string(
        _ flag: String, _ key: String, _ path: any Path<String>, placeholder: String = "TEXT", help: String,
        check: @escaping @Sendable (String) -> String? = { _ in nil }
    ) -> ServeSetting {
        ServeSetting(
            flag: flag, key: key, kind: .string, placeholder: placeholder, defaultNote: nil, help: help,
            read: { $0[keyPath: path] },
            write: { settings, value in if case .string(let s) = value { settings[keyPath: path] = s } },
            check: { check($0[keyPath: path]) })
    }

    static func optionalString(
        _ flag: String, _ key: String, _ path: any Path<String?>, placeholder: String = "TEXT", defaultNote: String, help: String,
        check: @escaping @Sendable (String) -> String? = { _ in nil }
    ) -> ServeSetting {
        ServeSetting(
            flag: flag, key: key, kind: .string, placeholder: placeholder, defaultNote: defaultNote, help: help,
            read: { $0[keyPath: path] },
            write: { settings, value in if case .string(let s) = value { settings[keyPath: path] = s } },
            check: { settings in settings[keyPath: path].flatMap(check) })
    }

    /// A readable file, named by its path.
    static func file(_ flag: String, _ key: String, _ path: any Path<String?>, defaultNote: String, help: String) -> ServeSetting {
        optionalString(flag, key, path, placeholder: "FILE", defaultNote: defaultNote, help: help) { file in
            FileManager.default.isReadableFile(atPath: file) ? nil : "'\(file)' does not exist or is not readable"
        }
    }

    static func integer(
        _ flag: String, _ key: String, _ path: any Path<Int>, placeholder: String = "N", range: ClosedRange<Int>, help: String
    ) -> ServeSetting {
        ServeSetting(
            flag: flag, key: key, kind: .integer, placeholder: placeholder, defaultNote: nil, help: help,
            read: { String($0[keyPath: path]) },
            write: { settings, value in if case .integer(let i) = value { settings[keyPath: path] = i } },
            check: { settings in outside(range, settings[keyPath: path]) })
    }

    static func optionalInteger(
        _ flag: String, _ key: String, _ path: any Path<Int?>, placeholder: String = "N", range: ClosedRange<Int>, defaultNote: String, help: String
    ) -> ServeSetting {
        ServeSetting(
            flag: flag, key: key, kind: .integer, placeholder: placeholder, defaultNote: defaultNote, help: help,
            read: { $0[keyPath: path].map(String.init) },
            write: { settings, value in if case .integer(let i) = value { settings[keyPath: path] = i } },
            check: { settings in settings[keyPath: path].flatMap { outside(range, $0) } })
    }

    /// A number in `range`; `aboveLowerBound`, strictly above its lower bound.
    static func number(
        _ flag: String, _ key: String, _ path: any Path<Double>, placeholder: String = "N", range: ClosedRange<Double>, aboveLowerBound: Bool = false,
        help: String
    ) -> ServeSetting {
        ServeSetting(
            flag: flag, key: key, kind: .number, placeholder: placeholder, defaultNote: nil, help: help,
            read: { numberText($0[keyPath: path]) },
            write: { settings, value in if case .number(let d) = value { settings[keyPath: path] = d } },
            check: { settings in
                let d = settings[keyPath: path]
                if range.contains(d), !(aboveLowerBound && d == range.lowerBound) { return nil }
                let low = aboveLowerBound ? "more than \(numberText(range.lowerBound))" : "from \(numberText(range.lowerBound))"
                return "must be \(low) to \(numberText(range.upperBound)), got \(numberText(d))"
            })
    }

    static func boolean(_ flag: String, _ key: String, _ path: any Path<Bool>, help: String) -> ServeSetting {
        ServeSetting(
            flag: flag, key: key, kind: .boolean, placeholder: "", defaultNote: nil, help: help,
            read: { String($0[keyPath: path]) },
            write: { settings, value in if case .boolean(let b) = value { settings[keyPath: path] = b } },
            check: { _ in nil })
    }

    static func outside(_ range: ClosedRange<Int>, _ i: Int) -> String? {
        range.contains(i) ? nil : "must be from \(range.lowerBound) to \(range.upperBound), got \(i)"
    }

    /// `600` rather than `600.0`.
    static func numberText(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }
}
