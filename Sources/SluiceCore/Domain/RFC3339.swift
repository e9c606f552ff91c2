/// Wall-clock milliseconds as RFC 3339 in UTC with milliseconds (`2026-12-07T14:35:23.223Z`),
/// without Foundation's formatters: an export writes five of these per row, a million rows.
/// Years 0–9999 (what a journal holds).
public enum RFC3339 {
    public static func text(milliseconds: Int64) -> String {
        let ms = Int64(milliseconds.magnitude % 1_000) * (milliseconds < 0 ? -1 : 1)
        var seconds = milliseconds / 1_000
        var fraction = ms
        if fraction < 0 {
            fraction += 1_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var second = seconds % 86_400
        if second < 0 {
            second += 86_400
            days -= 1
        }
        // Howard Hinnant's civil_from_days: the proleptic Gregorian date of a day count.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        var out: [UInt8] = []
        out.reserveCapacity(24)
        func digits(_ value: Int64, _ width: Int) {
            let start = out.count
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
            var v = value
            var i = start + width - 1
            while i >= start {
                out[i] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: v % 10)
                v /= 10
                i -= 1
            }
        }
        digits(year, 4)
        out.append(UInt8(ascii: "-"))
        digits(month, 2)
        out.append(UInt8(ascii: "-"))
        digits(day, 2)
        out.append(UInt8(ascii: "T"))
        digits(second / 3_600, 2)
        out.append(UInt8(ascii: ":"))
        digits(second / 60 % 60, 2)
        out.append(UInt8(ascii: ":"))
        digits(second % 60, 2)
        out.append(UInt8(ascii: "."))
        digits(fraction, 3)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }
}
