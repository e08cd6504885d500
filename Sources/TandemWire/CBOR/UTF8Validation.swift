/// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
///
/// Written out rather than calling `String(validating:as:)`, whose generic implementation
/// instantiates type metadata on every call: the decoder validates every string it reads.
enum UTF8Validation {
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var i = 0
        while true {
            // ASCII runs, eight bytes at a time.
            while i + 8 <= count, base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            }
            guard i < count else { return true }
            let lead = base.load(fromByteOffset: i, as: UInt8.self)
            if lead < 0x80 {
                i += 1
                continue
            }
            @inline(__always) func continuation(_ offset: Int) -> UInt8? {
                guard i + offset < count else { return nil }
                let byte = base.load(fromByteOffset: i + offset, as: UInt8.self)
                return byte & 0xC0 == 0x80 ? byte : nil
            }
            switch lead {
            case 0xC2...0xDF:
                guard continuation(1) != nil else { return false }
                i += 2
            case 0xE0...0xEF:
                guard let second = continuation(1), continuation(2) != nil else { return false }
                if lead == 0xE0 && second < 0xA0 { return false }  // overlong
                if lead == 0xED && second >= 0xA0 { return false }  // surrogate
                i += 3
            case 0xF0...0xF4:
                guard let second = continuation(1), continuation(2) != nil, continuation(3) != nil else { return false }
                if lead == 0xF0 && second < 0x90 { return false }  // overlong
                if lead == 0xF4 && second >= 0x90 { return false }  // above U+10FFFF
                i += 4
            default:
                return false
            }
        }
    }

    /// A string from `bytes` if they are valid UTF-8.
    @inline(__always)
    static func string(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard isValid(bytes) else { return nil }
        return String(decoding: bytes.bindMemory(to: UInt8.self), as: UTF8.self)
    }
}
