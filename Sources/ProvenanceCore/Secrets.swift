/// Recognising and masking secrets before they reach a manifest.
public enum Secrets {
    /// What a masked value is replaced with.
    public static let mask = "[masked]"

    /// Name fragments that mark a value as secret (matched case-insensitively, as whole words of
    /// a `_`, `-`, `.` separated name, or as a suffix such as `APIKEY`).
    static let secretWords: Set<String> = [
        "password", "passwd", "pass", "secret", "token", "apikey", "credential", "credentials",
        "auth", "authorization", "cookie", "session", "private", "privatekey", "key", "sig", "signature",
        "dsn", "bearer",
    ]

    /// Whether a variable, option or parameter name looks like it holds a secret
    /// (`AWS_SECRET_ACCESS_KEY`, `GITHUB_TOKEN`, `--password`, `api-key`, `db.pass`).
    public static func isSecretName(_ name: String) -> Bool {
        let lowered = name.lowercased()
        let words = lowered.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        if words.contains(where: secretWords.contains) { return true }
        let squashed = words.joined()
        return ["password", "passwd", "secret", "token", "apikey", "privatekey", "credential"].contains {
            squashed.contains($0)
        }
    }

    /// A URL with any userinfo (`user:password@`) replaced by the mask, and secret-looking query
    /// parameters masked. Text that is not a URL comes back unchanged.
    public static func maskURL(_ text: String) -> String {
        guard let schemeEnd = text.firstRange(of: "://") else { return text }
        let afterScheme = text[schemeEnd.upperBound...]
        let isAuthorityEnd: (Character) -> Bool = { $0 == "/" || $0 == "?" || $0 == "#" }
        let authorityEnd = afterScheme.firstIndex(where: isAuthorityEnd) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        var result = String(text[..<schemeEnd.upperBound])
        if let at = authority.lastIndex(of: "@") {
            result += mask + "@"
            result += authority[authority.index(after: at)...]
        } else {
            result += authority
        }
        var rest = String(afterScheme[authorityEnd...])
        if let question = rest.firstIndex(of: "?") {
            let fragmentStart = rest[question...].firstIndex(of: "#") ?? rest.endIndex
            let query = rest[rest.index(after: question)..<fragmentStart]
            let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
                guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
                let key = String(pair[..<equals])
                return isSecretName(key) ? key + "=" + mask : String(pair)
            }
            let masked = pairs.joined(separator: "&")
            rest = String(rest[..<question]) + "?" + masked + String(rest[fragmentStart...])
        }
        return result + rest
    }

    /// A `KEY=VALUE` word with the value masked when the key looks secret, and URLs inside masked.
    public static func maskAssignment(_ word: String) -> String {
        if let equals = word.firstIndex(of: "=") {
            let key = String(word[..<equals])
            if isSecretName(key) { return key + "=" + mask }
            return key + "=" + maskURL(String(word[word.index(after: equals)...]))
        }
        return maskURL(word)
    }
}
