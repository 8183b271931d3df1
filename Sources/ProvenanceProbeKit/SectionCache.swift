import Crypto
import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What decides a probe's section besides the files it reads, for a probe whose section may be
/// remembered between captures (`Probe.sectionCacheKey`, `SectionCache`).
public struct SectionCacheKey: Sendable, Equatable {
    /// The probe's own settings that change its section (an interpreter the job names).
    public var settings: [String]
    /// The environment variables it reads: their values (or absence) are part of the key. Only
    /// these: a variable that changes with every job or shell (`SLURM_JOB_ID`, `PWD`, the marker
    /// of a command provenance started) would otherwise make every capture miss.
    public var environment: [String]
    /// Whether it reads the working directory, user or group (`context.process`).
    public var process: Bool

    public init(settings: [String] = [], environment: [String] = [], process: Bool = false) {
        self.settings = settings
        self.environment = environment
        self.process = process
    }
}

/// Sections remembered between captures of the live machine, each with the file-system facts it
/// was read from, so that a probe whose files did not change is not run again: the dpkg probe
/// reads and parses an 850 KB database, the python probe a few hundred files, to find what was
/// found last time. Kept in `$XDG_CACHE_HOME/provenance/section-ID-HEX.cache` (mode 0600).
///
/// A probe opts in (`Probe.sectionCacheKey`) when it reads the machine only through its
/// context's file system and command lookups, and says what else decides its section (its
/// settings, the environment, the working directory). While it runs, every look it takes is
/// witnessed (`FileWitnesses`): what `stat` said of each file it read, directory it listed and
/// path it looked up (or that nothing was there), and where each command name resolved. The next
/// capture with the same key checks them (one `stat` each) and takes the section if all still
/// hold; otherwise the probe runs, and its section and witnesses replace the file.
///
/// Never remembered: a section whose probe ran a command, read /proc, /sys or /dev (their times do
/// not follow their content), failed, attached files, saw a path change while it read, or saw a
/// file changed less than `FileStat.racyMarginNanoseconds` before it began (its time could be
/// that of a later change too), or read a filesystem whose times are not this machine's (NFS,
/// Lustre, GPFS: `FileStat.trustsTimes`). Like git's index, this trusts that a change of a file
/// changes its `stat` (size, times, inode); a change that keeps all of them (a tool that writes
/// the same size and sets the times back) is not seen until the file changes again.
public struct SectionCache: Sendable {
    static let magic = Array("provenance-section-cache 1\n".utf8)
    /// At most this many section caches are kept; the least recently written go beyond it.
    static let maxFiles = 64

    /// The cache directory (`~/.cache/provenance`).
    public let directory: String
    /// What every key holds: provenance's version and its executable's identity (a rebuilt
    /// binary reads everything again).
    let toolKey: String
    /// This host's name, in the cache files' names.
    let hostName: String

    public init(directory: String) {
        self.directory = directory
        toolKey = "provenance \(ProvenanceVersion.current)\u{0}executable "
            + (CommandCache.identity(of: "/proc/self/exe") ?? "?")
        var host = [CChar](repeating: 0, count: 256)
        hostName = gethostname(&host, host.count - 1) == 0
            ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }

    /// The probe's section: remembered when its witnesses still hold, else collected (and
    /// remembered when it may be).
    public func collect<P: Probe>(_ probe: P, key: SectionCacheKey, _ context: ProbeContext,
                                  _ report: ProbeReport = ProbeReport()) -> Section {
        let started = monotonicSeconds()
        let began = realtimeNanoseconds()
        let descriptor = probe.descriptor
        let fullKey = self.fullKey(descriptor, key, context)
        let path = self.path(descriptor.id, key)
        if let bytes = try? RootedFileSystem().readBytes(path), var section = Self.recall(bytes, key: fullKey, context) {
            section.durationMs = Int64((monotonicSeconds() - started) * 1000)
            return section
        }
        let witnesses = FileWitnesses()
        var fs = context.fs
        fs.witnesses = witnesses
        let witnessed = ProbeContext(fs: fs, commands: WitnessingCommandRunner(context.commands, witnesses: witnesses),
                                     clock: context.clock, environment: context.environment, process: context.process,
                                     commandTimeout: context.commandTimeout, deadline: context.deadline)
        var section = Capture.collect(probe, witnessed, report)
        if section.status != .failed, report.artifacts.isEmpty, Self.remembers(witnesses, began: began, fs: context.fs) {
            section.renderData()
            let (written, replaced) = writeCacheFile(Self.encode(key: fullKey, witnesses: witnesses, section: section), to: path)
            if written && !replaced { pruneCacheFiles(in: directory, prefix: "section-", keep: Self.maxFiles) }
        }
        return section
    }

    /// The cache file of a probe with these settings, for this user on this host:
    /// `section-ID-HEX32.cache`, HEX32 from the SHA-256 of the host name, user id, probe id and
    /// settings. The host name keeps the nodes of a cluster whose home directories are shared
    /// (jobs land on any of them) from replacing each other's files.
    func path(_ id: String, _ key: SectionCacheKey) -> String {
        let named = ([hostName, "\(getuid())", id] + key.settings).joined(separator: "\u{0}")
        return directory + "/section-" + id + "-" + hexString(SHA256.hash(data: Array(named.utf8))).prefix(32) + ".cache"
    }

    /// Everything the section depends on but its files: provenance, the probe and its version,
    /// the user, the settings, the environment variables the probe reads and, where the key says
    /// so, the working directory.
    func fullKey(_ descriptor: ProbeDescriptor, _ key: SectionCacheKey, _ context: ProbeContext) -> String {
        var parts = [toolKey, "probe \(descriptor.id) \(descriptor.version)", "uid \(getuid()) gid \(getgid())"]
        parts += key.settings.map { "setting " + $0 }
        for name in key.environment.sorted() {
            parts.append("env \(name)" + (context.environment[name].map { "=" + $0 } ?? " unset"))
        }
        if key.process {
            let process = context.process
            parts.append("process \(process.workingDirectory ?? "-") \(process.userID.map(String.init) ?? "-") "
                         + "\(process.groupID.map(String.init) ?? "-")")
        }
        return parts.joined(separator: "\u{0}")
    }

    /// Whether a probe's witnesses may stand for its section: nothing refused, nothing racy, every
    /// filesystem one whose times are this machine's.
    static func remembers(_ witnesses: FileWitnesses, began: Int64, fs: RootedFileSystem) -> Bool {
        guard witnesses.refusal == nil else { return false }
        var devices: [UInt64: Bool] = [:]
        for (look, stat) in witnesses.looks {
            if look.content, stat?.isRacy(began: began) ?? false { return false }
            // What was not there is witnessed by the nearest directory above that was.
            var path = look.path
            var found = stat
            while found == nil, let slash = path.lastIndex(of: "/"), slash != path.startIndex {
                path = String(path[..<slash])
                found = FileStat(path: fs.hostPath(path), following: true)
            }
            guard let found else { continue }
            if devices[found.device] == nil { devices[found.device] = FileStat.trustsTimes(of: fs.hostPath(path)) }
            if devices[found.device] == false { return false }
        }
        return true
    }

    // MARK: - The file

    /// The bytes of a cache file:
    ///
    ///     "provenance-section-cache 1\n"
    ///     u32 length, key
    ///     u32 count × { u8 flags (1: through links, 2: present, 4: a look at the content),
    ///                   u32 length, path, present: FileStat }
    ///     u32 count × { u32 length, command name, u8 1 (resolved; then u32 length, path) or 0 }
    ///     u32 length, the section's canonical JSON without its data (`Section.json`)
    ///     u8 1 (data follows: u32 length, canonical; u32 length, pretty, as `Section.renderData`
    ///        wrote them) or 0
    ///     32 bytes: SHA-256 of everything before
    static func encode(key: String, witnesses: FileWitnesses, section: Section) -> [UInt8] {
        let looks = witnesses.looks
        let rendered = section.rendered
        var out = magic
        out.reserveCapacity(1024 + key.utf8.count + looks.count * 100 + (rendered.map { $0.canonical.count + $0.pretty.count } ?? 0))
        appendField(&out, key.utf8)
        appendU32(&out, UInt32(looks.count))
        for (look, stat) in looks {
            out.append((look.following ? 1 : 0) | (stat == nil ? 0 : 2) | (look.content ? 4 : 0))
            appendField(&out, look.path.utf8)
            if let stat { appendFileStat(&out, stat) }
        }
        let resolutions = witnesses.resolutions
        appendU32(&out, UInt32(resolutions.count))
        for (name, answer) in resolutions {
            appendField(&out, name.utf8)
            out.append(answer == nil ? 0 : 1)
            if let answer { appendField(&out, answer.utf8) }
        }
        var header = section
        header.data = nil
        appendField(&out, CanonicalJSON.serialize(header.json))
        if let rendered {
            out.append(1)
            appendField(&out, rendered.canonical)
            appendField(&out, rendered.pretty)
        } else {
            out.append(0)
        }
        seal(&out)
        return out
    }

    /// The section a cache file holds, when it is whole, has `key`, and every witness still holds
    /// on the machine of `context`; nil otherwise.
    static func recall(_ bytes: [UInt8], key: String, _ context: ProbeContext) -> Section? {
        guard var reader = CacheFileReader.checked(bytes, magic: magic), let fileKey = reader.text(), fileKey == key,
              let looks = reader.u32()
        else { return nil }
        for _ in 0..<looks {
            guard let flags = reader.u8(), flags < 8, let path = reader.text() else { return nil }
            let look = FileWitnesses.Look(path: path, following: flags & 1 != 0, content: flags & 4 != 0)
            let recorded = flags & 2 != 0 ? reader.fileStat() : nil
            if flags & 2 != 0 && recorded == nil { return nil }
            guard look.holds(then: recorded, now: FileStat(path: context.fs.hostPath(path), following: look.following))
            else { return nil }
        }
        guard let resolutions = reader.u32() else { return nil }
        for _ in 0..<resolutions {
            guard let name = reader.text(), let resolved = reader.u8(), resolved < 2 else { return nil }
            let answer = resolved == 1 ? reader.text() : nil
            if resolved == 1 && answer == nil { return nil }
            guard context.commands.resolve(name) == answer else { return nil }
        }
        guard let json = reader.field(), let header = (try? JSONParser.parse(json)).flatMap(Section.init(json:)),
              let hasData = reader.u8(), hasData < 2
        else { return nil }
        guard hasData == 1 else { return reader.at == reader.end ? header : nil }
        guard let canonical = reader.field(), let pretty = reader.field(), reader.at == reader.end else { return nil }
        return Section(status: header.status, probeVersion: header.probeVersion, renderedCanonical: canonical,
                       renderedPretty: pretty, volatile: header.volatile, issues: header.issues,
                       identifying: header.identifying)
    }
}
