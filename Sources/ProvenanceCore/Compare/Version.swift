/// Version strings compared the way people read them: `12.2` < `12.10`, `535.104.05` > `535.86`,
/// `2.39-0ubuntu8` compares by its numeric runs first (`2`, `39`, `0`, `8`).
public struct Version: Comparable, Sendable, CustomStringConvertible {
    public let text: String
    /// The numeric components, in order (`"11.8.89"` → `[11, 8, 89]`).
    public let numbers: [Int]

    /// Nil when the text has no digits at all.
    public init?(_ text: String) {
        var numbers: [Int] = []
        var current: Int?
        for character in text {
            if let digit = character.wholeNumberValue, character.isASCII {
                current = (current ?? 0) &* 10 &+ digit
            } else if let value = current {
                numbers.append(value)
                current = nil
            }
        }
        if let value = current { numbers.append(value) }
        guard !numbers.isEmpty else { return nil }
        self.text = text
        self.numbers = numbers
    }

    public var major: Int { numbers[0] }
    public var minor: Int { numbers.count > 1 ? numbers[1] : 0 }
    public var description: String { text }

    public static func < (a: Version, b: Version) -> Bool {
        for index in 0..<max(a.numbers.count, b.numbers.count) {
            let x = index < a.numbers.count ? a.numbers[index] : 0
            let y = index < b.numbers.count ? b.numbers[index] : 0
            if x != y { return x < y }
        }
        return false
    }

    public static func == (a: Version, b: Version) -> Bool { !(a < b) && !(b < a) }
}
