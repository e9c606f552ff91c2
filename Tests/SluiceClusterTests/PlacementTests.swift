import Testing

@testable import SluiceCluster

@Suite struct PlacementTests {
    static func numbers(_ count: Int, nodes: [String], tier: (Int) -> Double = { _ in 80 }) -> [Placement.Number] {
        (0..<count).map { Placement.Number(phoneNumberID: String(1_065_000_000 + $0), tierMessagesPerSecond: tier($0), candidates: nodes) }
    }

    static func load(_ assignment: [String: String], _ numbers: [Placement.Number]) -> [String: Double] {
        var load: [String: Double] = [:]
        for n in numbers { load[assignment[n.phoneNumberID]!, default: 0] += n.tierMessagesPerSecond }
        return load
    }

    @Test("every node computes the same answer, whatever order it lists numbers and candidates in")
    func theAnswerDoesNotDependOnOrder() {
        let numbers = Self.numbers(60, nodes: ["a", "b", "c"]) { [80, 250, 1000][$0 % 3] }
        let shuffled = numbers.shuffled().map { n in
            var n = n
            n.candidates.shuffle()
            return n
        }
        #expect(Placement.assign(numbers) == Placement.assign(shuffled))
    }

    @Test("nodes carry about the same rate: within the largest tier of the fair share")
    func tiersAreSpread() {
        let numbers = Self.numbers(40, nodes: ["a", "b", "c"]) { [80, 250, 1000, 80][$0 % 4] }
        let load = Self.load(Placement.assign(numbers), numbers)
        let fair = numbers.reduce(0) { $0 + $1.tierMessagesPerSecond } / 3
        #expect(load.count == 3)
        for (node, rate) in load { #expect(rate <= fair + 1000, "\(node) carries \(rate) msg/s, fair \(fair)") }
    }

    @Test("a node joining takes numbers from the others, and few others move")
    func aJoiningNodeMovesLittle() {
        let before = Placement.assign(Self.numbers(300, nodes: ["a", "b", "c"]))
        let after = Placement.assign(Self.numbers(300, nodes: ["a", "b", "c", "d"]))
        let moved = before.filter { after[$0.key] != $0.value }
        let toD = moved.filter { after[$0.key] == "d" }
        #expect(toD.count >= 60, "d takes about a quarter: \(toD.count)")
        #expect(moved.count - toD.count <= 30, "\(moved.count - toD.count) numbers moved between the old nodes")
    }

    @Test("a number goes only to a node that has it registered")
    func onlyCandidatesAreChosen() {
        var numbers = Self.numbers(20, nodes: ["a", "b"])
        numbers.append(Placement.Number(phoneNumberID: "999", tierMessagesPerSecond: 1000, candidates: ["c"]))
        let assignment = Placement.assign(numbers)
        #expect(assignment["999"] == "c")
        #expect(numbers.dropLast().allSatisfy { ["a", "b"].contains(assignment[$0.phoneNumberID]!) })
    }
}
