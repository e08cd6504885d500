public import Foundation
public import TandemProtocols

/// The match lifecycle, as pure transitions: proposed → accepted by both → active → completed or
/// ended early; or proposed → declined / expired. Each transition returns the changed match or
/// says why it is not allowed.
public enum MatchLifecycle {
    public enum Refusal: Error, Equatable, CustomStringConvertible {
        /// The person is not the match's mentor or mentee.
        case notAParticipant
        /// The match is not in a state that allows the change.
        case wrongStatus(MatchStatus, String)

        public var description: String {
            switch self {
            case .notAParticipant: "only the match's mentor and mentee can do this"
            case .wrongStatus(let status, let action): "the match is \(status.rawValue): it cannot be \(action)"
            }
        }
    }

    /// A participant accepts or declines a proposal. The match becomes active once both accepted.
    /// Answering again the same way returns the match unchanged (the call is idempotent). A
    /// proposal past its deadline has lapsed, whether or not `expire` has run yet: it is refused
    /// as expired.
    public static func respond(_ match: Match, by person: UUID, accept: Bool, reason: String?, now: Date) throws(Refusal) -> Match {
        guard person == match.mentorID || person == match.menteeID else { throw .notAParticipant }
        let action = accept ? "accepted" : "declined"
        if match.status == .proposed, let expiresAt = match.expiresAt, expiresAt <= now { throw .wrongStatus(.expired, action) }
        if accept, match.status == .active { return match }
        if accept, match.status == .proposed, person == match.mentorID ? match.mentorAccepted : match.menteeAccepted { return match }
        if !accept, match.status == .declined, match.declinedBy == person { return match }
        guard match.status == .proposed else { throw .wrongStatus(match.status, action) }
        var changed = match
        if accept {
            if person == match.mentorID { changed.mentorAccepted = true } else { changed.menteeAccepted = true }
            if changed.mentorAccepted && changed.menteeAccepted {
                changed.status = .active
                changed.startedAt = now
                changed.expiresAt = nil
            }
        } else {
            changed.status = .declined
            changed.declinedBy = person
            changed.endedAt = now
            changed.endReason = reason ?? "declined"
            changed.expiresAt = nil
        }
        return changed.touched(now)
    }

    /// Ends an active match (completed, ended early, or not a good fit); a proposal can be withdrawn
    /// with `ended`. Ending it again with the same outcome is a no-op.
    public static func end(_ match: Match, outcome: MatchOutcome, reason: String?, now: Date) throws(Refusal) -> Match {
        let status: MatchStatus = outcome == .completed ? .completed : .ended
        if match.status == status, match.notAGoodFit == (outcome == .notAGoodFit) { return match }
        switch (match.status, outcome) {
        case (.active, _), (.proposed, .ended), (.proposed, .notAGoodFit):
            break
        default:
            throw .wrongStatus(match.status, outcome == .completed ? "completed" : "ended")
        }
        var changed = match
        changed.status = status
        changed.endedAt = now
        changed.expiresAt = nil
        changed.notAGoodFit = outcome == .notAGoodFit
        changed.endReason = reason ?? (outcome == .notAGoodFit ? "not a good fit" : outcome == .completed ? "completed" : "ended early")
        return changed.touched(now)
    }

    /// A proposal past its deadline lapses.
    public static func expire(_ match: Match, now: Date) -> Match? {
        guard match.status == .proposed, let expiresAt = match.expiresAt, expiresAt <= now else { return nil }
        var changed = match
        changed.status = .expired
        changed.endedAt = now
        changed.expiresAt = nil
        changed.endReason = "not accepted by both within the time allowed"
        return changed.touched(now)
    }

    /// A participant sets the pair's agreement. Setting exactly what the other already set adds
    /// their agreement to it; any change restarts it with the author alone.
    public static func setAgreement(
        _ match: Match, by person: UUID, topics: [String], boundaries: [String], cadence: MeetingCadence?, notes: String?, now: Date
    ) throws(Refusal) -> Match {
        guard person == match.mentorID || person == match.menteeID else { throw .notAParticipant }
        guard match.status == .active || match.status == .proposed else { throw .wrongStatus(match.status, "given an agreement") }
        var changed = match
        let same = match.agreement.map { $0.topics == topics && $0.boundaries == boundaries && $0.cadence == cadence && $0.notes == notes } ?? false
        var agreedBy = same ? match.agreement?.agreedBy ?? [] : []
        if !agreedBy.contains(person) { agreedBy.append(person) }
        changed.agreement = Agreement(topics: topics, boundaries: boundaries, cadence: cadence, notes: notes, agreedBy: agreedBy, updatedAt: now)
        return changed.touched(now)
    }

    /// Whether the match ended in a way that keeps the two from being proposed again.
    public static func endedBadly(_ match: Match) -> Bool {
        match.notAGoodFit || (match.status == .declined)
    }

    /// Holds one of the mentor's places.
    public static func holdsPlace(_ status: MatchStatus) -> Bool {
        status == .proposed || status == .active
    }
}

extension Match {
    func touched(_ now: Date) -> Match {
        var copy = self
        copy.version += 1
        copy.updatedAt = now
        return copy
    }
}
