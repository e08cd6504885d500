/// RFC 4180 CSV: comma-separated, fields optionally in double quotes (a quote inside a quoted
/// field is doubled), CRLF or LF line ends. Returns rows of fields with the 1-based line each
/// row starts on; a quoted field may span lines.
enum CSV {
    struct Row {
        var line: Int
        var fields: [String]
    }

    enum Error: Swift.Error, Equatable {
        case unterminatedQuote(line: Int)
        case textAfterQuote(line: Int)
    }

    static func parse(_ text: String) throws(CSV.Error) -> [Row] {
        var rows: [Row] = []
        var fields: [String] = []
        var field = ""
        var line = 1
        var rowLine = 1
        var inQuotes = false
        var quoteClosed = false
        var characters = Array(text.unicodeScalars)
        if characters.first == "\u{FEFF}" { characters.removeFirst() }  // byte order mark
        var index = 0
        func endField() {
            fields.append(field)
            field = ""
            quoteClosed = false
        }
        func endRow() {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) { rows.append(Row(line: rowLine, fields: fields)) }
            fields = []
        }
        while index < characters.count {
            let character = characters[index]
            if inQuotes {
                if character == "\"" {
                    if index + 1 < characters.count && characters[index + 1] == "\"" {
                        field.unicodeScalars.append("\"")
                        index += 1
                    } else {
                        inQuotes = false
                        quoteClosed = true
                    }
                } else {
                    if character == "\n" { line += 1 }
                    field.unicodeScalars.append(character)
                }
            } else {
                switch character {
                case ",":
                    endField()
                case "\r":
                    break
                case "\n":
                    endRow()
                    line += 1
                    rowLine = line
                case "\"" where field.isEmpty && !quoteClosed:
                    inQuotes = true
                default:
                    if quoteClosed { throw .textAfterQuote(line: line) }
                    field.unicodeScalars.append(character)
                }
            }
            index += 1
        }
        if inQuotes { throw .unterminatedQuote(line: rowLine) }
        if !field.isEmpty || !fields.isEmpty || quoteClosed { endRow() }
        return rows
    }
}
