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

    /// Prefixes of well-known credential formats: GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`,
    /// `github_pat_`), GitLab (`glpat-`, `gldt-`, `glptt-`, `glrt-`, `gloas-`, `glcbt-`), Hugging
    /// Face (`hf_`), Slack (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`), npm (`npm_`), PyPI
    /// (`pypi-`), OpenAI-style (`sk-`), Bitbucket (`ATBB`, `ATATT`), AWS access key ids (`AKIA`,
    /// `ASIA`).
    static let tokenPrefixes = [
        "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-", "glptt-", "glrt-", "gloas-",
        "glcbt-", "hf_", "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "npm_", "pypi-", "sk-", "ATBB", "ATATT",
        "AKIA", "ASIA",
    ]

    /// Whether a word looks like a credential on its own, whatever its name: a well-known token
    /// format (a prefix above, then at least 16 more characters with a digit among them), a JSON Web Token (`eyJ….eyJ….…`),
    /// or a long random-looking word (32 or more letters, digits, `_` and `-`, mixing upper case,
    /// lower case and digits; a hex commit id, lower case only, is not one).
    public static func looksLikeToken(_ word: some StringProtocol) -> Bool {
        let isTokenCharacter: (Character) -> Bool = {
            $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-")
        }
        if word.hasPrefix("eyJ") {
            let parts = word.split(separator: ".", omittingEmptySubsequences: false)
            if parts.count == 3, parts[1].hasPrefix("eyJ"), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(isTokenCharacter) }) {
                return true
            }
        }
        guard word.allSatisfy(isTokenCharacter) else { return false }
        if let prefix = tokenPrefixes.first(where: { word.hasPrefix($0) }), word.count >= prefix.count + 16,
           word.dropFirst(prefix.count).contains(where: \.isNumber)
        {
            return true
        }
        return word.count >= 32 && word.contains(where: \.isUppercase) && word.contains(where: \.isLowercase)
            && word.contains(where: \.isNumber)
    }

    /// Whether a value looks like a credential by its form alone (`ghp_...`, `AKIA...`, `hf_...`).
    public static func looksLikeSecretValue(_ value: String) -> Bool {
        let trimmed = value.trimmingCharacters(in: " \t\"'")
        return tokenPrefixes.contains { prefix in
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

    /// A URL with its credentials masked: any userinfo (`user:password@`, `TOKEN@`) replaced by the
    /// mask (an `ssh://` URL keeps its user, an ssh login, and loses only a password), secret-looking query parameters, and path segments, query values or a fragment that
    /// look like tokens (`looksLikeToken`). An scp-like git address `user@host:path` keeps its
    /// user (an ssh login, not a secret) but loses a password (`user:password@host:path`) and
    /// token-looking path segments. Other text comes back unchanged.
    public static func maskURL(_ text: String) -> String {
        guard let schemeEnd = text.firstRange(of: "://") else { return maskSCPAddress(text) }
        let afterScheme = text[schemeEnd.upperBound...]
        let isAuthorityEnd: (Character) -> Bool = { $0 == "/" || $0 == "?" || $0 == "#" }
        let authorityEnd = afterScheme.firstIndex(where: isAuthorityEnd) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        var result = String(text[..<schemeEnd.upperBound])
        if let at = authority.lastIndex(of: "@") {
            let scheme = text[..<schemeEnd.lowerBound].lowercased()
            if ["ssh", "git+ssh", "ssh+git"].contains(scheme) {
                result += maskSSHUser(authority[..<at])
            } else {
                result += mask
            }
            result += "@" + authority[authority.index(after: at)...]
        } else {
            result += authority
        }
        let rest = afterScheme[authorityEnd...]
        let fragmentStart = rest.firstIndex(of: "#") ?? rest.endIndex
        let queryStart = rest[..<fragmentStart].firstIndex(of: "?") ?? fragmentStart
        result += maskPath(rest[..<queryStart])
        if queryStart < fragmentStart {
            let query = rest[rest.index(after: queryStart)..<fragmentStart]
            let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
                guard let equals = pair.firstIndex(of: "=") else { return looksLikeToken(pair) ? mask : String(pair) }
                let key = String(pair[..<equals])
                let value = pair[pair.index(after: equals)...]
                return isSecretName(key) || looksLikeToken(value) ? key + "=" + mask : String(pair)
            }
            result += "?" + pairs.joined(separator: "&")
        }
        if fragmentStart < rest.endIndex {
            let fragment = rest[rest.index(after: fragmentStart)...]
            result += "#" + (looksLikeToken(fragment) ? mask : String(fragment))
        }
        return result
    }

    /// `/`-separated segments with token-looking ones masked.
    private static func maskPath(_ path: Substring) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false)
            .map { looksLikeToken($0) ? mask : String($0) }
            .joined(separator: "/")
    }

    /// git's scp-like address, `[user@]host:path` (no `/` before the `:`), masked as `maskURL`
    /// describes; anything else unchanged.
    private static func maskSCPAddress(_ text: String) -> String {
        guard let colon = text.firstIndex(of: ":"), !text[..<colon].contains("/"),
              let at = text[..<colon].lastIndex(of: "@") ?? text[colon...].firstIndex(of: "@")
        else { return text }
        // With a password the first ':' is inside the user part: user:password@host:path.
        let user = text[..<at]
        let afterAt = text[text.index(after: at)...]
        guard let hostEnd = afterAt.firstIndex(of: ":"), !afterAt[..<hostEnd].contains("/"), !afterAt[..<hostEnd].isEmpty
        else { return text }
        let host = afterAt[..<hostEnd]
        let path = afterAt[afterAt.index(after: hostEnd)...]
        if user.contains("/") || user.contains(" ") { return text }
        return maskSSHUser(user) + "@" + host + ":" + maskPath(path)
    }

    /// An ssh login kept, a password after it masked (`user:password` → `user:[masked]`), a
    /// token-looking user masked.
    private static func maskSSHUser(_ user: Substring) -> String {
        if let colon = user.firstIndex(of: ":") { return String(user[..<colon]) + ":" + mask }
        return looksLikeToken(user) ? mask : String(user)
    }

    /// The parts of `raw` that masking replaced to give `masked` (`https://user:pw@host` and
    /// `https://[masked]@host` give `user:pw`): what must never be written anywhere else either.
    /// Empty when `masked` is not a masking of `raw`.
    public static func maskedParts(raw: String, masked: String) -> [String] {
        guard raw != masked else { return [] }
        let kept = masked.split(separator: mask, omittingEmptySubsequences: false).map(String.init)
        guard kept.count > 1 else { return [raw] }
        var parts: [String] = []
        guard raw.hasPrefix(kept[0]) else { return [raw] }
        var rest = raw.dropFirst(kept[0].count)
        for (index, piece) in kept.enumerated().dropFirst() {
            let isLast = index == kept.count - 1
            if isLast {
                guard rest.hasSuffix(piece) else { return [raw] }
                parts.append(String(rest.dropLast(piece.count)))
            } else {
                guard !piece.isEmpty, let range = rest.firstRange(of: piece) else { return [raw] }
                parts.append(String(rest[..<range.lowerBound]))
                rest = rest[range.upperBound...]
            }
        }
        return parts.filter { !$0.isEmpty && $0 != mask }
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
