import Foundation
import TandemRandom

/// A small, fast, seedable random number generator (SplitMix64), so a seed always gives the same
/// demo organisation, on every machine.
extension SplitMix64 {
    mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < probability
    }

    mutating func pick<T>(_ items: [T]) -> T {
        items[Int.random(in: 0..<items.count, using: &self)]
    }
}

/// One office of the demo organisation: where people live, which clock they keep, which
/// languages they speak, and the names common there.
struct DemoOffice: Sendable {
    var city: String
    var continent: String
    var timeZone: String
    var languages: [String]
    var share: Int
    var firstNames: [String]
    var lastNames: [String]
}

/// A person of the demo organisation, as the CSV import receives them.
struct DemoPerson: Sendable {
    var externalID: String
    var email: String
    var name: String
    var division: String
    var jobTitle: String
    var seniority: Int
    var timeZone: String
    var city: String
    var continent: String
    var languages: [String]
    var workingStart: Int
    var workingEnd: Int
    var hireDate: String
    var isNewHire: Bool
    var role: String?
    var skillsOffered: [(String, Int)]
    var skillsWanted: [(String, Int)]
    var capacity: Int?
    /// Willing to meet outside working hours (the slot finder may then offer early or late slots).
    var flexible: Bool
}

/// The bundled demo data set: a realistic global organisation generated from a seed.
enum DemoData {
    static let offices: [DemoOffice] = [
        DemoOffice(city: "New York", continent: "North America", timeZone: "America/New_York", languages: ["en"], share: 14,
                   firstNames: ["Emily", "Michael", "Jessica", "David", "Ashley", "James", "Sarah", "Daniel", "Lauren", "Marcus"],
                   lastNames: ["Johnson", "Williams", "Brown", "Miller", "Davis", "Wilson", "Taylor", "Anderson", "Thomas", "Moore"]),
        DemoOffice(city: "Chicago", continent: "North America", timeZone: "America/Chicago", languages: ["en", "es"], share: 6,
                   firstNames: ["Olivia", "Ethan", "Sofia", "Noah", "Isabella", "Mateo", "Grace", "Liam"],
                   lastNames: ["Martinez", "Garcia", "Lopez", "Clark", "Lewis", "Walker", "Young", "Hall"]),
        DemoOffice(city: "San Francisco", continent: "North America", timeZone: "America/Los_Angeles", languages: ["en"], share: 10,
                   firstNames: ["Chloe", "Ryan", "Priya", "Kevin", "Mei", "Jordan", "Hannah", "Tyler"],
                   lastNames: ["Nguyen", "Chen", "Patel", "Kim", "Robinson", "Wright", "Scott", "Green"]),
        DemoOffice(city: "São Paulo", continent: "South America", timeZone: "America/Sao_Paulo", languages: ["pt-BR", "en"], share: 8,
                   firstNames: ["Ana", "João", "Mariana", "Lucas", "Beatriz", "Gabriel", "Camila", "Rafael"],
                   lastNames: ["Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Almeida"]),
        DemoOffice(city: "London", continent: "Europe", timeZone: "Europe/London", languages: ["en"], share: 12,
                   firstNames: ["Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Jack", "Freya"],
                   lastNames: ["Smith", "Jones", "Evans", "Roberts", "Walsh", "Hughes", "Edwards", "Khan"]),
        DemoOffice(city: "Berlin", continent: "Europe", timeZone: "Europe/Berlin", languages: ["de", "en"], share: 9,
                   firstNames: ["Lena", "Felix", "Marie", "Jonas", "Hannah", "Lukas", "Mia", "Paul"],
                   lastNames: ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann"]),
        DemoOffice(city: "Lisbon", continent: "Europe", timeZone: "Europe/Lisbon", languages: ["pt", "en"], share: 5,
                   firstNames: ["Inês", "Tiago", "Leonor", "Duarte", "Matilde", "Rodrigo"],
                   lastNames: ["Ferreira", "Rodrigues", "Martins", "Sousa", "Gonçalves", "Carvalho"]),
        DemoOffice(city: "Lagos", continent: "Africa", timeZone: "Africa/Lagos", languages: ["en", "yo"], share: 6,
                   firstNames: ["Chidi", "Adaeze", "Tunde", "Ngozi", "Emeka", "Funmi", "Kelechi", "Bisi"],
                   lastNames: ["Okafor", "Adeyemi", "Okonkwo", "Balogun", "Eze", "Ogunleye", "Nwosu", "Afolabi"]),
        DemoOffice(city: "Nairobi", continent: "Africa", timeZone: "Africa/Nairobi", languages: ["en", "sw"], share: 5,
                   firstNames: ["Wanjiru", "Kamau", "Achieng", "Otieno", "Njeri", "Mwangi"],
                   lastNames: ["Kariuki", "Ochieng", "Mutua", "Wambui", "Kiplagat", "Njoroge"]),
        DemoOffice(city: "Bengaluru", continent: "Asia", timeZone: "Asia/Kolkata", languages: ["en", "hi"], share: 12,
                   firstNames: ["Aarav", "Ananya", "Rohan", "Diya", "Vikram", "Kavya", "Arjun", "Sneha"],
                   lastNames: ["Sharma", "Iyer", "Reddy", "Gupta", "Nair", "Menon", "Rao", "Kulkarni"]),
        DemoOffice(city: "Singapore", continent: "Asia", timeZone: "Asia/Singapore", languages: ["en", "zh"], share: 6,
                   firstNames: ["Wei Ling", "Jun Jie", "Hui Min", "Darren", "Xin Yi", "Marcus"],
                   lastNames: ["Tan", "Lim", "Lee", "Ng", "Ong", "Goh"]),
        DemoOffice(city: "Tokyo", continent: "Asia", timeZone: "Asia/Tokyo", languages: ["ja", "en"], share: 5,
                   firstNames: ["Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina"],
                   lastNames: ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito"]),
        DemoOffice(city: "Sydney", continent: "Oceania", timeZone: "Australia/Sydney", languages: ["en"], share: 5,
                   firstNames: ["Charlotte", "Jack", "Matilda", "William", "Ruby", "Lachlan"],
                   lastNames: ["Mitchell", "Kelly", "Ryan", "Murphy", "Campbell", "Stewart"]),
    ]

    /// Divisions with their job family and the skills their people offer.
    static let divisions: [(name: String, share: Int, family: String, skills: [String])] = [
        ("Engineering", 26, "Engineer", ["swift", "distributed-systems", "testing", "architecture", "security"]),
        ("Product", 10, "Product Manager", ["product-discovery", "roadmapping", "analytics", "stakeholder-management"]),
        ("Design", 7, "Designer", ["ux-research", "interaction-design", "design-systems", "prototyping"]),
        ("Sales", 13, "Account Executive", ["negotiation", "forecasting", "enterprise-sales", "storytelling"]),
        ("Marketing", 8, "Marketing Manager", ["brand", "content-strategy", "analytics", "storytelling"]),
        ("Customer Success", 10, "Customer Success Manager", ["onboarding", "negotiation", "stakeholder-management", "coaching"]),
        ("Finance", 7, "Financial Analyst", ["forecasting", "financial-modelling", "analytics", "compliance"]),
        ("People", 6, "People Partner", ["coaching", "hiring", "conflict-resolution", "compensation"]),
        ("Operations", 8, "Operations Manager", ["process-improvement", "vendor-management", "analytics", "compliance"]),
        ("Legal", 5, "Counsel", ["compliance", "contract-law", "negotiation", "privacy"]),
    ]

    /// Skills anyone may want or offer, whatever their division.
    static let sharedSkills = ["leadership", "public-speaking", "career-growth", "people-management", "remote-collaboration", "strategic-thinking"]

    static let titlesBySeniority: [Int: String] = [
        1: "Associate", 2: "Junior", 3: "", 4: "Senior", 5: "Lead", 6: "Principal", 7: "Head of", 8: "Director of", 9: "VP",
    ]

    /// The organisation's people for `seed`: `size` of them, realistic in their spread over
    /// offices, divisions and seniority; about one in eight joined in the last 75 days.
    static func people(size: Int, seed: UInt64, today: Date) -> [DemoPerson] {
        var random = SplitMix64(seed: seed)
        var people: [DemoPerson] = []
        var usedEmails: Set<String> = []
        let officeWeights = offices.map(\.share)
        let divisionWeights = divisions.map(\.share)
        let calendar = Calendar(identifier: .gregorian)
        for index in 0..<size {
            // Every office has someone, then offices by their share.
            let office = index < offices.count ? offices[index] : offices[weighted(officeWeights, &random)]
            let division = divisions[index < divisions.count ? index : weighted(divisionWeights, &random)]
            let first = random.pick(office.firstNames)
            let last = random.pick(office.lastNames)
            let name = "\(first) \(last)"
            var local = "\(first).\(last)".lowercased().folding(options: .diacriticInsensitive, locale: nil)
                .replacingOccurrences(of: " ", with: "-").filter { $0.isLetter || $0 == "." || $0 == "-" }
            if usedEmails.contains(local) {
                var suffix = 2
                while usedEmails.contains("\(local)\(suffix)") { suffix += 1 }
                local = "\(local)\(suffix)"
            }
            usedEmails.insert(local)
            // Seniority: a pyramid, 1 (entry) … 9.
            let seniority = [1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 6, 6, 7, 8, 9][weighted(Array(repeating: 1, count: 19), &random)]
            let isNewHire = random.chance(0.13)
            let daysAgo = isNewHire ? Int.random(in: 3...75, using: &random) : Int.random(in: 200...3600, using: &random)
            let hire = calendar.date(byAdding: .day, value: -daysAgo, to: today)!
            let prefix = titlesBySeniority[seniority] ?? ""
            let title = prefix.isEmpty ? division.family : (seniority >= 7 ? "\(prefix) \(division.name)" : "\(prefix) \(division.family)")
            let start = [8 * 60, 9 * 60, 9 * 60, 9 * 60, 10 * 60][Int.random(in: 0..<5, using: &random)]
            var person = DemoPerson(
                externalID: String(format: "E%05d", index + 1), email: "\(local)@northwind.example", name: name, division: division.name,
                jobTitle: title, seniority: seniority, timeZone: office.timeZone, city: office.city, continent: office.continent,
                languages: office.languages, workingStart: start, workingEnd: start + 8 * 60, hireDate: dateString(hire), isNewHire: isNewHire,
                role: nil, skillsOffered: [], skillsWanted: [], capacity: nil, flexible: random.chance(0.55)
            )
            // Who takes part: most people; senior ones mentor, junior ones and new hires are mentees.
            if random.chance(0.88) {
                let mentors = seniority >= 5 || (seniority == 4 && random.chance(0.4))
                person.role = mentors ? (random.chance(0.15) ? "both" : "mentor") : "mentee"
                if isNewHire && seniority < 6 { person.role = "mentee" }
                if person.role != "mentee" {
                    var offered = Array(division.skills.shuffled(using: &random).prefix(Int.random(in: 2...3, using: &random)))
                    offered.append(random.pick(sharedSkills))
                    person.skillsOffered = Array(Set(offered)).sorted().map { ($0, Int.random(in: 3...5, using: &random)) }
                    person.capacity = Int.random(in: 1...3, using: &random)
                }
                if person.role != "mentor" {
                    // Mostly their own field, often another division's, sometimes a shared skill.
                    let other = divisions[weighted(divisionWeights, &random)]
                    var wanted = [random.pick(division.skills)]
                    wanted.append(random.chance(0.5) ? random.pick(other.skills) : random.pick(sharedSkills))
                    person.skillsWanted = Array(Set(wanted)).sorted().map { ($0, Int.random(in: 2...4, using: &random)) }
                }
            }
            people.append(person)
        }
        return people
    }

    /// The people as the CSV that `identity.ImportPeople` reads (Protocols/Identity.md, CSV import).
    static func csv(_ people: [DemoPerson]) -> String {
        var lines = ["external_id,email,name,division,job_title,seniority,time_zone,working_hours,languages,location,hire_date,role,skills_offered,skills_wanted,capacity"]
        for person in people {
            func skills(_ list: [(String, Int)]) -> String { list.map { "\($0.0):\($0.1)" }.joined(separator: ";") }
            let fields: [String] = [
                person.externalID, person.email, person.name, person.division, person.jobTitle, String(person.seniority), person.timeZone,
                "\(clock(person.workingStart))-\(clock(person.workingEnd))", person.languages.joined(separator: ";"), person.city, person.hireDate,
                person.role ?? "", person.role == nil ? "" : skills(person.skillsOffered), person.role == nil ? "" : skills(person.skillsWanted),
                person.capacity.map(String.init) ?? "",
            ]
            lines.append(fields.map(csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func clock(_ minutes: Int) -> String { String(format: "%02d:%02d", minutes / 60, minutes % 60) }

    static func dateString(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    private static func weighted(_ weights: [Int], _ random: inout SplitMix64) -> Int {
        var roll = Int.random(in: 0..<weights.reduce(0, +), using: &random)
        for (index, weight) in weights.enumerated() {
            if roll < weight { return index }
            roll -= weight
        }
        return weights.count - 1
    }
}
