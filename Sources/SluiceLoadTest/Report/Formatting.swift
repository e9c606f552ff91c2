import Foundation

/// One decimal, for summaries and violation messages.
func format1(_ value: Double) -> String { String(format: "%.1f", value) }

/// Two decimals.
func format2(_ value: Double) -> String { String(format: "%.2f", value) }
