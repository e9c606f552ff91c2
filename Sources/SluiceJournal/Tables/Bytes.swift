/// Little-endian writes into a buffer whose size was computed beforehand.
struct ByteWriter {
    let base: UnsafeMutableRawPointer
    private(set) var offset = 0

    init(_ base: UnsafeMutableRawPointer) { self.base = base }

    @inline(__always) mutating func u8(_ v: UInt8) { base.storeBytes(of: v, toByteOffset: offset, as: UInt8.self); offset += 1 }
    @inline(__always) mutating func u16(_ v: UInt16) { base.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt16.self); offset += 2 }
    @inline(__always) mutating func u32(_ v: UInt32) { base.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt32.self); offset += 4 }
    @inline(__always) mutating func u64(_ v: UInt64) { base.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt64.self); offset += 8 }
    @inline(__always) mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }

    /// u16 length + UTF-8 bytes. Lengths were validated (≤ `stringBytesMax`).
    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            u16(UInt16(utf8.count))
            if let source = utf8.baseAddress { (base + offset).copyMemory(from: source, byteCount: utf8.count) }
            offset += utf8.count
        }
    }

    /// Raw bytes, no length (a section that runs to the end of the record).
    mutating func bytes(_ raw: UnsafeRawBufferPointer) {
        if let source = raw.baseAddress { (base + offset).copyMemory(from: source, byteCount: raw.count) }
        offset += raw.count
    }

    /// Leaves `n` bytes for the caller to fill.
    mutating func skip(_ n: Int) { offset += n }

    /// u32 length + bytes.
    mutating func blob(_ bytes: [UInt8]) {
        u32(UInt32(bytes.count))
        bytes.withUnsafeBytes { raw in
            if let source = raw.baseAddress { (base + offset).copyMemory(from: source, byteCount: raw.count) }
        }
        offset += bytes.count
    }
}

/// Bounds-checked little-endian reads; a short or malformed value is `nil` (corrupt).
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    var isAtEnd: Bool { offset == buffer.count }

    /// A short or malformed value; `undecryptable` when a sealed section did not
    /// authenticate (see `RecordCipher`).
    struct Short: Error {
        var undecryptable = false
    }

    @inline(__always) private mutating func take(_ n: Int) throws(Short) -> Int {
        guard buffer.count - offset >= n else { throw Short() }
        defer { offset += n }
        return offset
    }

    @inline(__always) mutating func u8() throws(Short) -> UInt8 { buffer.load(fromByteOffset: try take(1), as: UInt8.self) }
    @inline(__always) mutating func u16() throws(Short) -> UInt16 { UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: try take(2), as: UInt16.self)) }
    @inline(__always) mutating func u32() throws(Short) -> UInt32 { UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self)) }
    @inline(__always) mutating func u64() throws(Short) -> UInt64 { UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: try take(8), as: UInt64.self)) }
    @inline(__always) mutating func i64() throws(Short) -> Int64 { Int64(bitPattern: try u64()) }

    mutating func skip(_ n: Int) throws(Short) { _ = try take(n) }

    /// Everything left (a sealed section runs to the end of its record).
    mutating func rest() -> UnsafeRawBufferPointer {
        defer { offset = buffer.count }
        return UnsafeRawBufferPointer(rebasing: buffer[offset...])
    }

    mutating func string() throws(Short) -> String {
        let n = Int(try u16())
        let start = try take(n)
        return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[start..<start + n]), as: UTF8.self)
    }

    mutating func blob() throws(Short) -> [UInt8] {
        let n = Int(try u32())
        let start = try take(n)
        return Array(UnsafeRawBufferPointer(rebasing: buffer[start..<start + n]))
    }
}

/// Longest string field a record may hold (u16 length prefix).
let stringBytesMax = Int(UInt16.max)
