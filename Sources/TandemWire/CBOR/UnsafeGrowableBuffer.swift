/// Growable storage in manually managed memory, used by the codec's per-call state.
///
/// The state keeps these inside one block it allocates itself and reaches through a pointer:
/// unlike arrays stored in a class, that costs no dynamic exclusivity check per access (those
/// checks were a third of the encoder's time when measured) and no extra allocations.
/// The owner calls `deallocate()` exactly once.
struct UnsafeGrowableBuffer<Element> {
    private(set) var base: UnsafeMutablePointer<Element>?
    private(set) var count = 0
    private var capacity = 0

    init() {}

    @inline(__always)
    var isEmpty: Bool { count == 0 }

    @inline(__always)
    mutating func append(_ element: Element) {
        if count == capacity { grow() }
        (base! + count).initialize(to: element)
        count &+= 1
    }

    @inline(__always)
    @discardableResult
    mutating func removeLast() -> Element {
        precondition(count > 0)
        count &-= 1
        return (base! + count).move()
    }

    @inline(__always)
    subscript(index: Int) -> Element {
        unsafeAddress {
            precondition(UInt(bitPattern: index) < UInt(bitPattern: count))
            return UnsafePointer(base! + index)
        }
        mutating unsafeMutableAddress {
            precondition(UInt(bitPattern: index) < UInt(bitPattern: count))
            return base! + index
        }
    }

    /// The element at the end.
    @inline(__always)
    var last: Element {
        unsafeAddress {
            precondition(count > 0)
            return UnsafePointer(base! + (count &- 1))
        }
        mutating unsafeMutableAddress {
            precondition(count > 0)
            return base! + (count &- 1)
        }
    }

    private mutating func grow() {
        let newCapacity = max(capacity * 2, 16)
        let newBase = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        if let base {
            newBase.moveInitialize(from: base, count: count)
            base.deallocate()
        }
        base = newBase
        capacity = newCapacity
    }

    mutating func deallocate() {
        if let base {
            base.deinitialize(count: count)
            base.deallocate()
        }
        base = nil
        count = 0
        capacity = 0
    }
}
