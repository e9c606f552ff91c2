import Foundation
import SluiceTestSupport
import Testing

/// The operator commands (`sluice senders|keys|status|suppressions|subscriptions`) against a running `serve`.
@Suite(.serialized) struct ClientCommandsEndToEndTests {
    /// Runs `sluice ARGS`; returns the exit status and stdout + stderr.
    func sluice(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        var env: [String: String?] = ["SLUICE_KEY": nil, "SLUICE_SERVER": nil]
        for (k, v) in environment { env[k] = v }
        return try await runToEnd(try SluiceBinary.path(), arguments, environment: env, mergeErrors: true)
    }

    /// A webhook setting given to the mock without `--webhook-url` is refused, naming the
    /// settings, rather than ignored.
    @Test func theMocksWebhookSettingsNeedAWebhookURL() async throws {
        let refused = try await sluice(["mock", "--listen", "127.0.0.1:0", "--webhook-statuses-per-post", "5", "--webhook-read-share", "0.5"])
        #expect(refused.status == 64 && refused.output.contains("--webhook-read-share, --webhook-statuses-per-post need --webhook-url"), "\(refused.output)")
    }

    /// A server that cannot be reached is one plain sentence, and a non-zero exit.
    @Test func anUnreachableServerIsOnePlainSentence() async throws {
        let port = try freeLoopbackPort()
        let refused = try await sluice(["senders", "list", "--server", "http://127.0.0.1:\(port)", "--key", "k"])
        #expect(refused.status == 1 && refused.output == "Error: cannot reach http://127.0.0.1:\(port): connection refused\n", "\(refused.output)")
    }

    @Test func sendersKeysAndStatusFromTheCommandLine() async throws {
        let e2e = DispatchEndToEndTests()
        let stack = try await e2e.startMock("client-commands")
        let (serve, api) = try await stack.serve()
        let admin = ["SLUICE_SERVER": api, "SLUICE_KEY": DispatchEndToEndTests.adminKey]

        let set = try await sluice(["senders", "set", "1065000601", "--tier", "80", "--token", "token-1065000601"], environment: admin)
        #expect(set.status == 0, "\(set.output)")
        let list = try await sluice(["senders", "list"], environment: admin)
        #expect(list.status == 0)
        let row = try #require(list.output.split(separator: "\n").first { $0.hasPrefix("1065000601") })
        #expect(row.contains("80") && row.contains("no"), "\(list.output)")

        // A read-only key can list but not pause.
        let created = try await sluice(["keys", "create", "--name", "dashboard", "--scope", "read", "--json"], environment: admin)
        #expect(created.status == 0, "\(created.output)")
        let key = try #require((try jsonObject(created.output))["key"] as? String)
        let id = try #require((try jsonObject(created.output))["id"] as? String)
        let reader = ["SLUICE_SERVER": api, "SLUICE_KEY": key]
        await #expect(try sluice(["senders", "list"], environment: reader).status == 0)
        let refused = try await sluice(["senders", "pause", "1065000601"], environment: reader)
        #expect(refused.status != 0 && refused.output.contains("403"), "\(refused.output)")

        let paused = try await sluice(["senders", "pause", "1065000601", "--reason", "quality rating low"], environment: admin)
        #expect(paused.status == 0 && paused.output.contains("quality rating low"), "\(paused.output)")
        let json = try await jsonObject(try sluice(["senders", "list", "--json"], environment: admin).output)
        let sender = try #require((json["senders"] as? [[String: Any]])?.first)
        #expect(sender["paused"] as? Bool == true)
        await #expect(try sluice(["senders", "resume", "1065000601"], environment: admin).status == 0)

        // The messaging limit and group, then deleting an idle sender.
        let limited = try await sluice(
            ["senders", "set", "1065000602", "--tier", "20", "--token", "t", "--messaging-limit", "2000", "--group", "acme"], environment: admin)
        #expect(limited.status == 0, "\(limited.output)")
        let limitedList = try await sluice(["senders", "list"], environment: admin)
        #expect(limitedList.output.contains("/2000 (acme)"), "\(limitedList.output)")
        let badLimit = try await sluice(["senders", "set", "1065000602", "--tier", "20", "--token", "t", "--messaging-limit", "300"], environment: admin)
        #expect(badLimit.status != 0 && badLimit.output.contains("messaging_limit"), "\(badLimit.output)")
        let deleted = try await sluice(["senders", "delete", "1065000602"], environment: admin)
        #expect(deleted.status == 0 && deleted.output.contains("deleted sender 1065000602"), "\(deleted.output)")
        let gone = try await sluice(["senders", "delete", "1065000602"], environment: admin)
        #expect(gone.status != 0 && gone.output.contains("not_found"), "\(gone.output)")

        let keys = try await sluice(["keys", "list"], environment: admin)
        #expect(keys.output.contains(id) && keys.output.contains("dashboard"))
        await #expect(try sluice(["keys", "revoke", id], environment: admin).status == 0)
        let revoked = try await sluice(["senders", "list"], environment: reader)
        #expect(revoked.status != 0 && revoked.output.contains("401"), "\(revoked.output)")

        // A campaign followed to the end.
        let campaign = try await e2e.postCampaign(api, sender: "1065000601", count: 40, firstRecipient: 966_560_000_000)
        let followed = try await sluice(["status", campaign.id, "--follow", "--max-seconds", "60"], environment: admin)
        #expect(followed.status == 0)
        #expect(followed.output.contains("campaign \(campaign.id) done [marketing]: 40 messages"), "\(followed.output)")
        #expect(!followed.output.contains("\u{1B}"), "on a pipe --follow prints plain lines, no cursor moves: \(followed.output)")
        let missing = try await sluice(["status", "999999"], environment: admin)
        #expect(missing.status != 0 && missing.output.contains("not_found"), "\(missing.output)")
        let noKey = try await sluice(["senders", "list", "--server", api])
        #expect(noKey.status == 64 && noKey.output.contains("SLUICE_KEY"), "\(noKey.output)")
        #expect(noKey.output.contains("Usage: sluice senders list"), "a mistake found while running shows its command's usage: \(noKey.output)")

        // Files streamed with `sluice submit`, then listed.
        let ndjson = stack.root + "/campaign.ndjson"
        var lines = [#"{"sender": "1065000601", "message": {"type": "text", "text": {"body": "Hello {{1}}"}}}"#]
        for n in 0..<30 { lines.append(#"{"to": "\#(966_570_000_000 + n)", "params": ["n\#(n)"]}"#) }
        lines.append(#"{"to": "12ab", "params": ["bad"]}"#)
        try (lines.joined(separator: "\n") + "\n").write(toFile: ndjson, atomically: true, encoding: .utf8)
        let submitted = try await sluice(["submit", ndjson, "--idempotency-key", "e2e-ndjson-1"], environment: admin)
        #expect(submitted.status == 3, "accepted with a rejected row: exit 3 (\(submitted.status)): \(submitted.output)")
        #expect(submitted.output.contains("30 accepted, 1 rejected"), "\(submitted.output)")
        #expect(submitted.output.contains("line 32:"), "the bad row is named by its line: \(submitted.output)")
        let again = try await sluice(["submit", ndjson, "--idempotency-key", "e2e-ndjson-1"], environment: admin)
        #expect(again.output.contains("replayed"), "\(again.output)")

        let csv = stack.root + "/campaign.csv"
        try "to,name\n966570001000,Amal\n966570001001,\"Badr, Jr.\"\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let csvSubmitted = try await sluice(["submit", csv, "--sender", "1065000601", "--template", "order_shipped", "--json"], environment: admin)
        #expect(csvSubmitted.status == 0, "\(csvSubmitted.output)")
        let csvID = try #require(try jsonObject(String(csvSubmitted.output.drop { $0 != "{" }))["id"] as? String)
        await #expect(try sluice(["submit", csv], environment: admin).output.contains("--sender and --template"))
        // A spreadsheet's export: `;`, its own column names, a column that is not sent.
        let export = stack.root + "/export.csv"
        try "Order;Phone;Notes;First name\nA-17;966570002000;call first;Amal\nB-2;966570002001;;\"Badr; Jr.\"\n".write(toFile: export, atomically: true, encoding: .utf8)
        let mapped = try await sluice(
            ["submit", export, "--sender", "1065000601", "--template", "order_shipped", "--separator", ";",
             "--column", "phone=to", "--column", "first name=1", "--column", "order=2"], environment: admin)
        #expect(mapped.status == 0 && mapped.output.contains("2 accepted, 0 rejected"), "\(mapped.output)")
        let misnamed = try await sluice(["submit", export, "--sender", "1065000601", "--template", "t", "--column", "phone=to", "--column", "frist name=1"], environment: admin)
        #expect(misnamed.status == 1 && misnamed.output.contains("did you mean first name?"), "\(misnamed.output)")

        let campaigns = try await sluice(["campaigns", "list"], environment: admin)
        #expect(campaigns.status == 0)
        let listed = campaigns.output.split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(listed.count == 4 && listed.contains(campaign.id) && listed.contains(csvID), "\(campaigns.output)")

        #expect(await serve.stop() == 0)
        await stack.mock.stop()
        try? FileManager.default.removeItem(atPath: stack.root)
    }

    /// A campaign's fate from the command line: the mock fails a seeded share of sends with
    /// the permanent 131026; `campaigns messages` lists them, `export` streams the CSV,
    /// `retry` sends exactly those again, and `list --label` finds the campaign.
    @Test func fatesExportAndRetryFromTheCommandLine() async throws {
        let e2e = DispatchEndToEndTests()
        let root = try temporaryDirectory("client-fates")
        let faults = root + "/faults.toml"
        try "seed = 3\n[[errors]]\ncode = 131026\nshare = 0.3\n".write(toFile: faults, atomically: true, encoding: .utf8)
        let stack = try await e2e.startMock("client-fates", extra: ["--faults", faults])
        let (serve, api) = try await stack.serve()
        let admin = ["SLUICE_SERVER": api, "SLUICE_KEY": DispatchEndToEndTests.adminKey]
        #expect(try await sluice(["senders", "set", "1065000611", "--tier", "200", "--token", "token-1065000611"], environment: admin).status == 0)

        let csv = stack.root + "/fates.csv"
        let rows = (0..<40).map { "\(966_580_000_000 + $0);crm-\($0);n\($0)" } + ["966580000000;crm-dup;again"]
        try (["phone;ref;name"] + rows).joined(separator: "\n").appending("\n").write(toFile: csv, atomically: true, encoding: .utf8)
        let submitted = try await sluice(
            ["submit", csv, "--sender", "1065000611", "--template", "t", "--column", "phone=to", "--column", "ref=external_id", "--column", "name=1",
             "--name", "Fates", "--label", "e2e", "--json"], environment: admin)
        #expect(submitted.status == 3, "the repeated number is rejected: \(submitted.output)")
        let id = try #require(try jsonObject(String(submitted.output.drop { $0 != "{" }))["id"] as? String)
        let followed = try await sluice(["status", id, "--follow", "--max-seconds", "60"], environment: admin)
        #expect(followed.status == 0, "\(followed.output)")

        let failed = try await jsonObject(try sluice(["campaigns", "messages", id, "--state", "failed", "--json"], environment: admin).output)
        let failures = try #require(failed["messages"] as? [[String: Any]])
        #expect(!failures.isEmpty && failures.count < 40, "a seeded share fails: \(failures.count)")
        #expect(failures.allSatisfy { ($0["error"] as? [String: Any])?["code"] as? Int == 131026 && ($0["external_id"] as? String)?.hasPrefix("crm-") == true })
        let table = try await sluice(["campaigns", "messages", id, "--code", "131026"], environment: admin)
        #expect(table.output.split(separator: "\n").count == failures.count + 1, "a header and a row per failure: \(table.output)")

        let exported = try await sluice(["campaigns", "export", id], environment: admin)
        let lines = exported.output.split(separator: "\r\n")
        #expect(exported.status == 0 && lines.count == 41 && lines[0].hasPrefix("id,to,external_id,state"), "\(exported.output.prefix(300))")

        let labelled = try await sluice(["campaigns", "list", "--label", "e2e"], environment: admin)
        #expect(labelled.output.contains("Fates") && labelled.output.split(separator: "\n").count == 2, "\(labelled.output)")

        let retried = try await sluice(["campaigns", "retry", id, "--states", "failed", "--idempotency-key", "r1", "--json"], environment: admin)
        let retriedAnswer = try jsonObject(retried.output)
        #expect(retried.status == 0 && retriedAnswer["accepted"] as? Int == failures.count, "\(retried.output)")
        let nothing = try await sluice(["campaigns", "retry", id, "--states", "expired"], environment: admin)
        #expect(nothing.status == 1 && nothing.output.contains("no_valid_recipients") && !nothing.output.contains("Usage"), "\(nothing.output)")
        let badCodes = try await sluice(["campaigns", "retry", id, "--codes", "x"], environment: admin)
        #expect(badCodes.status == 64 && badCodes.output.contains("Usage: sluice campaigns retry"), "\(badCodes.output)")

        #expect(await serve.stop() == 0)
        await stack.mock.stop()
        try? FileManager.default.removeItem(atPath: stack.root)
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test func subscriptionsFromTheCommandLine() async throws {
        let e2e = DispatchEndToEndTests()
        let stack = try await e2e.startMock("client-subscriptions")
        let (serve, api) = try await stack.serve()
        let admin = ["SLUICE_SERVER": api, "SLUICE_KEY": DispatchEndToEndTests.adminKey]

        let created = try await sluice(
            ["subscriptions", "create", "http://127.0.0.1:9/hooks/sluice", "--events", "status,message", "--states", "delivered,failed",
             "--batch", "5", "--secret", "0123456789abcdef0123"], environment: admin)
        #expect(created.status == 0 && created.output.contains("secret: 0123456789abcdef0123"), "\(created.output)")
        let id = try #require(created.output.split(separator: " ").dropFirst().first.map { String($0.dropLast()) })
        #expect(id.hasPrefix("sub_"), "\(created.output)")
        let json = try await sluice(["subscriptions", "create", "http://127.0.0.1:9/other", "--json"], environment: admin)
        let second = try jsonObject(json.output)
        let secondID = try #require(second["id"] as? String)
        #expect(json.status == 0 && (second["secret"] as? String)?.hasPrefix("whsec_") == true && second["events"] as? [String] == ["status"], "\(json.output)")

        let list = try await sluice(["subscriptions", "list"], environment: admin)
        let row = try #require(list.output.split(separator: "\n").first { $0.hasPrefix(id + " ") }, "\(list.output)")
        #expect(list.output.hasPrefix("ID") && row.contains("status,message") && row.contains("delivered") && row.contains("failed") && row.contains("http://127.0.0.1:9/hooks/sluice"), "\(list.output)")
        #expect(!list.output.contains("0123456789abcdef0123"), "the secret is never listed")
        let listed = try jsonObject(try await sluice(["subscriptions", "list", "--json"], environment: admin).output)
        #expect((listed["subscriptions"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id, secondID], "\(listed)")
        let shown = try await sluice(["subscriptions", "show", id], environment: admin)
        #expect(shown.status == 0 && shown.output.contains("batch     5") && shown.output.contains("pending   0"), "\(shown.output)")

        let deleted = try await sluice(["subscriptions", "delete", id], environment: admin)
        #expect(deleted.status == 0 && deleted.output.contains("deleted \(id)"), "\(deleted.output)")
        let after = try await sluice(["subscriptions", "list"], environment: admin)
        #expect(!after.output.contains(id + " ") && after.output.contains(secondID), "\(after.output)")
        // The server's refusals are one sentence with its words, and no usage: the arguments were fine.
        let gone = try await sluice(["subscriptions", "delete", id], environment: admin)
        #expect(gone.status == 1 && gone.output.contains("404 not_found") && gone.output.contains("does not exist"), "\(gone.output)")
        #expect(!gone.output.contains("Usage:"), "\(gone.output)")
        let badURL = try await sluice(["subscriptions", "create", "ftp://127.0.0.1/x"], environment: admin)
        #expect(badURL.status == 1 && badURL.output.contains("400 invalid_field") && badURL.output.contains("http or https"), "\(badURL.output)")
        #expect(!badURL.output.contains("Usage:"), "\(badURL.output)")

        // Argument mistakes show the usage of the command that was run, exit 64.
        let event = try await sluice(["subscriptions", "create", "http://127.0.0.1:9/x", "--events", "statuses"], environment: admin)
        #expect(event.status == 64 && event.output.contains("'statuses' is not an event"), "\(event.output)")
        #expect(event.output.contains("Usage: sluice subscriptions create "), "\(event.output)")
        let limit = try await sluice(["senders", "set", "1065000801", "--tier", "80", "--token", "t", "--messaging-limit", "lots"], environment: admin)
        #expect(limit.status == 64 && limit.output.contains("--messaging-limit must be"), "\(limit.output)")
        #expect(limit.output.contains("Usage: sluice senders set ") && !limit.output.contains("sluice <subcommand>"), "\(limit.output)")
        let nothing = try await sluice(["senders", "set", "1065000801"], environment: admin)
        #expect(nothing.status == 64 && nothing.output.contains("nothing to set") && nothing.output.contains("Usage: sluice senders set"), "\(nothing.output)")
        let notAnID = try await sluice(["subscriptions", "show", "sub/1"], environment: admin)
        #expect(notAnID.status == 64 && notAnID.output.contains("Usage: sluice subscriptions show "), "\(notAnID.output)")

        #expect(await serve.stop() == 0)
        await stack.mock.stop()
        try? FileManager.default.removeItem(atPath: stack.root)
    }

    @Test func suppressionsAndTheCustomerWindowFromTheCommandLine() async throws {
        let e2e = DispatchEndToEndTests()
        let stack = try await e2e.startMock("client-suppressions")
        let (serve, api) = try await stack.serve()
        let admin = ["SLUICE_SERVER": api, "SLUICE_KEY": DispatchEndToEndTests.adminKey]
        let phone = "1065000701"
        func customerWindow() async throws -> String? {
            try jsonObject(try await http("GET", "\(api)/v1/senders/\(phone)", key: DispatchEndToEndTests.adminKey).body)["customer_window"] as? String
        }

        // The customer window: set, kept by a PUT without it, changed, and refused when misspelt.
        let enforce = try await sluice(["senders", "set", phone, "--tier", "80", "--token", "t", "--customer-window", "enforce"], environment: admin)
        #expect(enforce.status == 0 && enforce.output.contains("customer window enforce"), "\(enforce.output)")
        #expect(try await customerWindow() == "enforce")
        await #expect(try sluice(["senders", "set", phone, "--tier", "80", "--token", "t"], environment: admin).status == 0)
        #expect(try await customerWindow() == "enforce", "a set without --customer-window keeps it")
        await #expect(try sluice(["senders", "set", phone, "--tier", "80", "--token", "t", "--customer-window", "off"], environment: admin).status == 0)
        #expect(try await customerWindow() == "off")
        let misspelt = try await sluice(["senders", "set", phone, "--tier", "80", "--token", "t", "--customer-window", "sometimes"], environment: admin)
        #expect(misspelt.status != 0 && misspelt.output.contains("enforce"), "\(misspelt.output)")
        // Without a token only what is given changes (PATCH), on a registered sender.
        let tierOnly = try await sluice(["senders", "set", phone, "--tier", "250"], environment: admin)
        #expect(tierOnly.status == 0 && tierOnly.output.contains("tier 250"), "\(tierOnly.output)")
        #expect(try await customerWindow() == "off", "the rest stays")
        let unregistered = try await sluice(["senders", "set", "1065000799", "--tier", "80"], environment: admin)
        #expect(unregistered.status != 0 && unregistered.output.contains("not registered: give --tier and --token"), "\(unregistered.output)")

        // Adding: 201 then 200, with or without '+'.
        let added = try await sluice(["suppressions", "add", phone, "966500000001"], environment: admin)
        #expect(added.status == 0 && added.output.contains("suppressed 966500000001 for sender \(phone)"), "\(added.output)")
        let again = try await sluice(["suppressions", "add", phone, "+966500000001"], environment: admin)
        #expect(again.status == 0 && again.output.contains("already suppressed"), "\(again.output)")
        for n in 2...5 { await #expect(try sluice(["suppressions", "add", phone, "96650000000\(n)"], environment: admin).status == 0) }

        // One page, then every page.
        let page = try await sluice(["suppressions", "list", phone, "--limit", "2"], environment: admin)
        let pageRows = page.output.split(separator: "\n").filter { $0.hasPrefix("9665") }
        #expect(page.status == 0 && pageRows.count == 2 && page.output.contains("more: --all"), "\(page.output)")
        #expect(page.output.hasPrefix("WA_ID") && pageRows.allSatisfy { $0.contains(" api ") }, "\(page.output)")
        let all = try await sluice(["suppressions", "list", phone, "--limit", "2", "--all"], environment: admin)
        let allRows = all.output.split(separator: "\n").filter { $0.hasPrefix("9665") }.map { String($0.prefix(12)) }
        #expect(all.status == 0 && Set(allRows) == Set((1...5).map { "96650000000\($0)" }) && allRows.count == 5, "\(all.output)")
        #expect(!all.output.contains("more:"), "\(all.output)")
        let json = try jsonObject(try await sluice(["suppressions", "list", phone, "--all", "--json"], environment: admin).output)
        let listed = try #require(json["suppressions"] as? [[String: Any]])
        #expect(listed.count == 5 && listed.allSatisfy { $0["source"] as? String == "api" && $0["since"] is String } && json["next_cursor"] is NSNull)

        // Removing: once, then 404; unknown senders and bad numbers are refused with the server's words.
        let removed = try await sluice(["suppressions", "remove", phone, "966500000001"], environment: admin)
        #expect(removed.status == 0 && removed.output.contains("removed 966500000001"), "\(removed.output)")
        let notOnIt = try await sluice(["suppressions", "remove", phone, "966500000001"], environment: admin)
        #expect(notOnIt.status != 0 && notOnIt.output.contains("404 not_found") && notOnIt.output.contains("not on the suppression list"), "\(notOnIt.output)")
        let unknown = try await sluice(["suppressions", "list", "1065009999"], environment: admin)
        #expect(unknown.status != 0 && unknown.output.contains("not registered"), "\(unknown.output)")
        let short = try await sluice(["suppressions", "add", phone, "12"], environment: admin)
        #expect(short.status != 0 && short.output.contains("400") && short.output.contains("wa_id"), "\(short.output)")
        let letters = try await sluice(["suppressions", "add", phone, "12ab"], environment: admin)
        #expect(letters.status != 0 && letters.output.contains("not a contact's number"), "\(letters.output)")
        // A reader that has gone (`| head -1`): the command ends by SIGPIPE as Unix tools do
        // (status 141 in the shell), without a trap or a backtrace.
        let piped = try await runToEnd(
            "/bin/bash", ["-c", "\"$0\" suppressions list \(phone) --limit 2 | true; echo \"status ${PIPESTATUS[0]}\"", try SluiceBinary.path()],
            environment: ["SLUICE_SERVER": api, "SLUICE_KEY": DispatchEndToEndTests.adminKey], mergeErrors: true)
        #expect(piped.output.hasSuffix("status 141\n") && !piped.output.contains("Fatal") && !piped.output.contains("Backtrac"), "\(piped.output)")
        let left = try await sluice(["suppressions", "list", phone], environment: admin)
        #expect(left.output.split(separator: "\n").filter { $0.hasPrefix("9665") }.count == 4, "\(left.output)")

        // A file for campaigns: its type from its name, or refused when the name does not tell.
        let png = stack.root + "/offer.png"
        let bytes = [UInt8]([0x89, 0x50, 0x4e, 0x47]) + (0..<2_000).map { UInt8(truncatingIfNeeded: $0) }
        #expect(FileManager.default.createFile(atPath: png, contents: Data(bytes)))
        let uploaded = try await sluice(["media", "upload", png], environment: admin)
        let id = uploaded.output.split(separator: " ").first.map(String.init) ?? ""
        #expect(uploaded.status == 0 && id.hasPrefix("up_") && uploaded.output.contains("image/png  2004 bytes"), "\(uploaded.output)")
        let (_, sum) = try await runToEnd("/usr/bin/sha256sum", [png], input: nil)
        let sha = String(sum.prefix(64))
        #expect(sha.count == 64 && uploaded.output.contains("sha256 \(sha)"), "the server hashed the bytes sent: \(uploaded.output) vs \(sum)")
        let served = try await http("GET", "\(api)/v1/media/\(id)", key: DispatchEndToEndTests.adminKey)
        #expect(served.status == 200)
        let nameless = stack.root + "/offer"
        #expect(FileManager.default.createFile(atPath: nameless, contents: Data(bytes)))
        let unknownType = try await sluice(["media", "upload", nameless], environment: admin)
        #expect(unknownType.status != 0 && unknownType.output.contains("--type"), "\(unknownType.output)")

        #expect(await serve.stop() == 0)
        await stack.mock.stop()
        try? FileManager.default.removeItem(atPath: stack.root)
    }
}
