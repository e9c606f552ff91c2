import Foundation
import TOMLKit

extension ServeSettings {
    /// Applies a TOML document; unknown keys and wrong types are errors that name the key.
    public mutating func apply(toml text: String, source: String) throws(SettingsError) {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch {
            throw SettingsError("\(source) is not valid TOML: \(error)")
        }
        for key in table.keys.sorted() {
            guard let setting = Self.settingsByKey[key] else {
                throw SettingsError("\(source): unknown setting '\(key)' (known: \(Self.keys.sorted().joined(separator: ", ")))")
            }
            let value: ServeSetting.Value?
            switch setting.kind {
            case .string: value = table[key]?.string.map { .string($0) }
            case .integer: value = table[key]?.int.map { .integer($0) }
            case .number: value = (table[key]?.double ?? table[key]?.int.map(Double.init)).map { .number($0) }
            case .boolean: value = table[key]?.bool.map { .boolean($0) }
            }
            guard let value else { throw SettingsError("\(source): \(key) must be \(setting.kind.name)") }
            try setting.write(&self, value)
        }
    }

    /// Applies flags: `--flag VALUE`, `--flag=VALUE`, and `--flag` / `--no-flag` for a
    /// boolean. An unknown flag or a value of the wrong type is an error that names it.
    public mutating func apply(arguments: [String]) throws(SettingsError) {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw SettingsError("unexpected argument '\(argument)' (settings are flags such as --listen 127.0.0.1:8080)")
            }
            var name = String(argument.dropFirst(2))
            var inline: String?
            if let equals = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if let setting = Self.settingsByFlag[name] {
                // A boolean flag alone means true; any other flag takes a value.
                if setting.kind == .boolean, inline == nil {
                    try setting.write(&self, .boolean(true))
                    continue
                }
                guard let text = inline ?? rest.popFirst() else { throw SettingsError("--\(name) needs a value (\(setting.placeholder))") }
                try setting.write(&self, try setting.value(parsing: text, source: "--\(name)"))
            } else if name.hasPrefix("no-"), let setting = Self.settingsByFlag[String(name.dropFirst(3))], setting.kind == .boolean, inline == nil {
                try setting.write(&self, .boolean(false))
            } else {
                throw SettingsError("unknown option '--\(name)' (see sluice serve --help)")
            }
        }
    }

    /// Throws the first setting that cannot be used, named by its flag and key.
    public func validate() throws(SettingsError) {
        for setting in Self.table {
            if let reason = setting.check(self) { throw SettingsError("--\(setting.flag) (\(setting.key)) \(reason)") }
        }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw SettingsError("tls-cert and tls-key go together: give both or neither") }
        guard (clusterEtcd == nil) == (nodeID == nil) else { throw SettingsError("cluster-etcd and node-id go together: a node of a cluster needs a name, and a name needs a cluster") }
        guard advertise == nil || clusterEtcd != nil else { throw SettingsError("advertise needs cluster-etcd") }
    }

    /// The flags as `sluice serve --help` lists them, wrapped to `width` columns.
    public static func flagsHelp(width: Int = 78) -> String {
        let indent = String(repeating: " ", count: 6)
        return table.map { setting in
            let text = "\(setting.help.replacingOccurrences(of: "`", with: "")) (default: \(setting.defaultText.replacingOccurrences(of: "`", with: "")); TOML: \(setting.key))"
            return "  \(setting.flagText)\n" + wrap(text, width: width - indent.count).map { indent + $0 }.joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// The README's table of settings.
    public static var markdownTable: String {
        (["| flag | TOML key | default | meaning |", "|---|---|---|---|"]
            + table.map { setting in
                // A `|` inside a cell would end it (GitHub reads `\|` as `|`, in code too).
                let cells = ["`\(setting.flagText)`", "`\(setting.key)`", setting.defaultText, setting.help].map { $0.replacingOccurrences(of: "|", with: "\\|") }
                return "| " + cells.joined(separator: " | ") + " |"
            }).joined(separator: "\n")
    }

    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " " + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
