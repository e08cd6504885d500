import Foundation
import Testing
@testable import SchedulingService

@Suite("Scheduling's input checks")
struct ValidationTests {
    @Test("A reason is trimmed exactly as Foundation trims white space and line breaks, Unicode's included")
    func trimming() {
        let samples = [
            "", " ", "\n", "no change", " lead", "trail ", "\tboth\r\n", "\u{00A0}no-break\u{00A0}", "\u{2028}line separator",
            "ideographic\u{3000}", "\u{0085}next line", "inner  spaces stay", "\u{200B}zero width is not white space\u{200B}",
            "é accent\u{0301} ", " \u{1F600} ", "\u{202F}\u{205F}\u{1680}mixed\u{2000}\u{200A}\u{2029}",
        ]
        for sample in samples {
            #expect(SchedulingValidation.trimmed(sample) == sample.trimmingCharacters(in: .whitespacesAndNewlines), "\(sample.debugDescription)")
        }
        // Every scalar of the Basic Multilingual Plane at either end, against Foundation.
        for value in 0...0xFFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            for text in [String(scalar) + "x", "x" + String(scalar)] {
                #expect(SchedulingValidation.trimmed(text) == text.trimmingCharacters(in: .whitespacesAndNewlines), "U+\(String(value, radix: 16))")
            }
        }
    }
}
