import ArgumentParser
import Foundation
import Testing

@testable import sluice

/// `sluice submit`'s CSV options as they are checked and sent.
@Suite struct SubmitArgumentsTests {
    @Test func aColumnIsNameEqualsTarget() {
        for good in ["phone=to", "First Name=1", " order = 2 ", "notes=skip", "a=b=TO", "x=100"] {
            #expect(SubmitCommand.columnProblem(good) == nil, "\(good)")
        }
        for bad in ["phone", "=to", "phone=", "phone=too", "phone=0", "phone=-1", "phone=1.5", "phone=١"] {
            let problem = SubmitCommand.columnProblem(bad)
            #expect(problem?.contains("--column must be NAME=TARGET") == true && problem?.contains("'\(bad)'") == true, "\(bad): \(problem ?? "nil")")
        }
    }

    @Test func theCSVOptionsAreRefusedBeforeAnythingIsSent() throws {
        let dir = NSTemporaryDirectory() + "sluice-cli-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = dir + "/campaign.csv", ndjson = dir + "/campaign.ndjson"
        try "to\n966500000001\n".write(toFile: csv, atomically: true, encoding: .utf8)
        try "{}\n".write(toFile: ndjson, atomically: true, encoding: .utf8)
        func refusal(_ arguments: [String]) -> String {
            do {
                _ = try SubmitCommand.parse(arguments)
                return ""
            } catch {
                return SubmitCommand.message(for: error)
            }
        }
        let base = [csv, "--sender", "1", "--template", "t"]
        #expect(refusal(base + ["--column", "phone=to", "--column", "name=1", "--separator", ";"]) == "")
        #expect(refusal(base + ["--separator", "tab"]) == "")
        #expect(refusal(base + ["--column", "phone"]).contains("--column must be NAME=TARGET"))
        #expect(refusal(base + ["--separator", "|"]).contains("--separator must be ',', ';' or tab, got '|'"))
        #expect(refusal([ndjson, "--column", "phone=to"]).contains("apply to CSV only"))
    }

    /// The server must read `;` and the `=` of a mapping as they were written.
    @Test func queryValuesArePercentEncodedWhole() {
        let query = SubmitCommand.query([("separator", ";"), ("column", "first name=1"), ("template", "a&b")])
        #expect(query == "separator=%3B&column=first%20name%3D1&template=a%26b")
    }
}
