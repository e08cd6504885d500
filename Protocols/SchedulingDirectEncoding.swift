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

/// Every booking, cancellation and change answers with a `Meeting`. Absent optionals are left
/// out of the map, as `Codable`'s `encodeIfPresent` leaves them out.
extension Meeting: CBORDirectEncodable {
    public func encodeCBOR(to writer: CBORDirectWriter) {
        let optionals = (agenda == nil ? 0 : 1) + (seriesID == nil ? 0 : 1) + (occurrence == nil ? 0 : 1) + (cancelReason == nil ? 0 : 1)
        writer.writeMap(count: 13 + optionals)
        writer.write(CodingKeys.id.rawValue)
        writer.write(id)
        writer.write(CodingKeys.matchID.rawValue)
        writer.write(matchID)
        writer.write(CodingKeys.programID.rawValue)
        writer.write(programID)
        writer.write(CodingKeys.participantIDs.rawValue)
        writer.writeArray(count: participantIDs.count)
        for participant in participantIDs { writer.write(participant) }
        writer.write(CodingKeys.start.rawValue)
        writer.write(start)
        writer.write(CodingKeys.end.rawValue)
        writer.write(end)
        writer.write(CodingKeys.timeZone.rawValue)
        writer.write(timeZone)
        writer.write(CodingKeys.status.rawValue)
        writer.write(status.rawValue)
        if let agenda {
            writer.write(CodingKeys.agenda.rawValue)
            writer.write(agenda)
        }
        writer.write(CodingKeys.videoURL.rawValue)
        writer.write(videoURL)
        if let seriesID {
            writer.write(CodingKeys.seriesID.rawValue)
            writer.write(seriesID)
        }
        if let occurrence {
            writer.write(CodingKeys.occurrence.rawValue)
            writer.write(occurrence)
        }
        writer.write(CodingKeys.sequence.rawValue)
        writer.write(sequence)
        if let cancelReason {
            writer.write(CodingKeys.cancelReason.rawValue)
            writer.write(cancelReason)
        }
        writer.write(CodingKeys.version.rawValue)
        writer.write(version)
        writer.write(CodingKeys.createdAt.rawValue)
        writer.write(createdAt)
        writer.write(CodingKeys.updatedAt.rawValue)
        writer.write(updatedAt)
    }
}

/// Written by every booking client (and by scheduling, once more, for the idempotency key's
/// request digest).
extension BookMeetingRequest: CBORDirectEncodable {
    public func encodeCBOR(to writer: CBORDirectWriter) {
        writer.writeMap(count: agenda == nil ? 4 : 5)
        writer.write(CodingKeys.matchID.rawValue)
        writer.write(matchID)
        writer.write(CodingKeys.start.rawValue)
        writer.write(start)
        writer.write(CodingKeys.durationMinutes.rawValue)
        writer.write(durationMinutes)
        writer.write(CodingKeys.timeZone.rawValue)
        writer.write(timeZone)
        if let agenda {
            writer.write(CodingKeys.agenda.rawValue)
            writer.write(agenda)
        }
    }
}

extension CancelMeetingRequest: CBORDirectEncodable {
    public func encodeCBOR(to writer: CBORDirectWriter) {
        writer.writeMap(count: 2)
        writer.write(CodingKeys.meetingID.rawValue)
        writer.write(meetingID)
        writer.write(CodingKeys.reason.rawValue)
        writer.write(reason)
    }
}
