import CTandemMallocCounter
import Foundation

/// Time and allocations per operation of one measured closure.
struct Measurement {
    var nanosecondsPerOperation: Double
    var allocationsPerOperation: Double

    var microseconds: Double { nanosecondsPerOperation / 1000 }
}

/// Runs `body` in a loop for about `duration` seconds per round, `rounds` times, and returns the
/// median round. Allocations are counted by the malloc interposer linked into this program.
func measure(rounds: Int, duration: Double, _ body: () throws -> Void) rethrows -> Measurement {
    // Warm up, and find how many iterations fill one round.
    var iterations = 16
    while true {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations { try body() }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if elapsed > duration / 4 {
            iterations = max(16, Int(Double(iterations) * duration / elapsed))
            break
        }
        iterations *= 2
    }
    var results: [Measurement] = []
    for _ in 0..<rounds {
        let allocationsBefore = tandem_allocation_count()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations { try body() }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        let allocations = tandem_allocation_count() - allocationsBefore
        results.append(Measurement(
            nanosecondsPerOperation: Double(elapsed) / Double(iterations),
            allocationsPerOperation: Double(allocations) / Double(iterations)
        ))
    }
    results.sort { $0.nanosecondsPerOperation < $1.nanosecondsPerOperation }
    return results[results.count / 2]
}

/// Measures `a` and `b` alternately, round after round, so both see the same machine
/// conditions (this VM's speed drifts by tens of percent over seconds); returns the median
/// round of each and the median of the per-round ratios b/a.
func measurePair(rounds: Int, duration: Double, _ a: () throws -> Void, _ b: () throws -> Void) rethrows -> (a: Measurement, b: Measurement, ratio: Double) {
    var first: [Measurement] = []
    var second: [Measurement] = []
    var ratios: [Double] = []
    // Warm both up once.
    _ = try measure(rounds: 1, duration: duration / 3, a)
    _ = try measure(rounds: 1, duration: duration / 3, b)
    for _ in 0..<rounds {
        let x = try measure(rounds: 1, duration: duration, a)
        let y = try measure(rounds: 1, duration: duration, b)
        first.append(x)
        second.append(y)
        ratios.append(y.nanosecondsPerOperation / x.nanosecondsPerOperation)
    }
    func median(_ values: [Measurement]) -> Measurement {
        values.sorted { $0.nanosecondsPerOperation < $1.nanosecondsPerOperation }[values.count / 2]
    }
    return (median(first), median(second), ratios.sorted()[ratios.count / 2])
}

/// Keeps the optimizer from discarding a benchmarked result.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return right ? padding + text : text + padding
}

func format(_ value: Double, _ digits: Int = 2) -> String {
    String(format: "%.\(digits)f", value)
}
