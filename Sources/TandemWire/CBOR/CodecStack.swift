/// Growable storage owned by one encode or decode call, kept in manually managed memory.
///
/// The codec's hot paths index this instead of an `Array` stored in a class, which would pay a
/// dynamic exclusivity check on every access (a third of the encoder's time when measured).
/// An instance never leaves the call that created it, so it is never shared between threads.
final class CodecStack<Element> {
    private struct Header {
        var base: UnsafeMutablePointer<Element>
        var count: Int
        var capacity: Int
    }

    private let header: UnsafeMutablePointer<Header>

    init(capacity: Int = 16) {
        let capacity = max(capacity, 4)
        header = .allocate(capacity: 1)
        header.initialize(to: Header(base: .allocate(capacity: capacity), count: 0, capacity: capacity))
    }

    deinit {
        header.pointee.base.deinitialize(count: header.pointee.count)
        header.pointee.base.deallocate()
        header.deinitialize(count: 1)
        header.deallocate()
    }

    @inline(__always)
    var count: Int { header.pointee.count }

    @inline(__always)
    var isEmpty: Bool { header.pointee.count == 0 }

    @inline(__always)
    func append(_ element: Element) {
        if header.pointee.count == header.pointee.capacity { grow() }
        (header.pointee.base + header.pointee.count).initialize(to: element)
        header.pointee.count &+= 1
    }

    @inline(__always)
    @discardableResult
    func removeLast() -> Element {
        precondition(header.pointee.count > 0)
        header.pointee.count &-= 1
        return (header.pointee.base + header.pointee.count).move()
    }

    @inline(__always)
    subscript(index: Int) -> Element {
        unsafeAddress {
            precondition(UInt(bitPattern: index) < UInt(bitPattern: header.pointee.count))
            return UnsafePointer(header.pointee.base + index)
        }
        unsafeMutableAddress {
            precondition(UInt(bitPattern: index) < UInt(bitPattern: header.pointee.count))
            return header.pointee.base + index
        }
    }

    /// The element at the top of the stack.
    @inline(__always)
    var last: Element {
        unsafeAddress {
            precondition(header.pointee.count > 0)
            return UnsafePointer(header.pointee.base + (header.pointee.count &- 1))
        }
        unsafeMutableAddress {
            precondition(header.pointee.count > 0)
            return header.pointee.base + (header.pointee.count &- 1)
        }
    }

    private func grow() {
        let newCapacity = header.pointee.capacity * 2
        let newBase = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        newBase.moveInitialize(from: header.pointee.base, count: header.pointee.count)
        header.pointee.base.deallocate()
        header.pointee.base = newBase
        header.pointee.capacity = newCapacity
    }
}

/// A single mutable value kept outside the owning class's stored properties, for the same
/// reason as `CodecStack`.
final class CodecCell<Value> {
    private let pointer: UnsafeMutablePointer<Value>

    init(_ value: Value) {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: value)
    }

    deinit {
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }

    @inline(__always)
    var value: Value {
        unsafeAddress { UnsafePointer(pointer) }
        unsafeMutableAddress { pointer }
    }
}
