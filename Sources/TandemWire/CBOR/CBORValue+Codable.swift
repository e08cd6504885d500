#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `CBORValue` is `Codable`: with `CBOREncoder`/`CBORDecoder` it round-trips byte for byte
/// (tags, widths and key types kept); with other coders (e.g. JSON) it maps to the nearest shape.
extension CBORValue: Codable {
    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: CBORCodingKey.self) {
            var entries: [MapEntry] = []
            for key in container.allKeys {
                let keyValue: CBORValue = key.intValue.map { .int(Int64($0)) } ?? .text(key.stringValue)
                entries.append(MapEntry(keyValue, try container.decode(CBORValue.self, forKey: key)))
            }
            self = .map(entries)
            return
        }
        if var container = try? decoder.unkeyedContainer() {
            var items: [CBORValue] = []
            while !container.isAtEnd { items.append(try container.decode(CBORValue.self)) }
            self = .array(items)
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let int = try? container.decode(Int64.self) {
            self = .int(int)
        } else if let uint = try? container.decode(UInt64.self) {
            self = .unsigned(uint)
        } else if let double = try? container.decode(Double.self) {
            self = .double(double)
        } else if let text = try? container.decode(String.self) {
            self = .text(text)
        } else {
            self = .bytes(Array(try container.decode(Data.self)))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .map(let entries):
            var container = encoder.container(keyedBy: CBORCodingKey.self)
            for entry in entries {
                let key: CBORCodingKey
                switch entry.key {
                case .text(let text): key = CBORCodingKey(stringValue: text)
                case .unsigned, .negative: key = entry.key.intValue.map { CBORCodingKey(intValue: Int($0)) } ?? CBORCodingKey(stringValue: entry.key.description)
                default: key = CBORCodingKey(stringValue: entry.key.description)
                }
                try container.encode(entry.value, forKey: key)
            }
        case .array(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(item) }
        default:
            var container = encoder.singleValueContainer()
            switch self {
            case .unsigned(let n): try container.encode(n)
            case .negative(let n): if let int = intValue { try container.encode(int) } else { try container.encode(-1 - Double(n)) }
            case .bytes(let bytes): try container.encode(Data(bytes))
            case .text(let text): try container.encode(text)
            case .tagged(_, let content): try container.encode(content)
            case .bool(let bool): try container.encode(bool)
            case .null, .undefined: try container.encodeNil()
            case .simple(let value): try container.encode(value)
            case .float(let double, _): try container.encode(double)
            case .map, .array: break
            }
        }
    }
}

extension CBORValue: CBORSpecialEncodable {
    func encodeCBOR(to state: CBOREncodingState, path: CBORPathComponent) throws {
        write(to: state.writer)
    }
}

extension CBORValue: CBORSpecialDecodable {
    static func decodeCBOR(from state: CBORDecodingState, at offset: Int, depth: Int, parent: Int, component: CBORPathComponent) throws -> CBORValue {
        do {
            return try CBORValue.parse(state.reader, at: offset, depth: depth, maxDepth: state.maxDepth).0
        } catch {
            throw state.corrupted(error, state.codingPath(parent, appending: component))
        }
    }
}
