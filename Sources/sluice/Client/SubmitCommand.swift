import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Stream a campaign file to the server: NDJSON (a header line, then one recipient per line), CSV (a `to` column, then one column per template parameter, or any columns mapped with --column) or JSON.",
        discussion: """
            The format follows the extension (.ndjson/.jsonl, .csv, .json) or --format. CSV needs \
            --sender and --template (the query of POST /v1/campaigns); its columns are mapped by name \
            with --column (--column phone=to --column first_name=1 --column order=2: other columns \
            are skipped), and its separator (',', ';' or tab) is read from the header row unless \
            --separator gives it. Progress (bytes and rows sent) \
            goes to stderr; the answer (id, accepted, rejected rows with their line) to stdout. \
            Exit status: 0 when every row was accepted, \(Self.rejectedRowsExitCode) when the campaign was \
            accepted but rows were rejected (they are listed), 1 when the server refused it.
            """
    )

    /// The campaign went in, without some of its rows: scripts must not take it as whole.
    static let rejectedRowsExitCode: Int32 = 3

    @OptionGroup var client: ClientOptions
    @Argument(help: "The campaign file.") var file: String
    @Option(help: "ndjson, csv or json (default: from the file's extension).") var format: String?
    @Option(help: "CSV: the sender's phone_number_id.") var sender: String?
    @Option(help: "CSV: the approved template's name.") var template: String?
    @Option(help: "CSV: the template's language code.") var language = "en_US"
    @Option(name: .customLong("idempotency-key"), help: "Submitting again with the same key and file returns the first answer and sends nothing twice.")
    var idempotencyKey: String?
    @Option(name: .customLong("schedule-at"), help: "CSV: send nothing before this time (RFC 3339 or Unix seconds).") var scheduleAt: String?
    @Option(name: .customLong("expires-at"), help: "CSV: what is not sent by this time ends expired.") var expiresAt: String?
    @Option(help: "CSV: transactional (before the sender's marketing campaigns) or marketing.") var priority: String?
    @Option(help: "CSV: at_least_once (resend a message in doubt) or at_most_once (it ends unknown).") var delivery: String?
    @Option(
        name: .customLong("column"),
        help: "CSV: NAME=TARGET sends the header column NAME to the recipient's number (to), a template parameter (1, 2 …), your id for the recipient (external_id) or nowhere (skip); repeat it. With any, the columns not named are skipped.")
    var columns: [String] = []
    @Option(help: "CSV: the field separator, ',', ';' or tab (default: the one the header row uses).") var separator: String?
    @Option(help: "CSV: a name for the campaign (the list's --name filter finds it).") var name: String?
    @Option(name: .customLong("label"), help: "CSV: a label for the campaign; repeat it.") var labels: [String] = []
    @Flag(name: .customLong("no-dedupe"), help: "CSV: send a number as often as it appears (by default a repeat is rejected with its line).") var noDedupe = false

    static let chunkBytes = 256 * 1024

    func resolvedFormat() throws -> String {
        if let format {
            guard ["ndjson", "csv", "json"].contains(format) else { throw ValidationError("--format must be ndjson, csv or json, got '\(format)'") }
            return format
        }
        switch URL(fileURLWithPath: file).pathExtension.lowercased() {
        case "ndjson", "jsonl": return "ndjson"
        case "csv": return "csv"
        case "json": return "json"
        default: throw ValidationError("cannot tell the format of '\(file)' from its extension: pass --format ndjson|csv|json")
        }
    }

    func validate() throws {
        let format = try resolvedFormat()
        if format == "csv" && (sender == nil || template == nil) {
            throw ValidationError("a CSV campaign needs --sender and --template")
        }
        if format != "csv" && (sender != nil || template != nil) {
            throw ValidationError("--sender and --template apply to CSV only; NDJSON and JSON name them in the file")
        }
        if format != "csv" && ([scheduleAt, expiresAt, priority, delivery, separator, name].contains(where: { $0 != nil }) || !columns.isEmpty || !labels.isEmpty || noDedupe) {
            throw ValidationError(
                "--schedule-at, --expires-at, --priority, --delivery, --column, --separator, --name, --label and --no-dedupe apply to CSV only; NDJSON and JSON name recipients and options in the file")
        }
        if let bad = labels.first(where: { $0.isEmpty || $0.contains(",") }) {
            throw ValidationError("--label must be 1–64 letters, digits, '.', '_', ':', '/' or '-', got '\(bad)'")
        }
        for column in columns {
            if let problem = Self.columnProblem(column) { throw ValidationError(problem) }
        }
        if let separator, !Self.separators.contains(separator) {
            throw ValidationError("--separator must be ',', ';' or tab, got '\(separator)'")
        }
        guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError("cannot read '\(file)'") }
    }

    static let separators = [",", ";", "tab"]

    /// Why `--column` text is not `NAME=TARGET`; nil when it is (the server checks the
    /// names against the file's header).
    static func columnProblem(_ text: String) -> String? {
        let expected = "--column must be NAME=TARGET, TARGET being to, external_id, skip or a template parameter number (1, 2 …), e.g. --column phone=to"
        guard let equals = text.lastIndex(of: "="), !text[..<equals].trimmingCharacters(in: .whitespaces).isEmpty else {
            return "\(expected); got '\(text)'"
        }
        let target = text[text.index(after: equals)...].trimmingCharacters(in: .whitespaces).lowercased()
        if target == "to" || target == "skip" || target == "external_id" { return nil }
        guard !target.isEmpty, target.allSatisfy(\.isASCII), let n = Int(target), n >= 1 else {
            return "\(expected); got '\(text)'"
        }
        return nil
    }

    /// `name=value&…`, each value percent-encoded whole: a `;` separator or the `=` of a
    /// column mapping must reach the server as written.
    static func query(_ items: [(String, String)]) -> String {
        var unreserved = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        unreserved.insert(charactersIn: "-._~")
        return items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: unreserved) ?? $0.1)" }.joined(separator: "&")
    }

    func run() async throws {
        let api = try client.client()
        let format = try resolvedFormat()
        let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? 0
        guard let handle = FileHandle(forReadingAtPath: file) else { throw ValidationError("cannot open '\(file)'") }
        defer { try? handle.close() }

        var path = "/v1/campaigns"
        if format == "csv", let sender, let template {
            var items = [("sender", sender), ("template", template), ("language", language)]
            for (name, value) in [("schedule_at", scheduleAt), ("expires_at", expiresAt), ("priority", priority), ("delivery", delivery), ("separator", separator)] {
                if let value { items.append((name, value)) }
            }
            items += columns.map { ("column", $0) }
            if let name { items.append(("name", name)) }
            if !labels.isEmpty { items.append(("labels", labels.joined(separator: ","))) }
            if noDedupe { items.append(("dedupe", "false")) }
            path += "?" + Self.query(items)
        }
        var request = HTTPClientRequest(url: api.base + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(api.key)")
        request.headers.add(name: "Content-Type", value: ["ndjson": "application/x-ndjson", "csv": "text/csv", "json": "application/json"][format]!)
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        let progress = UploadProgress(totalBytes: size)
        request.body = .stream(FileChunks(handle: handle, progress: progress), length: .known(Int64(size)))

        let started = Date()
        let response: HTTPClientResponse
        do {
            response = try await APIClient.http.execute(request, timeout: .hours(2))
        } catch {
            throw APICallError(description: "cannot upload to \(api.base): " + APIClient.reason(error))
        }
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        progress.finish()
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
        guard (200..<300).contains(response.status.code) else {
            throw APIClient.failure(.POST, "/v1/campaigns", status: response.status.code, object: object, body: body)
        }
        let rejectedRows = (object["rejected_count"] as? NSNumber)?.intValue ?? 0
        if client.json {
            APIClient.printJSON(object)
            if rejectedRows > 0 { throw ExitCode(Self.rejectedRowsExitCode) }
            return
        }
        let seconds = Date().timeIntervalSince(started)
        let replayed = response.headers.first(name: "Idempotent-Replayed") == "true" ? " (replayed: the first answer to this key)" : ""
        say("campaign \(cell(object["id"])): \(cell(object["accepted"])) accepted, \(cell(object["rejected_count"])) rejected in \(String(format: "%.1f", seconds)) s\(replayed)")
        for rejection in (object["rejected"] as? [[String: Any]] ?? []).prefix(20) {
            let at = rejection["line"].map { "line \(cell($0))" } ?? "recipient \(cell(rejection["index"]))"
            say("  \(at): \(cell(rejection["reason"]))")
        }
        if rejectedRows > 0 { throw ExitCode(Self.rejectedRowsExitCode) }
    }
}

/// Bytes and rows handed to the connection, shown on stderr at most every 0.5 s.
final class UploadProgress: @unchecked Sendable {
    let totalBytes: Int
    private let lock = NSLock()
    private var bytes = 0
    private var rows = 0
    private var lastShown = Date.distantPast

    init(totalBytes: Int) { self.totalBytes = totalBytes }

    func add(_ chunk: Data) {
        let newlines = chunk.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        lock.lock()
        bytes += chunk.count
        rows += newlines
        let show = Date().timeIntervalSince(lastShown) >= 0.5
        if show { lastShown = Date() }
        let (b, r) = (bytes, rows)
        lock.unlock()
        if show { draw(b, r) }
    }

    func finish() {
        lock.lock()
        let (b, r) = (bytes, rows)
        lock.unlock()
        draw(b, r)
        writeOut(STDERR_FILENO, "\n")
    }

    private func draw(_ bytes: Int, _ rows: Int) {
        let fraction = totalBytes > 0 ? Double(bytes) / Double(totalBytes) : 1
        let filled = Int((fraction * 30).rounded())
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
        let line = String(format: "\r[%@] %5.1f %%  %.1f / %.1f MB  %d lines", bar, fraction * 100, Double(bytes) / 1e6, Double(totalBytes) / 1e6, rows)
        writeOut(STDERR_FILENO, line)
    }
}

/// The file as a sequence of chunks, read as the connection asks for them.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let handle: FileHandle
    let progress: UploadProgress

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle
        let progress: UploadProgress
        mutating func next() async throws -> ByteBuffer? {
            guard let data = try handle.read(upToCount: SubmitCommand.chunkBytes), !data.isEmpty else { return nil }
            progress.add(data)
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: handle, progress: progress) }
}
