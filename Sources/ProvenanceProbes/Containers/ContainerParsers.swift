import ProvenanceCore
import ProvenanceProbeKit

// Parsers of the files that show whether a process runs in a container: /proc/self/cgroup,
// /proc/self/mountinfo, /run/.containerenv and the cgroup limit files. Pure functions, tested on
// their own (Tests/ProvenanceProbesTests/ContainerProbeTests.swift).

/// One line of `/proc/PID/cgroup`: `hierarchy-ID:controller-list:cgroup-path`.
public struct CgroupMembership: Equatable, Sendable {
    /// 0 for the cgroup v2 (unified) hierarchy.
    public var hierarchyID: Int
    /// The v1 controllers of the hierarchy (`cpu`, `cpuacct`, `name=systemd`); empty for v2.
    public var controllers: [String]
    /// The process's cgroup, relative to the hierarchy's root as this cgroup namespace sees it.
    public var path: String

    public var isUnified: Bool { hierarchyID == 0 && controllers.isEmpty }
}

/// Parses `/proc/PID/cgroup`; malformed lines are returned as problems with their numbers.
public func parseProcCgroup(_ text: String) -> (entries: [CgroupMembership], problems: [String]) {
    var entries: [CgroupMembership] = []
    var problems: [String] = []
    for (number, line) in text.lines.enumerated() where !line.trimmed.isEmpty {
        let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3, let id = Int(fields[0]), fields[2].hasPrefix("/") else {
            problems.append("malformed line \(number + 1): '\(line.prefix(80))'")
            continue
        }
        let controllers = fields[1].isEmpty ? [] : fields[1].split(separator: ",").map(String.init)
        entries.append(CgroupMembership(hierarchyID: id, controllers: controllers, path: String(fields[2])))
    }
    return (entries, problems)
}

/// One line of `/proc/PID/mountinfo` (proc(5)).
public struct MountInfo: Equatable, Sendable {
    public var mountID: Int
    public var parentID: Int
    /// The path within the mounted filesystem that is the root of this mount (for a bind mount,
    /// the directory or file that was bound).
    public var root: String
    public var mountPoint: String
    public var fsType: String
    public var source: String
    public var superOptions: String
}

/// Parses `/proc/PID/mountinfo`, decoding the kernel's octal escapes (`\040` for a space).
/// Malformed lines are returned as problems with their numbers.
public func parseMountinfo(_ text: String) -> (mounts: [MountInfo], problems: [String]) {
    var mounts: [MountInfo] = []
    var problems: [String] = []
    for (number, line) in text.lines.enumerated() where !line.trimmed.isEmpty {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let separator = fields.firstIndex(of: "-"), separator >= 6, fields.count >= separator + 3,
              let mountID = Int(fields[0]), let parentID = Int(fields[1])
        else {
            problems.append("malformed line \(number + 1): '\(line.prefix(80))'")
            continue
        }
        mounts.append(MountInfo(
            mountID: mountID, parentID: parentID, root: unescapeMountField(fields[3]),
            mountPoint: unescapeMountField(fields[4]), fsType: String(fields[separator + 1]),
            source: unescapeMountField(fields[separator + 2]),
            superOptions: separator + 3 < fields.count ? String(fields[separator + 3]) : ""))
    }
    return (mounts, problems)
}

/// Decodes the `\ooo` octal escapes the kernel writes for space, tab, newline and backslash.
func unescapeMountField(_ field: Substring) -> String {
    guard field.contains("\\") else { return String(field) }
    var bytes: [UInt8] = []
    let utf8 = Array(field.utf8)
    var index = 0
    while index < utf8.count {
        if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count {
            let digits = utf8[(index + 1)...(index + 3)]
            if digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) {
                let value = digits.reduce(0) { $0 * 8 + Int($1 - UInt8(ascii: "0")) }
                if value < 256 {
                    bytes.append(UInt8(value))
                    index += 4
                    continue
                }
            }
        }
        bytes.append(utf8[index])
        index += 1
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// A fact that says (or suggests) the process runs in a container, and what it says.
public struct ContainerSignal: Equatable, Hashable, Sendable {
    /// Where it was seen: a file, or `environment` for the process environment.
    public var source: String
    /// What was seen, with identifiers replaced by placeholders (`libpod-<id>`), so that the same
    /// kind of container gives the same evidence from one run to the next.
    public var signal: String
    /// The engine the signal names, when it names one.
    public var engine: String?
    /// The container id (or LXC name) the signal carries.
    public var containerID: String?
    /// Set when the signal shows a Kubernetes pod.
    public var orchestrator: String?
    /// The pod UID a Kubernetes cgroup path carries.
    public var podUID: String?
    /// Whether the signal shows a container on its own; `/.dockerenv` does not (it exists on
    /// hosts that are not containers), it only names the engine when something else shows one.
    public var decisive: Bool = true
}

/// Whether a string is a full container id: 64 lowercase hex digits.
func isContainerID<S: StringProtocol>(_ text: S) -> Bool {
    text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
}

/// The container signals in the cgroup paths of `/proc/self/cgroup`:
/// `/docker/<id>`, `docker-<id>.scope`, `libpod-<id>[.scope]`, `cri-containerd-<id>.scope`,
/// `crio-<id>.scope`, Kubernetes `kubepods…/pod<uid>/<id>`, LXC `/lxc/<name>`, `lxc.payload.<name>`,
/// AWS ECS `/ecs/<task>/<id>`.
/// Conmon's own cgroups (`libpod-conmon-…`, `crio-conmon-…`) are not the container's.
public func containerSignals(cgroup entries: [CgroupMembership], source: String = "/proc/self/cgroup")
    -> [ContainerSignal]
{
    var signals: [ContainerSignal] = []
    for entry in entries {
        let segments = entry.path.split(separator: "/").map(String.init)
        var kubernetes = false
        var podUID: String?
        for (position, segment) in segments.enumerated() {
            let next = position + 1 < segments.count ? segments[position + 1] : nil
            func add(_ signal: String, engine: String?, id: String?) {
                signals.append(ContainerSignal(
                    source: source, signal: signal, engine: engine, containerID: id,
                    orchestrator: kubernetes ? "kubernetes" : nil, podUID: podUID))
            }
            if segment.hasPrefix("kubepods") {
                kubernetes = true
                // kubepods-burstable-pod<uid>.slice (systemd driver, uid with underscores)
                if let range = segment.firstRange(of: "-pod"), segment.hasSuffix(".slice") {
                    podUID = String(segment[range.upperBound...].dropLast(6)).replacingUnderscores()
                }
                continue
            }
            if kubernetes, segment.hasPrefix("pod"), segment.count > 3 {
                podUID = String(segment.dropFirst(3)).replacingUnderscores()
                continue
            }
            if let id = scopedID(segment, prefix: "docker-") {
                add("docker-<id>.scope", engine: "docker", id: id)
            } else if segment == "docker", let next, isContainerID(next) {
                add("/docker/<id>", engine: "docker", id: next)
            } else if !segment.hasPrefix("libpod-conmon-"), let id = scopedID(segment, prefix: "libpod-") {
                add("libpod-<id>", engine: "podman", id: id)
            } else if let id = scopedID(segment, prefix: "cri-containerd-") {
                add("cri-containerd-<id>.scope", engine: "containerd", id: id)
            } else if !segment.hasPrefix("crio-conmon-"), let id = scopedID(segment, prefix: "crio-") {
                add("crio-<id>.scope", engine: "cri-o", id: id)
            } else if kubernetes, isContainerID(segment) {
                add("kubepods/pod<uid>/<id>", engine: nil, id: segment)
            } else if segment == "lxc" || segment == "lxc.payload", let next, !next.isEmpty {
                add("/\(segment)/<name>", engine: "lxc", id: next)
            } else if segment.hasPrefix("lxc.payload."), segment.count > 12 {
                add("lxc.payload.<name>", engine: "lxc", id: String(segment.dropFirst(12)))
            } else if position == 0, segment == "ecs", segments.count >= 3 {
                // AWS ECS: /ecs/<task id>/<container id>
                signals.append(ContainerSignal(source: source, signal: "/ecs/<task>/<id>", engine: nil,
                                               containerID: segments[2], orchestrator: "ecs"))
            }
        }
        if kubernetes, !signals.contains(where: { $0.orchestrator == "kubernetes" }) {
            signals.append(ContainerSignal(source: source, signal: "kubepods", orchestrator: "kubernetes", podUID: podUID))
        }
    }
    return deduplicated(signals)
}

/// `PREFIX<64 hex>` with an optional `.scope` suffix → the id.
private func scopedID(_ segment: String, prefix: String) -> String? {
    guard segment.hasPrefix(prefix) else { return nil }
    var rest = segment.dropFirst(prefix.count)
    if rest.hasSuffix(".scope") { rest = rest.dropLast(6) }
    return isContainerID(rest) ? String(rest) : nil
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}

/// The container signals in `/proc/self/mountinfo`:
/// - podman and other containers/storage engines bind `…/overlay-containers/<id>/userdata/{hostname,
///   hosts,resolv.conf,.containerenv}`; podman binds `/run/.containerenv`;
/// - docker binds `…/docker/containers/<id>/{hostname,hosts,resolv.conf}` (with another data root
///   only `…/containers/<id>/hostname`, which shows a container but not its engine);
/// - the root filesystem of a container is an overlay whose layers live in `…/docker/overlay2/`
///   or `…/containers/storage/overlay/`;
/// - Kubernetes binds `/var/lib/kubelet/pods/<uid>/…` (volumes, service-account secrets);
/// - LXC/LXD/Incus containers mount LXCFS (`fuse.lxcfs`) over `/proc/cpuinfo`, `/proc/meminfo`, ….
public func containerSignals(mountinfo mounts: [MountInfo], source: String = "/proc/self/mountinfo")
    -> [ContainerSignal]
{
    var signals: [ContainerSignal] = []
    let perContainerFiles: Set<String> = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/run/.containerenv"]
    for mount in mounts {
        let components = mount.root.split(separator: "/").map(String.init)
        if let index = components.firstIndex(of: "overlay-containers"), index + 2 < components.count,
           isContainerID(components[index + 1]), components[index + 2] == "userdata"
        {
            signals.append(ContainerSignal(source: source, signal: "overlay-containers/<id>/userdata",
                                           engine: nil, containerID: components[index + 1]))
        } else if let index = components.firstIndex(of: "containers"), index + 1 < components.count,
                  isContainerID(components[index + 1]), perContainerFiles.contains(mount.mountPoint)
        {
            if index > 0, components[index - 1] == "docker" {
                signals.append(ContainerSignal(source: source, signal: "/docker/containers/<id>/",
                                               engine: "docker", containerID: components[index + 1]))
            } else {
                signals.append(ContainerSignal(source: source, signal: "/containers/<id>/ bound to /etc or /run",
                                               engine: nil, containerID: components[index + 1]))
            }
        }
        if mount.mountPoint == "/run/.containerenv" {
            signals.append(ContainerSignal(source: source, signal: "/run/.containerenv mounted", engine: "podman"))
        }
        if mount.fsType == "fuse.lxcfs" {
            signals.append(ContainerSignal(source: source, signal: "lxcfs mounted", engine: "lxc"))
        }
        if mount.mountPoint == "/", mount.fsType == "overlay" {
            if mount.superOptions.contains("/docker/overlay2/") {
                signals.append(ContainerSignal(source: source, signal: "root overlay in docker/overlay2", engine: "docker"))
            } else if mount.superOptions.contains("/containers/storage/overlay/") {
                signals.append(ContainerSignal(source: source, signal: "root overlay in containers/storage", engine: nil))
            }
        }
        if let index = components.firstIndex(of: "pods"), index > 0, components[index - 1] == "kubelet",
           index + 1 < components.count
        {
            signals.append(ContainerSignal(source: source, signal: "/var/lib/kubelet/pods/<uid>/",
                                           orchestrator: "kubernetes", podUID: components[index + 1]))
        }
    }
    return deduplicated(signals)
}

/// The container engine a `container=` value names (systemd's convention: `docker`, `podman`,
/// `lxc`, `lxc-libvirt`, `systemd-nspawn`, `oci`, …): lowercased; `oci` names no engine.
public func containerEngine(fromContainerVariable value: String) -> String? {
    let lowered = value.trimmed.lowercased()
    guard !lowered.isEmpty, lowered != "oci",
          lowered.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") })
    else { return nil }
    if lowered == "lxc-libvirt" { return "lxc" }
    return lowered
}

/// Parses `/run/.containerenv` (podman): `key="value"` lines (`engine`, `name`, `id`, `image`,
/// `imageid`), plus unquoted ones (`rootless=0`). Empty unless the container is privileged.
public func parseContainerEnv(_ text: String) -> [String: String] {
    var fields: [String: String] = [:]
    for line in text.lines {
        let trimmed = line.trimmed
        guard let equals = trimmed.firstIndex(of: "="), equals != trimmed.startIndex else { continue }
        let key = String(trimmed[..<equals])
        var value = Substring(trimmed[trimmed.index(after: equals)...])
        if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = value.dropFirst().dropLast() }
        fields[key] = String(value)
    }
    return fields
}

/// An OCI content digest (`sha256:<64 hex>`, `sha512:<128 hex>`, or another registered algorithm
/// as the OCI image spec's grammar allows).
public func isImageDigest(_ text: String) -> Bool {
    guard let colon = text.firstIndex(of: ":") else { return false }
    let algorithm = text[..<colon]
    let encoded = text[text.index(after: colon)...]
    guard !algorithm.isEmpty, !encoded.isEmpty,
          algorithm.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || "+._-".contains($0) }),
          encoded.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "=_-".contains($0)) })
    else { return false }
    let isHex = encoded.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    switch algorithm {
    case "sha256": return encoded.count == 64 && isHex
    case "sha512": return encoded.count == 128 && isHex
    default: return true
    }
}

/// A cgroup v1 value that stands for "no limit": the kernel writes the largest page-aligned
/// counter (`9223372036854771712` with 4 KiB pages), which no real limit comes near.
let cgroupUnlimitedThreshold: Int64 = 1 << 62

/// Parses cgroup v2 `cpu.max` (`$MAX $PERIOD`, `max 100000` when unlimited) into a quota (nil for
/// `max`) and a period in microseconds; nil when malformed.
public func parseCgroupCPUMax(_ text: String) -> (quotaMicros: Int64?, periodMicros: Int64)? {
    let words = text.trimmed.split(separator: " ", omittingEmptySubsequences: true)
    guard words.count == 2, let period = Int64(words[1]), period > 0 else { return nil }
    if words[0] == "max" { return (nil, period) }
    guard let quota = Int64(words[0]), quota > 0 else { return nil }
    return (quota, period)
}

/// Parses a cgroup memory limit (v2 `memory.max`: bytes or `max`; v1 `memory.limit_in_bytes`:
/// bytes, huge for no limit). `.some(nil)` means no limit; nil means malformed.
public func parseCgroupMemoryLimit(_ text: String) -> Int64?? {
    let value = text.trimmed
    if value == "max" { return .some(nil) }
    guard let bytes = Int64(value), bytes >= 0 else { return nil }
    return bytes >= cgroupUnlimitedThreshold ? .some(nil) : .some(bytes)
}

/// CPUs a CFS quota allows, in thousandths of a CPU, rounded down (`150000/100000` → 1500).
public func milliCPUs(quotaMicros: Int64, periodMicros: Int64) -> Int64 {
    guard periodMicros > 0 else { return 0 }
    return quotaMicros.multipliedReportingOverflow(by: 1000).overflow
        ? Int64.max / periodMicros : quotaMicros * 1000 / periodMicros
}

/// Signals that say the same thing once, in a fixed order.
func deduplicated(_ signals: [ContainerSignal]) -> [ContainerSignal] {
    var seen = Set<ContainerSignal>()
    return signals.filter { seen.insert($0).inserted }
}
