import Foundation
@testable import SluiceLoadTest

/// Nanoseconds per second.
let second: Int64 = 1_000_000_000
/// An arbitrary wall-clock origin for synthetic runs.
let origin: Int64 = 1_800_000_000 * second

func sender(tier: Int, seconds: Int = 2, index: Int64 = 0) -> SenderPlan {
    SenderPlan(phoneNumberID: "10659000\(index)", tier: tier, messageCount: tier * seconds, firstRecipient: 966_500_000_000 + index * 10_000_000)
}

/// Message `n` of `plan` arriving at `time`, with Sluice-style callback data.
func arrival(_ plan: SenderPlan, _ n: Int, at time: Int64) -> EndpointArrival {
    EndpointArrival(timeNanoseconds: time, phoneNumberID: plan.phoneNumberID, to: String(plan.firstRecipient + Int64(n)), callback: "m\(n)")
}

/// Every message of `plan` spaced `1 / rate` apart from `start`.
func paced(_ plan: SenderPlan, rate: Double, start: Int64) -> [EndpointArrival] {
    (0..<plan.messageCount).map { arrival(plan, $0, at: start + Int64((Double($0) * 1e9 / rate).rounded())) }
}
