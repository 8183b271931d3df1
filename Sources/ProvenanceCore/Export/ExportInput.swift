/// What the exporters read from a manifest, in one place.
///
/// Every read of the manifest's untyped JSON by the exporters goes through this file, so that
/// when the sections get typed `Codable` models (Sources/ProvenanceCore/Models/) only these
/// accessors change. Each accessor returns nil (or an empty list) when the section is absent,
/// failed or skipped, or has no data.
public struct ExportInput: Sendable {
    public struct Distribution: Sendable, Equatable {
        public var name: String
        public var version: String
        /// PEP 610 `direct_url.json` url (credentials masked at capture).
        public var directURL: String?
        public var vcsCommit: String?
        public var editable: Bool
        /// `algorithm=hex` of the archive (`direct_url.json` `archive_info.hash`), where recorded.
        public var archiveHash: String?
    }

    public struct CondaPackage: Sendable, Equatable {
        public var name: String
        public var version: String
        public var build: String?
        public var channel: String?
        /// The package file's URL (`conda-meta/*.json` `url`), where recorded.
        public var url: String?
        public var md5: String?
    }

    public struct SystemPackage: Sendable, Equatable {
        public var name: String
        public var version: String
        public var architecture: String?
    }

    public struct Repository: Sendable, Equatable {
        public var path: String
        public var commit: String?
        /// Remote name → URL, credentials masked at capture.
        public var remotes: [String: String]
        /// `sha256:` digest of the uncommitted patch, when there was one.
        public var patchDigest: String?
        /// The patch's file name beside the manifest (`env.diff.patch`), from `attachments`.
        public var patchFile: String?
        /// Why the patch was not kept, when it was not.
        public var patchOmitted: String?
    }

    public let manifest: JSONValue

    public init(manifest: JSONValue) {
        self.manifest = manifest
    }

    /// A section's data when its status is ok or partial.
    func data(_ id: String) -> JSONValue? {
        guard let section = manifest["sections"]?[id],
              let status = section["status"]?.stringValue, status == "ok" || status == "partial"
        else { return nil }
        return section["data"]
    }

    /// Whether the manifest has the section with data.
    public func has(_ id: String) -> Bool { data(id) != nil }

    public var captureTime: String? { manifest["captureTime"]?.stringValue }
    public var fingerprint: String? { manifest["fingerprint"]?.stringValue }

    // MARK: python

    public var pythonVersion: String? { data("python")?["version"]?.stringValue }
    public var pythonEnvironmentKind: String? { data("python")?["environmentKind"]?.stringValue }

    public var distributions: [Distribution] {
        (data("python")?["distributions"]?.arrayValue ?? []).compactMap { record in
            guard let name = record["name"]?.stringValue, let version = record["version"]?.stringValue else { return nil }
            var editable = false
            if case .bool(let flag)? = record["editable"] { editable = flag }
            return Distribution(name: name, version: version, directURL: record["directURL"]?.stringValue,
                                vcsCommit: record["vcsCommit"]?.stringValue, editable: editable,
                                archiveHash: record["archiveHash"]?.stringValue)
        }
    }

    public var condaPackages: [CondaPackage] {
        (data("python")?["condaPackages"]?.arrayValue ?? []).compactMap { record in
            guard let name = record["name"]?.stringValue, let version = record["version"]?.stringValue else { return nil }
            return CondaPackage(name: name, version: version, build: record["build"]?.stringValue,
                                channel: record["channel"]?.stringValue, url: record["url"]?.stringValue,
                                md5: record["md5"]?.stringValue)
        }
    }

    // MARK: OS

    public var osRelease: [String: String] {
        (data("os")?["osRelease"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    public var architecture: String? { data("os")?["architecture"]?.stringValue }

    /// `packages.dpkg`, `packages.rpm` or `packages.apk` by manager name (`dpkg`).
    public func systemPackages(_ manager: String) -> [SystemPackage]? {
        guard let records = data("packages." + manager)?["packages"]?.arrayValue else { return nil }
        return records.compactMap { record in
            guard let name = record["name"]?.stringValue, let version = record["version"]?.stringValue else { return nil }
            return SystemPackage(name: name, version: version, architecture: record["architecture"]?.stringValue)
        }
    }

    // MARK: container

    public var containerImageName: String? { data("container")?["imageName"]?.stringValue }
    public var containerImageDigest: String? { data("container")?["imageDigest"]?.stringValue }

    // MARK: environment

    /// Recorded variables (masked values read `[masked]`).
    public var environmentVariables: [String: String] {
        (data("environment")?["variables"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    // MARK: git

    public var repositories: [Repository] {
        (data("git")?["repositories"]?.arrayValue ?? []).compactMap { record in
            guard let path = record["path"]?.stringValue else { return nil }
            let digest = record["diff"]?["sha256"]?.stringValue
            return Repository(
                path: path, commit: record["commit"]?.stringValue,
                remotes: (record["remotes"]?.objectValue ?? [:]).compactMapValues(\.stringValue),
                patchDigest: digest,
                patchFile: digest.flatMap { manifest["attachments"]?[$0]?["file"]?.stringValue },
                patchOmitted: record["diff"]?["omittedReason"]?.stringValue)
        }
    }
}
