import ProvenanceCore
import ProvenanceProbeKit

// MARK: - A small XML element tree

/// One element of an XML document: its name, attributes, the character data directly inside it
/// (entities decoded, CDATA kept) and its child elements in document order.
public struct XMLElementNode: Sendable, Equatable {
    public var name: String
    public var attributes: [String: String]
    /// Character data directly inside this element (not inside its children), untrimmed.
    public var text: String
    public var children: [XMLElementNode]

    public init(name: String, attributes: [String: String] = [:], text: String = "", children: [XMLElementNode] = []) {
        self.name = name
        self.attributes = attributes
        self.text = text
        self.children = children
    }

    /// The first child element with this name.
    public func child(_ name: String) -> XMLElementNode? { children.first { $0.name == name } }

    /// Every child element with this name, in document order.
    public func children(named name: String) -> [XMLElementNode] { children.filter { $0.name == name } }

    /// The element reached by following child names (`gpu.element("pci", "pci_bus_id")`).
    public func element(_ path: String...) -> XMLElementNode? {
        var current = self
        for name in path {
            guard let next = current.child(name) else { return nil }
            current = next
        }
        return current
    }
}

/// A parsed XML document: the root element and the system id of its DOCTYPE, when it has one.
public struct ParsedXMLDocument: Sendable, Equatable {
    public var root: XMLElementNode
    /// `nvsmi_device_v12.dtd` of `<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">`.
    public var doctypeSystemID: String?
}

/// XML that could not be read: where (byte offset and line) and why.
public struct XMLParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public let offset: Int
    public let line: Int
    public let reason: String
    public var description: String { "invalid XML at line \(line) (byte \(offset)): \(reason)" }
}

/// Parses an XML document into an element tree.
///
/// Why not FoundationXML's `XMLParser`: importing it makes the `provenance` binary, which
/// otherwise links only `FoundationEssentials`, load `libFoundation`, `libFoundationXML`,
/// `libFoundationInternationalization`, `_FoundationICU` (40 MB), libxml2, ICU, zlib and liblzma
/// at every start: 26 shared libraries instead of 16 and 9,734 relocations instead of 4,852
/// (`LD_DEBUG=statistics`). Measured with `hyperfine -N` on `provenance capture` (release build,
/// 2-core Debian 12 VM shared with other builds): +8.5 ms mean wall time (25.3 → 33.8 ms) and
/// +5.5 ms of CPU time (user + system 13 → 18.5 ms) per capture, against a 30 ms target and a
/// 5 ms budget for this choice, paid by every job on every machine, with or without an NVIDIA
/// GPU. This parser adds no measurable start-up time (same libraries, 3 more relocations).
/// `nvidia-smi -q -x` output is simple: elements, attributes, character data, the five
/// predefined entities and numeric character references, a `<?xml?>` declaration, a
/// `<!DOCTYPE>` line, comments and CDATA; no namespaces and no entity declarations.
///
/// Tolerant where real outputs differ (no declaration, no DOCTYPE, text around the root element
/// such as a warning printed before the XML, unknown entities kept as written), strict where the
/// document is damaged: a closing tag that does not match, an unterminated tag or a missing root
/// end (a truncated output) is an error.
public func parseXMLDocument(_ text: String, maxDepth: Int = 256) throws(XMLParseError) -> ParsedXMLDocument {
    var parser = XMLTreeParser(bytes: Array(text.utf8), maxDepth: maxDepth)
    return try parser.parse()
}

private struct XMLTreeParser {
    let bytes: [UInt8]
    let maxDepth: Int
    var index = 0

    /// Open elements: the node so far and its raw character data.
    var stack: [(node: XMLElementNode, text: [UInt8], offset: Int)] = []
    var root: XMLElementNode?
    var doctypeSystemID: String?

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    func error(_ reason: String, at offset: Int? = nil) -> XMLParseError {
        let position = min(offset ?? index, bytes.count)
        let line = bytes[0..<position].reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        return XMLParseError(offset: position, line: line, reason: reason)
    }

    func starts(with literal: String, at position: Int) -> Bool {
        let pattern = Array(literal.utf8)
        guard position + pattern.count <= bytes.count else { return false }
        return bytes[position..<(position + pattern.count)].elementsEqual(pattern)
    }

    /// The position just after the next occurrence of `terminator`, or nil.
    func skip(past terminator: String, from position: Int) -> Int? {
        let pattern = Array(terminator.utf8)
        var cursor = position
        while cursor + pattern.count <= bytes.count {
            if bytes[cursor] == pattern[0] && bytes[cursor..<(cursor + pattern.count)].elementsEqual(pattern) {
                return cursor + pattern.count
            }
            cursor += 1
        }
        return nil
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    static func isNameByte(_ byte: UInt8) -> Bool {
        !isSpace(byte) && byte != UInt8(ascii: "/") && byte != UInt8(ascii: ">") && byte != UInt8(ascii: "=")
            && byte != UInt8(ascii: "<") && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "'")
    }

    mutating func skipSpaces() {
        while index < bytes.count && Self.isSpace(bytes[index]) { index += 1 }
    }

    mutating func readName() -> String? {
        let start = index
        while index < bytes.count && Self.isNameByte(bytes[index]) { index += 1 }
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    mutating func appendText(_ slice: ArraySlice<UInt8>) {
        guard !stack.isEmpty else { return }  // text outside the root element is ignored
        stack[stack.count - 1].text.append(contentsOf: slice)
    }

    mutating func parse() throws(XMLParseError) -> ParsedXMLDocument {
        // A UTF-8 byte order mark is not text.
        if starts(with: "\u{FEFF}", at: 0) { index = 3 }
        while index < bytes.count {
            let textStart = index
            while index < bytes.count && bytes[index] != UInt8(ascii: "<") { index += 1 }
            if index > textStart { appendText(bytes[textStart..<index]) }
            guard index < bytes.count else { break }
            let tagStart = index
            if starts(with: "<?", at: index) {
                guard let end = skip(past: "?>", from: index + 2) else { throw error("unterminated '<?'", at: tagStart) }
                index = end
            } else if starts(with: "<!--", at: index) {
                guard let end = skip(past: "-->", from: index + 4) else { throw error("unterminated comment", at: tagStart) }
                index = end
            } else if starts(with: "<![CDATA[", at: index) {
                guard let end = skip(past: "]]>", from: index + 9) else { throw error("unterminated CDATA", at: tagStart) }
                appendText(bytes[(index + 9)..<(end - 3)])
                index = end
            } else if starts(with: "<!", at: index) {
                try parseDeclaration()
            } else if starts(with: "</", at: index) {
                try parseClosingTag()
            } else {
                try parseOpeningTag()
            }
        }
        if let open = stack.last {
            throw error("document ends inside <\(open.node.name)> (truncated output?)", at: bytes.count)
        }
        guard let root else { throw error("no root element", at: bytes.count) }
        return ParsedXMLDocument(root: root, doctypeSystemID: doctypeSystemID)
    }

    /// `<!DOCTYPE name SYSTEM "x.dtd">`, possibly with an internal subset in brackets.
    mutating func parseDeclaration() throws(XMLParseError) {
        let start = index
        var depth = 0
        var quote: UInt8?
        var cursor = index + 2
        while cursor < bytes.count {
            let byte = bytes[cursor]
            if let open = quote {
                if byte == open { quote = nil }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                quote = byte
            } else if byte == UInt8(ascii: "[") {
                depth += 1
            } else if byte == UInt8(ascii: "]") {
                depth -= 1
            } else if byte == UInt8(ascii: ">") && depth <= 0 {
                break
            }
            cursor += 1
        }
        guard cursor < bytes.count else { throw error("unterminated '<!' declaration", at: start) }
        let declaration = String(decoding: bytes[start...cursor], as: UTF8.self)
        if declaration.hasPrefix("<!DOCTYPE"), let systemRange = declaration.firstRange(of: "SYSTEM") {
            let rest = declaration[systemRange.upperBound...].drop { $0 == " " || $0 == "\t" }
            if let quoteCharacter = rest.first, quoteCharacter == "\"" || quoteCharacter == "'" {
                let value = rest.dropFirst().prefix { $0 != quoteCharacter }
                doctypeSystemID = String(value)
            }
        }
        index = cursor + 1
    }

    mutating func parseOpeningTag() throws(XMLParseError) {
        let tagStart = index
        index += 1
        guard let name = readName() else { throw error("'<' not followed by an element name", at: tagStart) }
        if root != nil && stack.isEmpty {
            throw error("a second root element <\(name)> after </\(root!.name)>", at: tagStart)
        }
        var attributes: [String: String] = [:]
        while true {
            skipSpaces()
            guard index < bytes.count else { throw error("unterminated tag <\(name)>", at: tagStart) }
            if bytes[index] == UInt8(ascii: ">") {
                index += 1
                guard stack.count < maxDepth else { throw error("elements nested deeper than \(maxDepth)", at: tagStart) }
                stack.append((XMLElementNode(name: name, attributes: attributes), [], tagStart))
                return
            }
            if starts(with: "/>", at: index) {
                index += 2
                finish(XMLElementNode(name: name, attributes: attributes))
                return
            }
            guard let attribute = readName() else {
                throw error("unexpected '\(Character(Unicode.Scalar(bytes[index])))' in tag <\(name)>")
            }
            skipSpaces()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else {
                throw error("attribute \(attribute) of <\(name)> has no value")
            }
            index += 1
            skipSpaces()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
                throw error("attribute \(attribute) of <\(name)> is not quoted")
            }
            let quote = bytes[index]
            let valueStart = index + 1
            guard let valueEnd = bytes[valueStart...].firstIndex(of: quote) else {
                throw error("unterminated value of attribute \(attribute) in <\(name)>", at: tagStart)
            }
            attributes[attribute] = decodeXMLEntities(bytes[valueStart..<valueEnd])
            index = valueEnd + 1
        }
    }

    mutating func parseClosingTag() throws(XMLParseError) {
        let tagStart = index
        index += 2
        let name = readName() ?? ""
        skipSpaces()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ">") else {
            throw error("unterminated closing tag </\(name)>", at: tagStart)
        }
        index += 1
        guard let open = stack.popLast() else { throw error("closing tag </\(name)> without an open element", at: tagStart) }
        guard open.node.name == name else {
            throw error("closing tag </\(name)> does not match <\(open.node.name)>", at: tagStart)
        }
        var node = open.node
        node.text = decodeXMLEntities(open.text[...])
        finish(node)
    }

    mutating func finish(_ node: XMLElementNode) {
        if stack.isEmpty {
            root = node
        } else {
            stack[stack.count - 1].node.children.append(node)
        }
    }
}

/// Character data with `&lt;`, `&gt;`, `&amp;`, `&quot;`, `&apos;`, `&#N;` and `&#xN;` decoded;
/// anything else after `&` is kept as written.
func decodeXMLEntities(_ bytes: ArraySlice<UInt8>) -> String {
    guard bytes.contains(UInt8(ascii: "&")) else { return String(decoding: bytes, as: UTF8.self) }
    var result = String.UnicodeScalarView()
    let text = String(decoding: bytes, as: UTF8.self).unicodeScalars
    var cursor = text.startIndex
    while cursor < text.endIndex {
        let scalar = text[cursor]
        guard scalar == "&", let semicolon = text[cursor...].prefix(12).firstIndex(of: ";") else {
            result.append(scalar)
            cursor = text.index(after: cursor)
            continue
        }
        let entity = String(String.UnicodeScalarView(text[text.index(after: cursor)..<semicolon]))
        var decoded: Unicode.Scalar?
        switch entity {
        case "lt": decoded = "<"
        case "gt": decoded = ">"
        case "amp": decoded = "&"
        case "quot": decoded = "\""
        case "apos": decoded = "'"
        default:
            if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                decoded = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
            } else if entity.hasPrefix("#") {
                decoded = UInt32(entity.dropFirst()).flatMap(Unicode.Scalar.init)
            }
        }
        if let decoded {
            result.append(decoded)
            cursor = text.index(after: semicolon)
        } else {
            result.append(scalar)
            cursor = text.index(after: cursor)
        }
    }
    return String(result)
}

// MARK: - Values as nvidia-smi writes them

/// Whether a value is one of nvidia-smi's words for "no value": `N/A`, `Not Supported`,
/// `Unknown Error`, `Insufficient Permissions`, `GPU requires reset`, `Requested functionality
/// has been deprecated`, `Not Available`, or any text in square brackets (`[N/A]`,
/// `[Not Supported]`, `[Unknown Error]`: the bracketed form is nvidia-smi's marker for a message
/// in place of a value).
public func isNVIDIASMIUnavailableMarker(_ text: String) -> Bool {
    let value = text.trimmed
    if value.count >= 2 && value.hasPrefix("[") && value.hasSuffix("]") { return true }
    switch value.lowercased() {
    case "n/a", "not supported", "unknown error", "insufficient permissions", "gpu requires reset",
        "requested functionality has been deprecated", "not available", "unknown":
        return true
    default:
        return false
    }
}

/// The canonical form of a PCI address: `0000:3b:00.0` (domain of at least four hex digits,
/// lowercase). Accepts nvidia-smi's `00000000:3B:00.0`, sysfs's `0000:3b:00.0`, a bus address
/// without a domain (`3b:00.0`) and rocm-smi's `0000:1E:00.0`; nil when it is not an address.
public func normalizePCIBusID(_ text: String) -> String? {
    let parts = text.trimmed.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2 || parts.count == 3 else { return nil }
    let domainText = parts.count == 3 ? parts[0] : "0"
    let busText = parts[parts.count - 2]
    let slot = parts[parts.count - 1].split(separator: ".", omittingEmptySubsequences: false)
    guard slot.count == 2, !domainText.isEmpty, domainText.count <= 8, !busText.isEmpty, busText.count <= 2,
          !slot[0].isEmpty, slot[0].count <= 2, slot[1].count == 1,
          let domain = UInt32(domainText, radix: 16), let bus = UInt8(busText, radix: 16),
          let device = UInt8(slot[0], radix: 16), let function = UInt8(slot[1], radix: 16),
          device < 32, function < 8
    else { return nil }
    return "\(hex(domain, 4)):\(hex(bus, 2)):\(hex(device, 2)).\(hex(function, 1))"
}

/// An amount with a binary unit as nvidia-smi writes it (`16384 MiB`, `256 KiB`, `12 GiB`,
/// `512 B`) in bytes; nil when it is not one.
public func parseNVIDIASMIBytes(_ text: String) -> Int64? {
    let words = text.trimmed.split(separator: " ", omittingEmptySubsequences: true)
    guard words.count == 2, let amount = Int64(words[0]), amount >= 0 else { return nil }
    let multiplier: Int64
    switch words[1] {
    case "B": multiplier = 1
    case "KiB", "KB": multiplier = 1 << 10
    case "MiB", "MB": multiplier = 1 << 20
    case "GiB", "GB": multiplier = 1 << 30
    case "TiB", "TB": multiplier = 1 << 40
    default: return nil
    }
    let (product, overflow) = amount.multipliedReportingOverflow(by: multiplier)
    return overflow ? nil : product
}

/// A decimal amount with a unit (`250.00 W`, `67.035 W`, `912.500 mV`) as an integer number of
/// thousandths of that unit (`250000`, `67035`, `912500`), without going through a float;
/// digits past the third decimal are dropped. Nil when the unit is not `unit`.
public func parseNVIDIASMIThousandths(_ text: String, unit: String) -> Int64? {
    let words = text.trimmed.split(separator: " ", omittingEmptySubsequences: true)
    guard words.count == 2, words[1] == unit else { return nil }
    var number = Substring(words[0])
    var negative = false
    if number.hasPrefix("-") {
        negative = true
        number = number.dropFirst()
    }
    let pieces = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let whole = Int64(pieces[0].isEmpty ? "0" : pieces[0]), !pieces[0].hasPrefix("+") else { return nil }
    var fraction: Int64 = 0
    if pieces.count == 2 {
        let digits = pieces[1].prefix(3)
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), pieces[1].allSatisfy({ $0.isASCII && $0.isNumber })
        else { return nil }
        fraction = Int64(digits + String(repeating: "0", count: 3 - digits.count)) ?? 0
    }
    let (scaled, overflow) = whole.multipliedReportingOverflow(by: 1000)
    guard !overflow, scaled <= Int64.max - fraction else { return nil }
    return negative ? -(scaled + fraction) : scaled + fraction
}

/// A whole amount with a unit (`39 C`, `0 %`, `1410 MHz`) as an integer; nil otherwise.
public func parseNVIDIASMIInteger(_ text: String, unit: String) -> Int64? {
    let words = text.trimmed.split(separator: " ", omittingEmptySubsequences: true)
    guard words.count == 2, words[1] == unit else { return nil }
    return Int64(words[0])
}

// MARK: - nvidia-smi -q -x

/// What `nvidia-smi -q -x` says about a machine's NVIDIA GPUs, without the values that change
/// between two runs on an unchanged machine (those are in `volatile`).
public struct NVIDIASMILog: Sendable, Equatable {
    public var driverVersion: String?
    /// The newest CUDA version the driver supports (`<cuda_version>`): not an installed toolkit.
    public var cudaDriverVersion: String?
    /// `<attached_gpus>`: how many GPUs the driver sees (may exceed the `<gpu>` elements given).
    public var attachedGPUs: Int?
    /// The DTD the output declares (`nvsmi_device_v12.dtd`), when it has a DOCTYPE.
    public var dtd: String?
    /// Machine fields nvidia-smi reported without a value: field name → the text it printed.
    public var unavailable: [String: String]
    /// One entry per `<gpu>`, sorted by normalised PCI address.
    public var gpus: [NVIDIAGPU]
    /// Per-GPU temperature, utilisation and memory in use, in the order of `gpus`.
    public var volatile: [NVIDIAGPUVolatile]
    /// Values that were present but not in a form this parser knows (field: 'text').
    public var problems: [String]
}

/// The changing values of one GPU, kept out of the manifest's data.
public struct NVIDIAGPUVolatile: Sendable, Equatable {
    public var pciBusIdNormalized: String?
    public var temperatureC: Int64?
    public var utilizationPercent: Int64?
    public var memoryUsedBytes: Int64?
}

/// Reads element values, moving nvidia-smi's "no value" words into `unavailable`.
struct NVIDIASMIFieldReader {
    var unavailable: [String: String] = [:]
    var problems: [String] = []
    let context: String

    /// The trimmed text of an element, nil when the element is missing, empty or a marker.
    mutating func text(_ element: XMLElementNode?, _ field: String) -> String? {
        guard let element else { return nil }
        let value = element.text.trimmed
        if value.isEmpty { return nil }
        if isNVIDIASMIUnavailableMarker(value) {
            unavailable[field] = value
            return nil
        }
        return value
    }

    mutating func converted<T>(_ element: XMLElementNode?, _ field: String, _ convert: (String) -> T?) -> T? {
        guard let value = text(element, field) else { return nil }
        guard let result = convert(value) else {
            problems.append("\(context)\(field): unexpected value '\(value.prefix(80))'")
            return nil
        }
        return result
    }

    mutating func integer(_ element: XMLElementNode?, _ field: String) -> Int? {
        converted(element, field) { Int($0) }
    }

    mutating func bytes(_ element: XMLElementNode?, _ field: String) -> Int64? {
        converted(element, field, parseNVIDIASMIBytes)
    }

    mutating func milliwatts(_ element: XMLElementNode?, _ field: String) -> Int64? {
        converted(element, field) { parseNVIDIASMIThousandths($0, unit: "W") }
    }

    /// The first of several elements that exists (names differ between DTD versions).
    static func first(_ candidates: XMLElementNode?...) -> XMLElementNode? {
        candidates.first { $0 != nil } ?? nil
    }
}

/// Parses the output of `nvidia-smi -q -x` (DTD v10 to v13 and the files before DTDs were
/// declared; drivers 418 to 595, Linux and Windows): machine facts, and per GPU its identity,
/// configuration and MIG devices. Values that change from run to run (temperatures, clocks,
/// utilisation, power draw, processes, memory in use) are left out of `gpus` and the three worth
/// keeping go to `volatile`.
public func parseNVIDIASMIXML(_ text: String) throws(XMLParseError) -> NVIDIASMILog {
    let document = try parseXMLDocument(text)
    let root = document.root
    guard root.name == "nvidia_smi_log" else {
        throw XMLParseError(offset: 0, line: 1, reason: "root element is <\(root.name)>, not <nvidia_smi_log>")
    }
    var machine = NVIDIASMIFieldReader(context: "")
    let driverVersion = machine.text(root.child("driver_version"), "driverVersion")
    let cudaVersion = machine.text(root.child("cuda_version"), "cudaDriverVersion")
    let attached = machine.integer(root.child("attached_gpus"), "attachedGPUs")

    var problems = machine.problems
    var entries: [(gpu: NVIDIAGPU, volatile: NVIDIAGPUVolatile)] = []
    for element in root.children(named: "gpu") {
        let parsed = parseNVIDIASMIGPU(element)
        problems.append(contentsOf: parsed.problems)
        entries.append((parsed.gpu, parsed.volatile))
    }
    entries.sort { a, b in
        let left = a.gpu.pciBusIdNormalized ?? a.gpu.pciBusId ?? "~"
        let right = b.gpu.pciBusIdNormalized ?? b.gpu.pciBusId ?? "~"
        return left != right ? left < right : (a.gpu.uuid ?? "") < (b.gpu.uuid ?? "")
    }
    return NVIDIASMILog(
        driverVersion: driverVersion, cudaDriverVersion: cudaVersion, attachedGPUs: attached,
        dtd: document.doctypeSystemID, unavailable: machine.unavailable, gpus: entries.map(\.gpu),
        volatile: entries.map(\.volatile), problems: problems)
}

/// One `<gpu>` element of `nvidia-smi -q -x`.
func parseNVIDIASMIGPU(_ element: XMLElementNode)
    -> (gpu: NVIDIAGPU, volatile: NVIDIAGPUVolatile, problems: [String])
{
    let busAttribute = element.attributes["id"]
    var reader = NVIDIASMIFieldReader(context: "gpu \(busAttribute ?? "?"): ")
    var gpu = NVIDIAGPU()
    gpu.productName = reader.text(element.child("product_name"), "productName")
    gpu.productBrand = reader.text(element.child("product_brand"), "productBrand")
    gpu.architecture = reader.text(element.child("product_architecture"), "architecture")
    gpu.uuid = reader.text(element.child("uuid"), "uuid")
    gpu.pciBusId = reader.text(element.element("pci", "pci_bus_id"), "pciBusId")
        ?? busAttribute.flatMap { isNVIDIASMIUnavailableMarker($0) ? nil : $0.trimmed }
    if let busId = gpu.pciBusId {
        gpu.pciBusIdNormalized = normalizePCIBusID(busId)
        if gpu.pciBusIdNormalized == nil { reader.problems.append("\(reader.context)pciBusId: unexpected value '\(busId)'") }
    }
    gpu.pciDeviceId = reader.text(element.element("pci", "pci_device_id"), "pciDeviceId")
    gpu.pciSubsystemId = reader.text(element.element("pci", "pci_sub_system_id"), "pciSubsystemId")
    gpu.boardId = reader.text(element.child("board_id"), "boardId")
    gpu.boardPartNumber = reader.text(element.child("board_part_number"), "boardPartNumber")
    gpu.gpuPartNumber = reader.text(element.child("gpu_part_number"), "gpuPartNumber")
    gpu.serial = reader.text(element.child("serial"), "serial")
    gpu.vbiosVersion = reader.text(element.child("vbios_version"), "vbiosVersion")
    gpu.gspFirmwareVersion = reader.text(element.child("gsp_firmware_version"), "gspFirmwareVersion")
    gpu.minorNumber = reader.integer(element.child("minor_number"), "minorNumber")
    gpu.memoryTotalBytes = reader.bytes(element.element("fb_memory_usage", "total"), "memoryTotalBytes")
    gpu.computeMode = reader.text(element.child("compute_mode"), "computeMode")
    gpu.persistenceMode = reader.text(element.child("persistence_mode"), "persistenceMode")
    if let ecc = element.child("ecc_mode") {
        let pair = ModePair(current: reader.text(ecc.child("current_ecc"), "eccMode.current"),
                            pending: reader.text(ecc.child("pending_ecc"), "eccMode.pending"))
        if pair.current != nil || pair.pending != nil { gpu.eccMode = pair }
    }

    // Power limits: <power_readings> up to DTD v11, <gpu_power_readings> from v12.
    let newPower = element.child("gpu_power_readings")
    let oldPower = element.child("power_readings")
    typealias Reader = NVIDIASMIFieldReader
    gpu.powerLimitMilliwatts = reader.milliwatts(
        Reader.first(newPower?.child("current_power_limit"), oldPower?.child("enforced_power_limit"),
                     oldPower?.child("power_limit")), "powerLimitMilliwatts")
    gpu.defaultPowerLimitMilliwatts = reader.milliwatts(
        Reader.first(newPower?.child("default_power_limit"), oldPower?.child("default_power_limit")),
        "defaultPowerLimitMilliwatts")
    gpu.minPowerLimitMilliwatts = reader.milliwatts(
        Reader.first(newPower?.child("min_power_limit"), oldPower?.child("min_power_limit")), "minPowerLimitMilliwatts")
    gpu.maxPowerLimitMilliwatts = reader.milliwatts(
        Reader.first(newPower?.child("max_power_limit"), oldPower?.child("max_power_limit")), "maxPowerLimitMilliwatts")

    for (name, field) in [("applications_clocks", "applicationClocks"), ("default_applications_clocks", "defaultApplicationClocks")] {
        guard let clocks = element.child(name) else { continue }
        let pair = ClockPair(
            graphicsMHz: reader.converted(clocks.child("graphics_clock"), field + ".graphics") { parseNVIDIASMIInteger($0, unit: "MHz") },
            memoryMHz: reader.converted(clocks.child("mem_clock"), field + ".memory") { parseNVIDIASMIInteger($0, unit: "MHz") })
        guard pair != ClockPair() else { continue }
        if name == "applications_clocks" { gpu.applicationClocks = pair } else { gpu.defaultApplicationClocks = pair }
    }

    // Locked clocks: only the deferred memory lock appears in the XML; auto boost policy.
    gpu.deferredMemoryClockMHz = reader.converted(element.element("deferred_clocks", "mem_clock"), "deferredMemoryClockMHz") {
        parseNVIDIASMIInteger($0, unit: "MHz")
    }
    gpu.autoBoost = reader.text(element.element("clock_policy", "auto_boost"), "autoBoost")
    gpu.autoBoostDefault = reader.text(element.element("clock_policy", "auto_boost_default"), "autoBoostDefault")

    if let mig = element.child("mig_mode") {
        let pair = ModePair(current: reader.text(mig.child("current_mig"), "migMode.current"),
                            pending: reader.text(mig.child("pending_mig"), "migMode.pending"))
        if pair.current != nil || pair.pending != nil { gpu.migMode = pair }
    }
    let migElements = element.child("mig_devices")?.children(named: "mig_device") ?? []
    if !migElements.isEmpty || gpu.migMode?.current == "Enabled" {
        var devices: [NVIDIAMIGDevice] = []
        for (position, migElement) in migElements.enumerated() {
            var migReader = NVIDIASMIFieldReader(context: "\(reader.context)mig_device \(position): ")
            var device = NVIDIAMIGDevice()
            device.index = migReader.integer(migElement.child("index"), "index")
            device.gpuInstanceId = migReader.integer(migElement.child("gpu_instance_id"), "gpuInstanceId")
            device.computeInstanceId = migReader.integer(migElement.child("compute_instance_id"), "computeInstanceId")
            let shared = migElement.element("device_attributes", "shared")
            device.multiprocessorCount = migReader.integer(shared?.child("multiprocessor_count"), "multiprocessorCount")
            device.copyEngineCount = migReader.integer(shared?.child("copy_engine_count"), "copyEngineCount")
            device.encoderCount = migReader.integer(shared?.child("encoder_count"), "encoderCount")
            device.decoderCount = migReader.integer(shared?.child("decoder_count"), "decoderCount")
            device.ofaCount = migReader.integer(shared?.child("ofa_count"), "ofaCount")
            device.jpgCount = migReader.integer(shared?.child("jpg_count"), "jpgCount")
            device.memoryTotalBytes = migReader.bytes(migElement.element("fb_memory_usage", "total"), "memoryTotalBytes")
            device.bar1TotalBytes = migReader.bytes(migElement.element("bar1_memory_usage", "total"), "bar1TotalBytes")
            device.unavailable = migReader.unavailable.isEmpty ? nil : migReader.unavailable
            reader.problems.append(contentsOf: migReader.problems)
            devices.append(device)
        }
        gpu.migDevices = devices.sorted {
            ($0.gpuInstanceId ?? Int.max, $0.computeInstanceId ?? Int.max, $0.index ?? Int.max)
                < ($1.gpuInstanceId ?? Int.max, $1.computeInstanceId ?? Int.max, $1.index ?? Int.max)
        }
    }
    if let virtualization = element.child("gpu_virtualization_mode") {
        gpu.virtualizationMode = reader.text(virtualization.child("virtualization_mode"), "virtualizationMode")
        gpu.hostVGPUMode = reader.text(virtualization.child("host_vgpu_mode"), "hostVGPUMode")
    }
    gpu.driverModel = reader.text(element.element("driver_model", "current_dm"), "driverModel")
    gpu.unavailable = reader.unavailable.isEmpty ? nil : reader.unavailable

    // Volatile values: read quietly (a missing temperature is not worth an issue).
    func quiet<T>(_ element: XMLElementNode?, _ convert: (String) -> T?) -> T? {
        guard let value = element?.text.trimmed, !isNVIDIASMIUnavailableMarker(value) else { return nil }
        return convert(value)
    }
    let volatile = NVIDIAGPUVolatile(
        pciBusIdNormalized: gpu.pciBusIdNormalized ?? gpu.pciBusId,
        temperatureC: quiet(element.element("temperature", "gpu_temp")) { parseNVIDIASMIInteger($0, unit: "C") },
        utilizationPercent: quiet(element.element("utilization", "gpu_util")) { parseNVIDIASMIInteger($0, unit: "%") },
        memoryUsedBytes: quiet(element.element("fb_memory_usage", "used"), parseNVIDIASMIBytes))
    return (gpu, volatile, reader.problems)
}

// MARK: - /proc/driver/nvidia

/// The driver version of `/proc/driver/nvidia/version`'s first line:
/// `NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023` or
/// `NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build ...`
/// → `535.104.05`: the first word made of digits and dots that has a dot.
public func parseNVIDIAProcVersion(_ text: String) -> String? {
    guard let line = text.lines.first(where: { $0.hasPrefix("NVRM version:") }) else { return nil }
    let words = line.dropFirst("NVRM version:".count).split(whereSeparator: { $0 == " " || $0 == "\t" })
    return words.first { word in
        word.contains(".") && word.first?.isNumber == true && word.allSatisfy { ($0.isASCII && $0.isNumber) || $0 == "." }
    }.map(String.init)
}

/// The `Key: value` lines of `/proc/driver/nvidia/gpus/<bus>/information` (`Model`, `GPU UUID`,
/// `Video BIOS`, `Bus Location`, `Device Minor`, ...), values trimmed of the driver's tabs.
public func parseNVIDIAProcInformation(_ text: String) -> [String: String] {
    var fields: [String: String] = [:]
    for line in text.lines {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let key = line[..<colon].trimmed
        let value = line[line.index(after: colon)...].trimmed
        if !key.isEmpty && fields[key] == nil { fields[key] = value }
    }
    return fields
}
