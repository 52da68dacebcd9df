/// A dictionary of at most `capacity` entries that evicts the least recently used one: O(1) lookup, insert and
/// eviction, as a doubly linked list threaded through an array of nodes.
struct LeastRecentlyUsed<Key: Hashable, Value> {
    private struct Node {
        var key: Key
        var value: Value?
        var older: Int?
        var newer: Int?
    }

    private var nodes: [Node] = []
    private var index: [Key: Int] = [:]
    private var free: [Int] = []
    private var newest: Int?
    private var oldest: Int?
    /// The most entries held; 0 holds nothing.
    let capacity: Int

    /// An empty cache of at most `capacity` entries.
    init(capacity: Int) { self.capacity = max(0, capacity) }

    /// The number of entries.
    var count: Int { index.count }

    /// The value for `key`, which becomes the most recently used.
    subscript(key: Key) -> Value? {
        mutating get {
            guard let slot = index[key] else { return nil }
            moveToNewest(slot)
            return nodes[slot].value
        }
    }

    /// The value for `key`, leaving the order alone.
    func peek(_ key: Key) -> Value? { index[key].flatMap { nodes[$0].value } }

    /// Sets `value` for `key` as the most recently used; returns the values it replaced or evicted (at most two).
    @discardableResult
    mutating func set(_ value: Value, forKey key: Key) -> [Value] {
        guard capacity > 0 else { return [value] }
        if let slot = index[key] {
            let old = nodes[slot].value
            nodes[slot].value = value
            moveToNewest(slot)
            return old.map { [$0] } ?? []
        }
        var released: [Value] = []
        if index.count >= capacity, let victim = oldest, let value = removeValue(forKey: nodes[victim].key) {
            released.append(value)
        }
        let node = Node(key: key, value: value, older: newest, newer: nil)
        let slot: Int
        if let reused = free.popLast() {
            nodes[reused] = node
            slot = reused
        } else {
            nodes.append(node)
            slot = nodes.count - 1
        }
        if let newest { nodes[newest].newer = slot }
        newest = slot
        if oldest == nil { oldest = slot }
        index[key] = slot
        return released
    }

    /// Removes `key`; returns its value.
    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        guard let slot = index.removeValue(forKey: key) else { return nil }
        unlink(slot)
        let value = nodes[slot].value
        nodes[slot].value = nil
        free.append(slot)
        return value
    }

    /// The keys from the least to the most recently used.
    var keysFromOldest: [Key] {
        var keys: [Key] = []
        var cursor = oldest
        while let slot = cursor {
            keys.append(nodes[slot].key)
            cursor = nodes[slot].newer
        }
        return keys
    }

    private mutating func moveToNewest(_ slot: Int) {
        guard newest != slot else { return }
        unlink(slot)
        nodes[slot].older = newest
        nodes[slot].newer = nil
        if let newest { nodes[newest].newer = slot }
        newest = slot
        if oldest == nil { oldest = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let (older, newer) = (nodes[slot].older, nodes[slot].newer)
        if let older { nodes[older].newer = newer } else { oldest = newer }
        if let newer { nodes[newer].older = older } else { newest = older }
        nodes[slot].older = nil
        nodes[slot].newer = nil
    }
}
