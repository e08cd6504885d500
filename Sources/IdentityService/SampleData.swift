/// A realistic HR export, made deterministically: people across divisions, time zones (half-
/// hour zones included), languages and seniority levels, in a reporting tree, half of them
/// mentors. For benchmarks, tests and the demo.
public enum SampleHRData {
    static let divisions = ["Engineering", "Sales", "Finance", "Marketing", "Operations", "People", "Legal", "Product"]
    static let titles = ["Associate", "Analyst", "Engineer", "Specialist", "Manager", "Senior manager", "Director", "Vice president"]
    static let zones = [
        "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo", "Europe/London", "Europe/Berlin",
        "Africa/Lagos", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney", "Asia/Kathmandu",
    ]
    static let languages = ["en", "en;es", "en;pt-BR", "en;de", "en;fr", "en;hi", "en;ja", "en;zh"]
    static let skills = ["swift", "sql", "negotiation", "public speaking", "finance", "leadership", "design", "writing", "data analysis", "hiring"]
    static let firstNames = ["Ada", "Bo", "Chen", "Dara", "Emeka", "Farah", "Gita", "Hugo", "Ines", "Jun", "Kofi", "Lena", "Mateo", "Noor", "Omar", "Priya"]
    static let lastNames = ["Okafor", "Silva", "Tanaka", "Müller", "Patel", "Nguyen", "Kowalski", "García", "Haddad", "Larsen", "O'Neil", "Zhou"]

    public static let header =
        "external_id,email,name,division,job_title,seniority,manager_email,time_zone,working_days,working_hours,languages,location,hire_date,role,skills_offered,skills_wanted,capacity"

    /// `rows` people (plus the header), in an organisation whose emails end in `domain`.
    public static func csv(rows: Int, domain: String = "example.com") -> String {
        var lines = [header]
        lines.reserveCapacity(rows + 1)
        for index in 0..<rows {
            let first = firstNames[index % firstNames.count]
            let last = lastNames[(index / firstNames.count) % lastNames.count]
            let email = "p\(index)@\(domain)"
            let manager = index == 0 ? "" : "p\((index - 1) / 10)@\(domain)"
            let mentor = index % 2 == 0
            let start = 7 * 60 + (index % 5) * 30
            let offered = mentor ? "\(skills[index % skills.count]):\(3 + index % 3);\(skills[(index + 3) % skills.count]):\(2 + index % 4)" : ""
            let wanted = "\(skills[(index + 5) % skills.count]):\(1 + index % 3)"
            let fields = [
                "E\(index)", email, "\"\(first) \(last)\"", divisions[index % divisions.count], titles[index % titles.count], "\(1 + index % 10)",
                manager, zones[index % zones.count], index % 7 == 0 ? "1-4" : "1-5",
                "\(pad(start / 60)):\(pad(start % 60))-\(pad(start / 60 + 8)):\(pad(start % 60))", languages[index % languages.count],
                index % 3 == 0 ? "" : "Site \(index % 40)", "20\(pad(10 + index % 16))-\(pad(1 + index % 12))-\(pad(1 + index % 28))",
                mentor ? "mentor" : "mentee", offered, wanted, mentor ? "\(1 + index % 4)" : "",
            ]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func pad(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
