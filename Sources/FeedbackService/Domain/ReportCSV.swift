import Foundation
import TandemProtocols

/// A program report as CSV (RFC 4180): one row per group, suppressed figures left empty.
enum ReportCSV {
    static let header = "dimension,group,participants,matches,meetings_held,mentoring_hours,respondents,average_rating,ratings,response_rate,"
        + "competency_percent,competency_respondents,relationship_percent,relationship_respondents,retention_percent,retention_respondents,suppressed\r\n"

    static func rows(_ report: ProgramReport) -> [String] {
        var rows = [row("all", report.overall)]
        for cut in report.cuts {
            for cell in cut.cells { rows.append(row(cut.dimension.rawValue, cell)) }
        }
        return rows
    }

    static func render(_ report: ProgramReport) -> String {
        header + rows(report).joined()
    }

    static func row(_ dimension: String, _ cell: ReportCell) -> String {
        func number(_ value: Int?) -> String { value.map(String.init) ?? "" }
        func number(_ value: Double?) -> String { value.map { String($0) } ?? "" }
        let fields = [
            dimension, cell.group, number(cell.participants), number(cell.matches), number(cell.meetingsHeld), number(cell.mentoringHours),
            number(cell.respondents), number(cell.averageRating), number(cell.ratings), number(cell.responseRate),
            number(cell.competency?.percent), number(cell.competency?.respondents), number(cell.relationship?.percent),
            number(cell.relationship?.respondents), number(cell.retention?.percent), number(cell.retention?.respondents),
            cell.suppressed ? "yes" : "no",
        ]
        return fields.map(escape).joined(separator: ",") + "\r\n"
    }

    /// Quotes a field when it needs it; a leading =, +, - or @ is prefixed with ' so that
    /// spreadsheets do not run it as a formula.
    static func escape(_ field: String) -> String {
        var value = field
        if let first = value.first, "=+-@".contains(first), Double(value) == nil { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
