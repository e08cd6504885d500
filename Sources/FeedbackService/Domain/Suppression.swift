/// Decides which groups of a report may show answer figures, so that no figure describes fewer
/// than k people — not on its own, and not by subtracting one published group from another.
///
/// The rules, applied until nothing changes (Protocols/Feedback.md, k-anonymity):
/// 1. **Primary**: a group with fewer than k respondents is suppressed.
/// 2. **Complementary** (within a dimension, whose groups split the report's respondents): the
///    suppressed groups together must hold 0 or at least k people; otherwise the parent's total
///    minus the published groups would describe the few in them, so the smallest published group
///    is suppressed too. This covers "total minus one cut": a division of 11 next to a division
///    of 1 in a program of 12 is suppressed, since the program minus it is the one person.
/// 3. **Overlap**: two published groups whose figures are over the same answers (the whole
///    report, cohorts, divisions, roles — not months, whose figures come from different answers)
///    and whose memberships differ by 1 to k−1 people (the symmetric difference) let one be
///    subtracted from the other; the smaller is suppressed.
struct Suppression {
    /// One group: its dimension (nil for the whole report) and its respondents (dense person indexes).
    struct Group {
        var dimension: Int?
        var members: [Int32]
        /// Whether rule 3 compares this group with the others that have it set.
        var comparable: Bool = true
    }

    enum Reason: String, Sendable {
        case belowK = "fewer than k respondents"
        case complementary = "complementary: the suppressed groups of this cut hold fewer than k"
        case overlap = "overlap: differs from another group by fewer than k respondents"
    }

    /// The reason each group is suppressed, nil for published ones. `people` is the number of
    /// distinct person indexes.
    static func decide(groups: [Group], people: Int, k: Int) -> [Reason?] {
        var result = [Reason?](repeating: nil, count: groups.count)
        let sizes = groups.map(\.members.count)
        for (index, size) in sizes.enumerated() where size < k { result[index] = .belowK }

        // Memberships per person, for unions and pairwise intersections.
        var groupsOf = [[Int32]](repeating: [], count: people)
        for (index, group) in groups.enumerated() where group.comparable {
            for member in group.members { groupsOf[Int(member)].append(Int32(index)) }
        }
        var intersections = [Int32](repeating: 0, count: groups.count * groups.count)
        for memberships in groupsOf where memberships.count > 1 {
            for a in memberships {
                for b in memberships where b > a { intersections[Int(a) * groups.count + Int(b)] += 1 }
            }
        }
        func intersection(_ a: Int, _ b: Int) -> Int {
            Int(a < b ? intersections[a * groups.count + b] : intersections[b * groups.count + a])
        }
        let dimensions = Set(groups.compactMap(\.dimension))

        var changed = true
        while changed {
            changed = false
            // Rule 2: per dimension, the union of suppressed groups holds 0 or >= k people.
            for dimension in dimensions.sorted() {
                while true {
                    let indexes = groups.indices.filter { groups[$0].dimension == dimension }
                    let suppressed = Set(indexes.filter { result[$0] != nil })
                    guard !suppressed.isEmpty else { break }
                    var union = Set<Int32>()
                    for index in suppressed {
                        union.formUnion(groups[index].members)
                        if union.count >= k { break }
                    }
                    guard !union.isEmpty, union.count < k else { break }
                    let published = indexes.filter { result[$0] == nil }
                    guard let smallest = published.min(by: { (sizes[$0], $0) < (sizes[$1], $1) }) else { break }
                    result[smallest] = .complementary
                    changed = true
                }
            }
            // Rule 3: published groups must differ from each other by 0 or >= k people.
            for a in groups.indices where result[a] == nil && groups[a].comparable {
                for b in groups.indices where b != a && groups[b].comparable && result[b] == nil && result[a] == nil {
                    let difference = sizes[a] + sizes[b] - 2 * intersection(a, b)
                    guard difference > 0, difference < k else { continue }
                    // Suppress the smaller (never the whole report when it can be avoided).
                    let victim = (groups[a].dimension == nil) ? b : (groups[b].dimension == nil) ? a : (sizes[a], a) <= (sizes[b], b) ? a : b
                    result[victim] = .overlap
                    changed = true
                }
            }
        }
        return result
    }
}
