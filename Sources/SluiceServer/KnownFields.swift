/// Unknown members of a JSON body sent to the `/v1` API are mistakes — `"prority"` would
/// otherwise send a campaign as marketing, a misspelt `expires_at` would never expire —
/// so they are refused with a 400 naming the member, and the closest known name when
/// one is close. (Meta's webhooks stay lenient: Meta adds fields over time.)
enum KnownFields {
    /// Throws 400 `invalid_field` for the first member of `object` (in name order) not in
    /// `known`; `prefix` places it (`header.`, `recipients[3].`).
    static func check(_ object: [String: Any], _ known: Set<String>, prefix: String = "") throws {
        for key in object.keys.sorted() where !known.contains(key) {
            throw unknown(key, known, prefix: prefix)
        }
    }

    static func unknown(_ key: String, _ known: Set<String>, prefix: String = "") -> APIError {
        let shown = key.count > 64 ? String(key.prefix(64)) + "…" : key
        var message = "\(prefix)\(shown) is not a field here"
        if let near = suggestion(for: key, among: known) { message += " (did you mean \(prefix)\(near)?)" }
        message += "; known: \(known.sorted().joined(separator: ", "))"
        return APIError.invalid(prefix + shown, message)
    }

    /// The known name within a small edit distance of `key` (a third of its length, at
    /// most 3), the closest first; nil when none is.
    static func suggestion(for key: String, among known: Set<String>) -> String? {
        let word = Array(key.lowercased().utf8)
        guard !word.isEmpty, word.count <= 64 else { return nil }
        let allowed = min(3, max(1, word.count / 3))
        return known.map { ($0, distance(word, Array($0.utf8))) }
            .filter { $0.1 <= allowed }
            .min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    /// Damerau–Levenshtein distance (optimal string alignment): a swap of two neighbours
    /// counts one, as in `prority` / `priorty`.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}
