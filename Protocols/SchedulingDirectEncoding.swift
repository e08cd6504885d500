// Not part of the contract: how the Swift services write the hottest answers. The bytes are
// exactly those of the `Codable` declarations in Scheduling.swift (integer keys in declaration
// order, every field present), which `DirectEncodingTests` pins; integrators can ignore this file.
public import TandemWire

extension SlotList: CBORDirectEncodable {
    public func encodeCBOR(to writer: CBORDirectWriter) {
        writer.writeMap(count: 3)
        writer.write(CodingKeys.slots.rawValue)
        writer.writeArray(count: slots.count)
        for slot in slots { slot.encodeCBOR(to: writer) }
        writer.write(CodingKeys.candidates.rawValue)
        writer.write(candidates)
        writer.write(CodingKeys.burden.rawValue)
        writer.write(burden)
    }
}

extension Slot: CBORDirectEncodable {
    public func encodeCBOR(to writer: CBORDirectWriter) {
        writer.writeMap(count: 5)
        writer.write(CodingKeys.start.rawValue)
        writer.write(start)
        writer.write(CodingKeys.end.rawValue)
        writer.write(end)
        writer.write(CodingKeys.score.rawValue)
        writer.write(score)
        writer.write(CodingKeys.participants.rawValue)
        writer.writeArray(count: participants.count)
        for participant in participants { participant.encodeCBOR(to: writer) }
        writer.write(CodingKeys.explanation.rawValue)
        writer.write(explanation)
    }
}

extension SlotView: CBORDirectEncodable {
    public func encodeCBOR(to writer: CBORDirectWriter) {
        writer.writeMap(count: 6)
        writer.write(CodingKeys.personID.rawValue)
        writer.write(personID)
        writer.write(CodingKeys.timeZone.rawValue)
        writer.write(timeZone)
        writer.write(CodingKeys.localStart.rawValue)
        writer.write(localStart)
        writer.write(CodingKeys.localEnd.rawValue)
        writer.write(localEnd)
        writer.write(CodingKeys.inconvenience.rawValue)
        writer.write(inconvenience)
        writer.write(CodingKeys.reasons.rawValue)
        writer.write(reasons)
    }
}
