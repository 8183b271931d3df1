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

    /// Prefixes of well-known credential formats, masked whatever the variable is called: AWS key
    /// ids, GitHub, GitLab, Slack, Hugging Face, OpenAI/Anthropic-style keys, PEM private keys.
    static let secretValuePrefixes = [
        "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xoxb-", "xoxp-", "xoxa-",
        "xoxr-", "xoxs-", "hf_", "sk-", "-----BEGIN",
    ]

    /// Whether a value looks like a credential by its form alone (`ghp_...`, `AKIA...`, `hf_...`).
    public static func looksLikeSecretValue(_ value: String) -> Bool {
        let trimmed = value.trimmingCharacters(in: " \t\"'")
        return secretValuePrefixes.contains { prefix in
            trimmed.hasPrefix(prefix) && trimmed.count >= prefix.count + 12
                && !trimmed.contains(" ") && !trimmed.contains("/")
        } || trimmed.hasPrefix("-----BEGIN")
    }

    /// A value as it may be recorded under a name: masked when the name or the value looks
    /// secret, with URL credentials stripped otherwise.
    public static func maskValue(_ value: String, name: String) -> String {
        if isSecretName(name) || looksLikeSecretValue(value) { return mask }
        // Lists of URLs (`PIP_INDEX_URL`, `HF_ENDPOINT`) and `KEY=VALUE` lists keep their shape.
        return value.split(separator: " ", omittingEmptySubsequences: false).map { maskURL(String($0)) }
            .joined(separator: " ")
    }

    /// A command line with secrets masked: values of secret-looking options (`--password=x`,
    /// `--token x`, `-p x` is kept), `KEY=VALUE` words with secret keys, credentials in URLs, and
    /// words that look like credentials by their form.
    public static func maskCommandLine(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var maskNext = false
        for argument in arguments {
            if maskNext {
                result.append(mask)
                maskNext = false
                continue
            }
            if argument.hasPrefix("-"), !argument.contains("=") {
                let name = String(argument.drop { $0 == "-" })
                if !name.isEmpty && isSecretName(name) { maskNext = true }
                result.append(argument)
                continue
            }
            if looksLikeSecretValue(argument) {
                result.append(mask)
            } else if argument.hasPrefix("-"), let equals = argument.firstIndex(of: "=") {
                let name = String(argument[..<equals].drop { $0 == "-" })
                let value = String(argument[argument.index(after: equals)...])
                result.append(String(argument[...equals]) + (isSecretName(name) ? mask : maskValue(value, name: name)))
            } else {
                result.append(maskAssignment(argument))
            }
        }
        return result
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
        if let equals = word.firstIndex(of: "="), !word[..<equals].contains("/") {
            let key = String(word[..<equals])
            let value = String(word[word.index(after: equals)...])
            if isSecretName(key) || looksLikeSecretValue(value) { return key + "=" + mask }
            return key + "=" + maskURL(value)
        }
        return looksLikeSecretValue(word) ? mask : maskURL(word)
    }
}
