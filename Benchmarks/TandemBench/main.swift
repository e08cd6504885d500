import TandemWire
import Foundation

struct Skill: Codable, Equatable { var name: String; var level: Int; var years: Int? }
struct Profile: Codable, Equatable {
  var id: UUID; var personID: UUID; var programID: UUID; var displayName: String; var email: String
  var division: String; var jobTitle: String; var seniority: Int; var timeZone: String
  var languages: [String]; var skillsOffered: [Skill]; var skillsWanted: [Skill]
  var goals: String?; var topics: [String]; var capacity: Int?; var updatedAt: Date; var version: Int
}
let p = Profile(id: UUID(), personID: UUID(), programID: UUID(), displayName: "Amara Okafor", email: "amara.okafor@example.com", division: "Engineering", jobTitle: "Staff Engineer", seniority: 5, timeZone: "Europe/London", languages: ["en", "fr", "yo"], skillsOffered: [Skill(name: "distributed systems", level: 5, years: 9), Skill(name: "swift", level: 4, years: 6), Skill(name: "public speaking", level: 3, years: nil)], skillsWanted: [Skill(name: "people management", level: 2, years: nil)], goals: "Grow mentees into confident tech leads", topics: ["career", "architecture", "leadership"], capacity: 3, updatedAt: Date(timeIntervalSince1970: 1_790_000_000.25), version: 7)
let c = try CBOREncoder().encodeBytes(p)
let j = try JSONEncoder().encode(p)
print(c.count, j.count)
try! Data(c).write(to: URL(fileURLWithPath: "/tmp/p.cbor"))
print(try CBORValue(decoding: c))
let back = try CBORDecoder().decode(Profile.self, from: c)
print(back == p)
func time(_ name: String, _ n: Int, _ f: () throws -> Void) rethrows -> Double {
  for _ in 0..<1000 { try f() }
  let s = DispatchTime.now().uptimeNanoseconds
  for _ in 0..<n { try f() }
  let e = Double(DispatchTime.now().uptimeNanoseconds - s) / Double(n) / 1000
  print(name, String(format: "%.2f µs", e)); return e
}
let enc = CBOREncoder(); let dec = CBORDecoder(); let je = JSONEncoder(); let jd = JSONDecoder()
if CommandLine.arguments.count > 1 { if CommandLine.arguments[1] == "enc" { for _ in 0..<200000 { _ = try enc.encodeBytes(p) } } else { for _ in 0..<100000 { _ = try dec.decode(Profile.self, from: c) } }; exit(0) }
let a = try time("cbor encode", 100000) { _ = try enc.encodeBytes(p) }
let b = try time("json encode", 20000) { _ = try je.encode(p) }
let cc = try time("cbor decode", 100000) { _ = try dec.decode(Profile.self, from: c) }
let d = try time("json decode", 20000) { _ = try jd.decode(Profile.self, from: j) }
print("ratios", b/a, d/cc)
