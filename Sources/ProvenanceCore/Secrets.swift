/// Recognising and masking secrets before they reach a manifest.
public enum Secrets {
    /// What a masked value is replaced with.
    public static let mask = "[masked]"

    /// Name fragments that mark a value as secret (matched case-insensitively, as whole words of
    /// a `_`, `-`, `.` separated name, or as a suffix such as `APIKEY`).
    static let secretWords: Set<String> = [
        "password", "passwd", "pass", "secret", "token", "apikey", "credential", "credentials",
        "auth", "authorization", "cookie", "session", "private", "privatekey", "key", "sig", "signature",
        "dsn", "bearer", "passphrase", "sshpass", "jwt", "webhook", "pat", "accountkey", "sas", "otp", "pin",
    ]

    /// Squashed name fragments that mark a name as secret wherever they occur
    /// (`MYSQL_PWD` is caught by `pwd` below, `GPG_PASSPHRASE`, `SSHPASS`, `dbpassword`).
    static let secretFragments = [
        "password", "passwd", "passphrase", "sshpass", "secret", "token", "apikey", "privatekey", "credential",
        "accountkey", "webhook",
    ]

    /// Whether a variable, option or parameter name looks like it holds a secret
    /// (`AWS_SECRET_ACCESS_KEY`, `GITHUB_TOKEN`, `--password`, `api-key`, `db.pass`).
    public static func isSecretName(_ name: String) -> Bool {
        // Names are ASCII almost always: the same rules on bytes. The String version below costs
        // about 1 ms of a capture's CPU (the environment and the kernel command line: generic
        // substring search of the standard library's string processing).
        var bytes = Array(name.utf8)
        if bytes.allSatisfy({ $0 < 0x80 }) { return isSecretName(asciiBytes: &bytes) }
        return isSecretNameByCharacters(name)
    }

    /// `isSecretName` on `Character`s (any name; the rules' definition, which the ASCII path must
    /// agree with).
    static func isSecretNameByCharacters(_ name: String) -> Bool {
        let lowered = name.lowercased()
        let words = lowered.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        if words.contains(where: secretWords.contains) { return true }
        // `PWD` alone is the working directory; `MYSQL_PWD`, `db_pwd`, `DBPWD` are passwords.
        if words.count > 1, words.contains(where: { $0.hasSuffix("pwd") && $0 != "oldpwd" }) { return true }
        if words.count == 1, lowered.hasSuffix("pwd"), lowered != "pwd", lowered != "oldpwd" { return true }
        // `TOKENIZERS_PARALLELISM` (a default of the allow-list) names no token.
        let squashed = words.joined().replacing("tokenizer", with: "")
        return secretFragments.contains { squashed.contains($0) }
    }

    /// `isSecretName` for an ASCII name: the same rules, on bytes.
    private static func isSecretName(asciiBytes lowered: inout [UInt8]) -> Bool {
        for index in lowered.indices where lowered[index] >= 65 && lowered[index] <= 90 { lowered[index] += 32 }
        func isWordByte(_ byte: UInt8) -> Bool { (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) }
        let words = lowered.split(whereSeparator: { !isWordByte($0) })
        if words.contains(where: { secretWordBytes.contains(Array($0)) }) { return true }
        let pwd = Array("pwd".utf8)
        let oldpwd = Array("oldpwd".utf8)
        if words.count > 1, words.contains(where: { $0.reversed().starts(with: pwd.reversed()) && !$0.elementsEqual(oldpwd) }) {
            return true
        }
        if words.count == 1, lowered.reversed().starts(with: pwd.reversed()), lowered != pwd, lowered != oldpwd {
            return true
        }
        // Words joined, every "tokenizer" removed (left to right, as `replacing` does).
        let joined = Array(words.joined())
        let tokenizer = Array("tokenizer".utf8)
        var squashed: [UInt8] = []
        squashed.reserveCapacity(joined.count)
        var at = 0
        while at < joined.count {
            if joined[at...].starts(with: tokenizer) {
                at += tokenizer.count
            } else {
                squashed.append(joined[at])
                at += 1
            }
        }
        return secretFragmentBytes.contains { fragment in
            fragment.count <= squashed.count
                && (0...(squashed.count - fragment.count)).contains { squashed[$0...].starts(with: fragment) }
        }
    }

    private static let secretWordBytes = Set(secretWords.map { Array($0.utf8) })
    private static let secretFragmentBytes = secretFragments.map { Array($0.utf8) }

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

    /// A well-known token format with a shorter tail than `looksLikeToken` asks for: a prefix
    /// then 12 or more token characters mixing letters with digits or both cases (`hf_…` tokens
    /// may have no digit); AWS key ids exactly as issued (20 upper-case letters and digits).
    static func hasTokenForm(_ word: String) -> Bool {
        guard word.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else { return false }
        if word.hasPrefix("AKIA") || word.hasPrefix("ASIA") {
            return word.count == 20 && word.allSatisfy { $0.isUppercase || $0.isNumber } && word.contains(where: \.isNumber)
        }
        guard let prefix = tokenPrefixes.first(where: { word.hasPrefix($0) }), word.count >= prefix.count + 12 else {
            return false
        }
        let tail = word.dropFirst(prefix.count)
        return tail.contains(where: \.isNumber) || (tail.contains(where: \.isUppercase) && tail.contains(where: \.isLowercase))
    }

    /// Whether a value looks like a credential by its form alone (`ghp_...`, `AKIA...`, `hf_...`).
    public static func looksLikeSecretValue(_ value: String) -> Bool {
        let trimmed = value.trimmingCharacters(in: " \t\"'")
        return tokenPrefixes.contains { prefix in
            trimmed.hasPrefix(prefix) && trimmed.count >= prefix.count + 12
                && !trimmed.contains(" ") && !trimmed.contains("/")
        } || trimmed.hasPrefix("-----BEGIN") || containsSecret(value)
    }

    /// Whether a longer text carries a credential somewhere inside: a `NAME=value` or
    /// `NAME: value` pair with a secret-looking name (`password=…` in a DSN, `AccountKey=…` in an
    /// Azure connection string, `Authorization: …` in a header), an `Authorization` scheme word
    /// (`Bearer …`, `Basic …`, `Token …`), a private key block, or a word that looks like a
    /// credential by its form (`looksLikeToken`: JWTs, `hf_…`, `ghp_…` inside other text).
    /// URLs are not judged here (their user info is masked by `maskURL`, keeping their shape).
    public static func containsSecret(_ text: String) -> Bool {
        if text.contains("-----BEGIN") { return true }
        let words = text.split(whereSeparator: { wordSeparators.contains($0) })
        var previous: Substring = ""
        for word in words {
            defer { previous = word }
            let lowered = previous.lowercased()
            if schemeWords.contains(lowered) { return true }
            // `Name: value` (a header, possibly after `--header=`) and `--secret-option value`.
            if previous.hasSuffix(":") {
                let name = previous.dropLast().split(separator: "=").last ?? ""
                if !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }),
                   isSecretName(String(name))
                {
                    return true
                }
            }
            if previous.hasPrefix("-"), !previous.contains("="), previous.count > 1,
               isSecretName(String(previous.drop(while: { $0 == "-" })))
            {
                return true
            }
            if word.contains("://") { continue }
            if let separator = word.firstIndex(where: { $0 == "=" || $0 == ":" }) {
                let key = word[..<separator]
                let value = word[word.index(after: separator)...]
                let nameLike = key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }
                // `PWD=` inside a connection string is ODBC's password, not a directory.
                if nameLike, !key.isEmpty, !value.isEmpty,
                   isSecretName(String(key.drop(while: { $0 == "-" }))) || key.lowercased() == "pwd"
                {
                    return true
                }
            }
            // Pieces of the word between the characters a token never holds (`x=hf_…`, `a/ghp_…`).
            let pieces = word.split(whereSeparator: { !($0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0))) })
            for piece in pieces {
                if looksLikeToken(piece) || hasTokenForm(piece.trimmingCharacters(in: ".")) { return true }
            }
        }
        return false
    }

    /// What separates the words `containsSecret` judges: characters that never occur in a token.
    /// (Made once: built on every call, the sets were about a fifth of the kernel command line's
    /// check.)
    private static let wordSeparators: Set<Character> = [" ", "\t", "\n", "\r", ";", ",", "&", "\"", "'", "(", ")", "<", ">",
                                                         "{", "}", "[", "]", "|", "`", "\\", "!"]
    /// Words after which the next word is a credential (`Authorization: Bearer …`), lower case.
    private static let schemeWords: Set<String> = ["bearer", "basic", "token", "authorization:", "digest", "apikey"]

    /// A value as it may be recorded under a name: masked when the name or the value looks
    /// secret, with URL credentials stripped otherwise.
    public static func maskValue(_ value: String, name: String) -> String {
        maskValue(value, secretName: isSecretName(name))
    }

    /// `maskValue(_:name:)` with the name already judged (`isSecretName`).
    static func maskValue(_ value: String, secretName: Bool) -> String {
        if secretName { return mask }
        if isPlainWord(value) { return value }
        return maskValueByForm(value)
    }

    /// The value masked by its form alone (`isPlainWord` tells the words this leaves alone
    /// without running it).
    static func maskValueByForm(_ value: String) -> String {
        if looksLikeSecretValue(value) { return mask }
        // Lists of URLs (`PIP_INDEX_URL`, `HF_ENDPOINT`) and `KEY=VALUE` lists keep their shape.
        return value.split(separator: " ", omittingEmptySubsequences: false).map { maskURL(String($0)) }
            .joined(separator: " ")
    }

    /// Tools whose password follows `-p` attached (`mysql -phunter2`); `sshpass -p X` and
    /// `redis-cli -a X` take it as the next word, `curl -u user:pass` too.
    static let attachedPasswordTools: Set<String> = [
        "mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlshow", "mysqlcheck", "mariadb", "mariadb-dump",
        "mariadb-admin", "sshpass",
    ]
    static let passwordOptionsByTool: [String: Set<String>] = [
        "sshpass": ["-p"], "redis-cli": ["-a"], "curl": ["-u", "--user", "--oauth2-bearer"],
        "smbclient": ["-U"],
    ]

    /// A command line with secrets masked: values of secret-looking options (`--password=x`,
    /// `--token x`, `-p x` is kept), passwords of known tools (`mysql -phunter2`, `sshpass -p x`,
    /// `curl -u user:pass`, `-H 'Authorization: Bearer …'`), `KEY=VALUE` words with secret keys,
    /// credentials in URLs (webhooks included), words that look like credentials by their form
    /// (JWTs, `hf_…`), and the same inside words that hold a shell command (`bash -c '… --token x'`).
    public static func maskCommandLine(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var maskNext = false
        var tool = ""
        for argument in arguments {
            if maskNext {
                result.append(mask)
                maskNext = false
                continue
            }
            // A word that starts a command (the first, or one after `env`, `sudo`, `bash -c`).
            let base = argument.split(separator: "/").last.map(String.init) ?? argument
            if result.isEmpty || attachedPasswordTools.contains(base) || passwordOptionsByTool[base] != nil {
                if !argument.hasPrefix("-") { tool = base }
            }
            if argument.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
                // A shell command in one word: mask its words the same way.
                let words = argument.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
                var masked = maskCommandLine(words).joined(separator: " ")
                if masked == words.joined(separator: " ") && containsSecret(argument) { masked = mask }
                result.append(masked)
                continue
            }
            if argument.hasPrefix("-"), !argument.hasPrefix("--"), argument.count > 2, argument.dropFirst(2).first != "=",
               attachedPasswordTools.contains(tool), argument.hasPrefix("-p")
            {
                result.append("-p" + mask)
                continue
            }
            if let options = passwordOptionsByTool[tool], options.contains(argument) {
                maskNext = true
                result.append(argument)
                continue
            }
            if argument.hasPrefix("-"), !argument.contains("=") {
                let name = String(argument.drop { $0 == "-" })
                if !name.isEmpty && isSecretName(name) { maskNext = true }
                result.append(argument)
                continue
            }
            if argument.contains("://") {
                if let equals = argument.firstIndex(of: "="), argument.hasPrefix("-") || !argument[..<equals].contains("/") {
                    let name = String(argument[..<equals].drop { $0 == "-" })
                    result.append(String(argument[...equals])
                        + (isSecretName(name) ? mask : maskURL(String(argument[argument.index(after: equals)...]))))
                } else {
                    result.append(maskURL(argument))
                }
            } else if looksLikeSecretValue(argument) && !argument.contains("=") {
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
        var authorityEnd = afterScheme.firstIndex(where: isAuthorityEnd) ?? afterScheme.endIndex
        // A password with an unencoded `/`, `?` or `#` (`https://u:pa/ss@host/`): a `:` that
        // does not start a port, then an `@` later on: the user info runs to the last `@`.
        if !afterScheme[..<authorityEnd].contains("@"), let colon = afterScheme[..<authorityEnd].firstIndex(of: ":"),
           let lastAt = afterScheme.lastIndex(of: "@"), lastAt > authorityEnd
        {
            let port = afterScheme[afterScheme.index(after: colon)..<authorityEnd]
            if port.isEmpty || !port.allSatisfy(\.isNumber) {
                let afterAt = afterScheme[afterScheme.index(after: lastAt)...]
                authorityEnd = afterAt.firstIndex(where: isAuthorityEnd) ?? afterScheme.endIndex
            }
        }
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
        let host = (authority.lastIndex(of: "@").map { authority[authority.index(after: $0)...] } ?? authority).lowercased()
        if webhookHosts.contains(where: { host == $0 || host.hasSuffix("." + $0) }),
           rest.hasPrefix("/services/") || rest.hasPrefix("/api/webhooks/") || rest.hasPrefix("/workflows/")
        {
            // The path of a webhook URL is its credential (Slack, Discord, Office 365).
            return result + "/" + mask
        }
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
    /// Segments after `t` are anaconda.org / conda channel tokens (`/t/<token>/channel`).
    private static func maskPath(_ path: Substring) -> String {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return segments.indices.map { index in
            let segment = segments[index]
            if index > 0, segments[index - 1] == "t", !segment.isEmpty { return mask }
            return looksLikeToken(segment) || hasTokenForm(String(segment)) ? mask : String(segment)
        }.joined(separator: "/")
    }

    /// Hosts whose webhook URLs carry their credential in the path.
    static let webhookHosts = ["hooks.slack.com", "discord.com", "discordapp.com", "webhook.office.com", "hooks.zapier.com"]

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
    ///
    /// A plain value (`isPlainWord`: one that `looksLikeSecretValue` and `maskURL` leave alone)
    /// is kept without running them: most of a kernel command line (`quiet`, `console=ttyS0`),
    /// whose full check was 1.8% of a capture's CPU. `maskAssignmentByRules` is the reference.
    public static func maskAssignment(_ word: String) -> String {
        if let equals = word.firstIndex(of: "="), !word[..<equals].contains("/") {
            let key = String(word[..<equals])
            if isSecretName(key) { return key + "=" + mask }
            let value = String(word[word.index(after: equals)...])
            if isPlainWord(value) { return word }
            return key + "=" + (looksLikeSecretValue(value) ? mask : maskURL(value))
        }
        if isPlainWord(word) { return word }
        return looksLikeSecretValue(word) ? mask : maskURL(word)
    }

    /// `maskAssignment` by the full rules alone, for every word: what the fast path is tested against.
    static func maskAssignmentByRules(_ word: String) -> String {
        if let equals = word.firstIndex(of: "="), !word[..<equals].contains("/") {
            let key = String(word[..<equals])
            let value = String(word[word.index(after: equals)...])
            if isSecretName(key) || looksLikeSecretValue(value) { return key + "=" + mask }
            return key + "=" + maskURL(value)
        }
        return looksLikeSecretValue(word) ? mask : maskURL(word)
    }

    /// A JSON value with every string masked as `maskValue(_:name:)` says, object members under
    /// their own names (pass `""` as `name` to judge values by their form only).
    public static func maskJSON(_ value: JSONValue, name: String) -> JSONValue {
        var judged: [String: Bool] = [:]
        return maskJSON(value, name: name, judged: &judged) ?? value
    }

    /// The masked value, or nil when masking changes nothing (so diffs of 500,000 package records
    /// copy no dictionaries). `judged` keeps `isSecretName` per name: the same few keys recur.
    private static func maskJSON(_ value: JSONValue, name: String, judged: inout [String: Bool]) -> JSONValue? {
        switch value {
        case .string(let text):
            let secretName: Bool
            if name.isEmpty {
                secretName = false
            } else if let known = judged[name] {
                secretName = known
            } else {
                secretName = isSecretName(name)
                judged[name] = secretName
            }
            let masked = maskValue(text, secretName: secretName)
            return masked == text ? nil : .string(masked)
        case .array(var items):
            var changed = false
            for index in items.indices {
                if let masked = maskJSON(items[index], name: name, judged: &judged) {
                    items[index] = masked
                    changed = true
                }
            }
            return changed ? .array(items) : nil
        case .object(var members):
            var changed = false
            for (key, member) in members {
                if let masked = maskJSON(member, name: name.isEmpty ? "" : key, judged: &judged) {
                    members[key] = masked
                    changed = true
                }
            }
            return changed ? .object(members) : nil
        default:
            return nil
        }
    }

    /// Whether a value is one word that no rule of `looksLikeSecretValue` or `maskURL` can touch,
    /// decided on its bytes: ASCII letters, digits, `.`, `_` and `-` only (no separator, `=`, `:`,
    /// `/` or `@`, so one word, no assignment, header, option or URL), not starting (after leading
    /// dots) with a token prefix or `eyJ`, without `-----`, and not a long word mixing upper case,
    /// lower case and digits. Package names and versions are such words: the full check took 20 µs per value
    /// (90% of a diff of two 45 MB manifests), this one well under 1 µs.
    static func isPlainWord(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { bytes -> Bool in
            var upper = false, lower = false, digit = false
            var dashes = 0
            for byte in bytes {
                if byte == UInt8(ascii: "-") {
                    // `-----BEGIN` anywhere is a private key block.
                    dashes += 1
                    if dashes == 5 { return false }
                    continue
                }
                dashes = 0
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"): lower = true
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): upper = true
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = true
                case UInt8(ascii: "."), UInt8(ascii: "_"): break
                default: return false
                }
            }
            if bytes.count >= 32 && upper && lower && digit { return false }
            let start = bytes.firstIndex { $0 != UInt8(ascii: ".") } ?? bytes.count
            let word = UnsafeBufferPointer(rebasing: bytes[start...])
            for prefix in plainWordPrefixes where word.count >= prefix.count {
                if word.prefix(prefix.count).elementsEqual(prefix) { return false }
            }
            return true
        }
    }

    private static let plainWordPrefixes: [[UInt8]] = (tokenPrefixes + ["eyJ"]).map { Array($0.utf8) }
}
