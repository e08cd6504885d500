import Foundation
import TandemProtocols
import TandemWire

/// Checks requests and turns domain refusals into status codes.
enum MatchingValidation {
    /// The settings with their defaults filled in, or INVALID_ARGUMENT naming every bad field.
    static func settings(_ input: MatchingSettingsInput, defaultExpiryDays: Int, now: Date) throws(RPCError) -> MatchingSettings {
        var violations: [ErrorDetail.FieldViolation] = []
        func check(_ ok: Bool, _ field: String, _ rule: String, _ description: String) {
            if !ok { violations.append(.init(field: field, rule: rule, description: description)) }
        }
        check(!input.criteria.isEmpty, "criteria", "required", "name at least one criterion")
        check(input.criteria.contains { $0.mode == .should }, "criteria", "should", "at least one criterion must be a weighted should (it makes the score)")
        var seen = Set<CriterionKind>()
        var criteria: [Criterion] = []
        for (index, criterion) in input.criteria.enumerated() {
            let field = "criteria[\(index)]"
            check(seen.insert(criterion.kind).inserted, field + ".kind", "unique", "\(criterion.kind.rawValue) is named twice")
            let weight = criterion.weight ?? 10
            check((1...100).contains(weight), field + ".weight", "range", "must be 1–100")
            let minimumGap = criterion.minimumGap ?? 1
            let maximumGap = criterion.maximumGap ?? max(4, minimumGap)
            check((-9...9).contains(minimumGap), field + ".minimumGap", "range", "must be -9…9")
            check((-9...9).contains(maximumGap) && maximumGap >= minimumGap, field + ".maximumGap", "range", "must be -9…9 and at least minimumGap")
            let targetHours = criterion.targetHours ?? 10
            check((1...40).contains(targetHours), field + ".targetHours", "range", "must be 1–40 hours a week")
            let newHireDays = criterion.newHireDays ?? 90
            check((1...730).contains(newHireDays), field + ".newHireDays", "range", "must be 1–730 days")
            criteria.append(Criterion(
                kind: criterion.kind, mode: criterion.mode, weight: weight, preferCrossDivision: criterion.preferCrossDivision ?? true,
                minimumGap: minimumGap, maximumGap: maximumGap, targetHours: targetHours, newHireDays: newHireDays
            ))
        }
        let expiry = input.requestExpiryDays ?? defaultExpiryDays
        check((1...60).contains(expiry), "requestExpiryDays", "range", "must be 1–60 days")
        var groupMinimum = input.groupMinimum
        var groupMaximum = input.groupMaximum
        if groupMinimum != nil || groupMaximum != nil {
            groupMinimum = groupMinimum ?? min(2, groupMaximum ?? 2)
            groupMaximum = groupMaximum ?? max(6, groupMinimum ?? 6)
            check((1...50).contains(groupMinimum!), "groupMinimum", "range", "must be 1–50")
            check((1...50).contains(groupMaximum!) && groupMaximum! >= groupMinimum!, "groupMaximum", "range", "must be 1–50 and at least groupMinimum")
        }
        guard violations.isEmpty else { throw RPCError.invalidArguments(violations) }
        return MatchingSettings(
            programID: input.programID, criteria: criteria, requestExpiryDays: expiry, groupMinimum: groupMinimum, groupMaximum: groupMaximum,
            autoRematch: input.autoRematch ?? true, version: 0, updatedAt: now
        )
    }

    static func agreement(_ request: SetAgreementRequest) throws(RPCError) {
        var violations: [ErrorDetail.FieldViolation] = []
        for (field, list) in [("topics", request.topics), ("boundaries", request.boundaries)] {
            if list.count > 50 { violations.append(.init(field: field, rule: "count", description: "at most 50 entries")) }
            if list.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty || $0.count > 200 }) {
                violations.append(.init(field: field, rule: "length", description: "each entry 1–200 characters"))
            }
        }
        if let notes = request.notes, notes.count > 4000 { violations.append(.init(field: "notes", rule: "length", description: "at most 4,000 characters")) }
        guard violations.isEmpty else { throw RPCError.invalidArguments(violations) }
    }

    /// Runs a lifecycle transition, its refusal as a status.
    static func lifecycle(_ match: Match, _ transition: () throws(MatchLifecycle.Refusal) -> Match) throws(RPCError) -> Match {
        do {
            return try transition()
        } catch {
            throw refusal(error, match)
        }
    }

    /// A lifecycle refusal as a status: not a participant is PERMISSION_DENIED, a wrong state
    /// FAILED_PRECONDITION naming the match.
    static func refusal(_ refusal: MatchLifecycle.Refusal, _ match: Match) -> RPCError {
        switch refusal {
        case .notAParticipant:
            RPCError(code: .permissionDenied, message: refusal.description)
        case .wrongStatus:
            RPCError.failedPrecondition(type: "MATCH_STATUS", subject: match.id.uuidString.lowercased(), refusal.description)
        }
    }
}

/// "Why not mentor X": two explanations side by side.
enum MatchingComparison {
    static func compare(_ first: PairExplanation, _ second: PairExplanation, criteria scorer: PairScorer) -> MentorComparison {
        let kinds = scorer.shoulds.map(\.kind)
        let rows = zip(kinds, scorer.maxima).map { kind, maximum in
            let a = first.parts.first { $0.criterion == kind }
            let b = second.parts.first { $0.criterion == kind }
            return ComparisonRow(criterion: kind, maximum: maximum, firstPoints: a?.points, secondPoints: b?.points, firstDetail: a?.detail, secondDetail: b?.detail)
        }
        let summary: String
        switch (first.score, second.score) {
        case (nil, nil):
            summary = "neither mentor can be matched: \(first.exclusion ?? "") / \(second.exclusion ?? "")"
        case (nil, _):
            summary = "the first mentor cannot be matched: \(first.exclusion ?? "")"
        case (_, nil):
            summary = "the second mentor cannot be matched: \(second.exclusion ?? "")"
        case (let a?, let b?):
            let differences = rows.map { ($0.criterion, ($0.firstPoints ?? 0) - ($0.secondPoints ?? 0)) }.filter { $0.1 != 0 }
            if a == b {
                summary = "both mentors score \(a)"
            } else {
                let leader = a > b ? "first" : "second"
                let sign = a > b ? 1 : -1
                let reasons = differences.filter { $0.1 * sign > 0 }.sorted { abs($0.1) > abs($1.1) }.prefix(2)
                    .map { "\($0.0.rawValue) (+\(abs($0.1)))" }.joined(separator: ", ")
                summary = "the \(leader) mentor scores \(abs(a - b)) point\(abs(a - b) == 1 ? "" : "s") more (\(max(a, b)) vs \(min(a, b))), mostly on \(reasons)"
            }
        }
        return MentorComparison(first: first, second: second, rows: rows, summary: summary)
    }
}

/// The CSV export of a program's pair scores (RFC 4180: comma-separated, fields with commas,
/// quotes or line breaks quoted, quotes doubled).
enum ScoreExport {
    static func header(_ scorer: PairScorer) -> String {
        (["mentee_id", "mentee_name", "mentor_id", "mentor_name", "score", "excluded"] + scorer.shoulds.map { $0.kind.rawValue + "_points" })
            .joined(separator: ",")
    }

    static func row(_ model: ProgramModel, mentee: Int, mentor: Int) -> String {
        let explanation = model.explanation(mentee: mentee, mentor: mentor)
        var fields = [
            model.mentees[mentee].personID.uuidString.lowercased(), quote(model.mentees[mentee].displayName),
            model.mentors[mentor].personID.uuidString.lowercased(), quote(model.mentors[mentor].displayName),
            explanation.score.map(String.init) ?? "", quote(explanation.exclusion ?? ""),
        ]
        for should in model.pairScorer.shoulds {
            fields.append(explanation.parts.first { $0.criterion == should.kind }.map { String($0.points) } ?? "")
        }
        return fields.joined(separator: ",")
    }

    static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacing("\"", with: "\"\"") + "\""
    }
}
