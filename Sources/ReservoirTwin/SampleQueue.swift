/// A fixed-capacity FIFO of samples on preallocated storage: pushing and popping never
/// allocate, which keeps the twin usable inside the drive loop's no-allocation path.
struct SampleQueue<Element> {
    private let storage: UnsafeMutableBufferPointer<Element>
    private var head = 0
    private(set) var count = 0

    init(capacity: Int, filler: Element) {
        precondition(capacity > 0)
        storage = .allocate(capacity: capacity)
        storage.initialize(repeating: filler)
    }

    func deallocate() { storage.deallocate() }

    var capacity: Int { storage.count }
    var freeSpace: Int { storage.count - count }
    var isEmpty: Bool { count == 0 }

    @inline(__always)
    mutating func append(_ element: Element) {
        precondition(count < storage.count, "SampleQueue overflow")
        var tail = head + count
        if tail >= storage.count { tail -= storage.count }
        storage[tail] = element
        count += 1
    }

    @inline(__always)
    mutating func removeFirst() -> Element {
        precondition(count > 0, "SampleQueue underflow")
        let element = storage[head]
        head += 1
        if head == storage.count { head = 0 }
        count -= 1
        return element
    }

    mutating func removeAll() {
        head = 0
        count = 0
    }
}
