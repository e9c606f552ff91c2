import Foundation
import SluiceCore
import SluiceEngine
@testable import SluiceServer
import Testing

/// CSV campaigns whose files are not `to,{{1}},{{2}}`: another separator, columns mapped
/// by name (`?column=phone=to&column=first_name=1`), and each way the query can be wrong.
@Suite(.serialized) struct CSVMappingTests {
    let intake = CampaignIntakeTests()
    static let query = "/v1/campaigns?sender=555&template=order_update&language=en"

    // MARK: Lines and separators

    @Test func aLineSplitsAtItsSeparatorOutsideQuotes() {
        func fields(_ line: String, _ separator: CSVSeparator) -> [String]? { try? CSVLine.fields(Array(line.utf8), separator: separator).get() }
        #expect(fields("a;b,c;", .semicolon) == ["a", "b,c", ""])
        #expect(fields(#""Smith; Bob";"say ""hi""";x"#, .semicolon) == ["Smith; Bob", #"say "hi""#, "x"])
        #expect(fields("a\tb c\t\"d\te\"", .tab) == ["a", "b c", "d\te"])
        #expect(fields("a;b", .comma) == ["a;b"])
        #expect(fields(#""a";b"#, .comma) == nil, "text after the closing quote, at the comma's place")
    }

    @Test func theHeaderRowsSeparatorIsTheOneThatSplitsItMost() {
        func detected(_ header: String) -> CSVSeparator { CSVSeparator.detected(in: Array(header.utf8)) }
        #expect(detected("to;name;order") == .semicolon)
        #expect(detected("to,name") == .comma)
        #expect(detected("to\tname\torder") == .tab)
        #expect(detected(#"to;"name, first, last""#) == .semicolon, "separators inside quotes do not count")
        #expect(detected(#"to,"a;b;c""#) == .comma)
        #expect(detected("phone") == .comma, "one column")
        #expect(detected("to,name;order") == .comma, "a tie goes to the comma")
    }

    @Test func theSeparatorIsNamedInTheQueryAsCommaSemicolonOrTab() {
        #expect(CSVSeparator(query: ",") == .comma && CSVSeparator(query: ";") == .semicolon && CSVSeparator(query: "tab") == .tab)
        #expect(CSVSeparator(query: "\t") == .tab)
        #expect(CSVSeparator(query: "|") == nil && CSVSeparator(query: "") == nil && CSVSeparator(query: "semicolon") == nil)
    }

    // MARK: Through the endpoint

    @Test func aSemicolonFileIsReadWithQuotedFieldsHoldingTheSeparator() async throws {
        try await intake.withAPI { client, dispatcher in
            let body = "to;name;city\n966500000001;\"Smith; Bob\";Riyadh, KSA\n966500000002;Ann;\"Jeddah\"\n966500000003;Cy\n"
            let r = try await intake.post(client, Self.query, contentType: "text/csv", body: body)
            #expect(r.status == 202, "\(r.body)")
            #expect(r.int("accepted") == 2)
            #expect(intake.rejections(r).map(\.0) == [4], "a row with two fields of three")
            let first = try #require(try dispatcher.message(MessageID(1)))
            #expect(first.to == "966500000001" && first.params == ["Smith; Bob", "Riyadh, KSA"], "\(first.params)")
            #expect(try dispatcher.message(MessageID(2))?.params == ["Ann", "Jeddah"])
        }
    }

    @Test func theQuerysSeparatorWinsOverDetection() async throws {
        try await intake.withAPI { client, dispatcher in
            // One comma and one semicolon: detection takes the comma, and finds no `to`.
            let body = "to;note, kept\n966500000001;a, b\n"
            let detected = try await intake.post(client, Self.query, contentType: "text/csv", body: body)
            #expect(detected.status == 400 && detected.errorField == "header", "\(detected.body)")
            let r = try await intake.post(client, Self.query + "&separator=;", contentType: "text/csv", body: body)
            #expect(r.status == 202, "\(r.body)")
            #expect(try dispatcher.message(MessageID(1))?.params == ["a, b"])
            let tab = try await intake.post(client, Self.query + "&separator=tab", contentType: "text/csv", body: "to\tname\n966500000002\tDi, Jr.\n")
            #expect(tab.status == 202, "\(tab.body)")
            #expect(try dispatcher.message(MessageID(2))?.params == ["Di, Jr."])
        }
    }

    @Test func mappedColumnsFillTheParametersTheyNameAndTheRestAreSkipped() async throws {
        try await intake.withAPI { client, dispatcher in
            let body = "Order, PHONE ,notes,First_Name,to\nA-17,966500000001,call first,Amal,999\nB-2,966500000002,,Badr,999\n"
            let mapping = "&column=phone=to&column=FIRST_NAME=1&column=order=2"
            let r = try await intake.post(client, Self.query + mapping, contentType: "text/csv", body: body)
            #expect(r.status == 202, "\(r.body)")
            #expect(r.int("accepted") == 2 && r.int("rejected_count") == 0, "\(r.body)")
            let first = try #require(try dispatcher.message(MessageID(1)))
            #expect(first.to == "966500000001" && first.params == ["Amal", "A-17"], "\(first.to) \(first.params)")
            let second = try #require(try dispatcher.message(MessageID(2)))
            #expect(second.to == "966500000002" && second.params == ["Badr", "B-2"], "notes and the unmapped 'to' column are skipped")
            // The template the query makes has the parameters the mapping numbers, whatever the header holds.
            let mappings = try CSVColumnMapping.parse(["phone=to", "FIRST_NAME=1", "order=2"])
            let columns = try CSVColumns(header: Array(body.prefix { $0 != "\n" }.utf8), number: 1, separator: nil, mappings: mappings)
            #expect(columns.parameterCount == 2 && columns.targets == [.parameter(2), .to, .skip, .parameter(1), .skip])
        }
    }

    @Test func aMappingCanSkipAColumnByName() async throws {
        try await intake.withAPI { client, dispatcher in
            let r = try await intake.post(
                client, Self.query + "&column=to=to&column=name=1&column=internal%20id=skip", contentType: "text/csv",
                body: "internal id,name,to\n7,Amal,966500000001\n")
            #expect(r.status == 202, "\(r.body)")
            #expect(try dispatcher.message(MessageID(1))?.params == ["Amal"])
        }
    }

    @Test func anExternalIDColumnIsTheRecipientsOwnIDNotAParameter() async throws {
        try await intake.withAPI { client, dispatcher in
            let named = try await intake.post(client, Self.query, contentType: "text/csv", body: "to,external_id,name\n966500000001,crm-1,Amal\n966500000002,,Badr\n")
            #expect(named.status == 202 && named.int("accepted") == 2, "\(named.body)")
            let first = try #require(try dispatcher.message(MessageID(1)))
            #expect(first.externalID == "crm-1" && first.params == ["Amal"])
            #expect(try dispatcher.message(MessageID(2))?.externalID == nil, "an empty cell is no id")
            let mapped = try await intake.post(
                client, Self.query + "&column=phone=to&column=ref=external_id&column=name=1", contentType: "text/csv", body: "ref;phone;name\nA-9;966500000003;Cy\n")
            #expect(mapped.status == 202, "\(mapped.body)")
            let third = try #require(try dispatcher.message(MessageID(3)))
            #expect(third.externalID == "A-9" && third.to == "966500000003" && third.params == ["Cy"])
            let twice = try await intake.post(client, Self.query + "&column=phone=to&column=a=external_id&column=b=external_id", contentType: "text/csv", body: "phone,a,b\n")
            #expect(twice.status == 400 && twice.errorField == "column", "\(twice.body)")
        }
    }

    @Test func eachWrongMappingOrSeparatorIsA400NamingItAndJournalsNothing() async throws {
        try await intake.withAPI { client, dispatcher in
            let body = "phone,first_name,order\n966500000001,Amal,A-17\n"
            let cases: [(query: String, field: String, saying: String)] = [
                ("&separator=%7C", "separator", "separator must be ',', ';' or 'tab'"),
                ("&column=phone", "column", "must be NAME=TARGET"),
                ("&column==to", "column", "names no column"),
                ("&column=phone=to&column=order=first", "column", "'first' is not a target"),
                ("&column=phone=to&column=order=101", "column", "is not a target"),
                ("&column=first_name=1", "column", "exactly one column must be mapped to 'to'"),
                ("&column=phone=to&column=order=to", "column", "exactly one column must be mapped to 'to'"),
                ("&column=phone=to&column=order=2", "column", "2 is mapped but 1 is not"),
                ("&column=phone=to&column=order=1&column=first_name=1", "column", "parameter 1 is mapped twice"),
                ("&column=phone=to&column=PHONE=1", "column", "column 'phone' is mapped twice"),
                ("&column=phone=to&column=frist_name=1", "column", "column 'frist_name' is not in the header row (line 1) (did you mean first_name?)"),
                ("&column=phone=to&column=nickname=1", "column", "found: phone, first_name, order"),
            ]
            for (query, field, saying) in cases {
                let r = try await intake.post(client, Self.query + query, contentType: "text/csv", body: body)
                #expect(r.status == 400, "\(query) → \(r.body)")
                #expect(r.errorField == field, "\(query) → \(r.body)")
                #expect(r.errorMessage.contains(saying), "\(query) → \(r.errorMessage)")
            }
            let twice = try await intake.post(client, Self.query + "&column=phone=to", contentType: "text/csv", body: "phone,Phone\n1,2\n")
            #expect(twice.status == 400 && twice.errorField == "column" && twice.errorMessage.contains("appears 2 times"), "\(twice.body)")
            let noTo = try await intake.post(client, Self.query, contentType: "text/csv", body: body)
            #expect(noTo.errorField == "header" && noTo.errorMessage.contains("?column=NAME=to"), "without a mapping the hint names it: \(noTo.body)")
            #expect(try dispatcher.campaignProgress(CampaignID(1)) == nil, "nothing was journaled")
        }
    }

    /// The mapping and the separator are part of the request an `Idempotency-Key` stands for.
    @Test func anotherMappingUnderTheSameKeyIsAConflict() async throws {
        try await intake.withAPI { client, _ in
            let body = "phone;a;b\n966500000001;x;y\n"
            let uri = Self.query + "&column=phone=to&column=a=1"
            let first = try await intake.post(client, uri, contentType: "text/csv", body: body, idempotencyKey: "map-1")
            #expect(first.status == 202, "\(first.body)")
            let again = try await intake.post(client, uri, contentType: "text/csv", body: body, idempotencyKey: "map-1")
            #expect(again.status == 202 && again.headers[CampaignIntakeRoute.replayedHeader] == "true")
            let remapped = try await intake.post(client, Self.query + "&column=phone=to&column=b=1", contentType: "text/csv", body: body, idempotencyKey: "map-1")
            #expect(remapped.status == 422, "\(remapped.body)")
            let separated = try await intake.post(client, uri + "&separator=;", contentType: "text/csv", body: body, idempotencyKey: "map-1")
            #expect(separated.status == 422, "a separator given is another request than one detected: \(separated.body)")
        }
    }
}
