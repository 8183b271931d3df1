import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#endif

/// Where the files that go with a manifest are written: the manifest's directory and its file
/// name without `.json` (`run/env.json` → `run`, `env`); for standard output (`-`), the working
/// directory and `env`.
func companionLocation(of output: String) -> (directory: String, stem: String) {
    guard output != "-" else { return (".", "env") }
    let slash = output.lastIndex(of: "/")
    let directory = slash.map { $0 == output.startIndex ? "/" : String(output[..<$0]) } ?? "."
    var stem = slash.map { String(output[output.index(after: $0)...]) } ?? output
    if stem.hasSuffix(".json") && stem.count > 5 { stem.removeLast(5) }
    return (directory, stem)
}

/// The manifest `output` and the files written beside it, those there already included: its
/// patches (`NAME.diff.patch`, `NAME.diff.N.patch`) and dataset sidecars
/// (`NAME.datasets.*.sha256`). What the git probe must leave out of the state it records.
func companionPaths(of output: String) -> [String] {
    let (directory, stem) = companionLocation(of: output)
    let prefix = directory == "/" ? "/" : directory + "/"
    var paths = [output, prefix + stem + ".diff.patch"]
    guard let stream = opendir(directory) else { return paths }
    defer { closedir(stream) }
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name.hasPrefix(stem + "."), name != stem + ".diff.patch" else { continue }
        let rest = name.dropFirst(stem.count + 1)
        let numberedPatch = rest.hasPrefix("diff.") && rest.hasSuffix(".patch")
            && rest.dropFirst(5).dropLast(6).allSatisfy(\.isNumber) && rest.count > 11
        let sidecar = rest.hasPrefix("datasets.") && rest.hasSuffix(".sha256")
        if numberedPatch || sidecar { paths.append(prefix + name) }
    }
    return paths
}

/// Whether the manifest goes to a stream rather than a file: standard output (`-`), or an
/// existing device, FIFO or socket (`-o /dev/null`, `-o /dev/stdout`), which has no directory
/// to put companion files in.
func isStreamOutput(_ output: String) -> Bool {
    if output == "-" { return true }
    var info = stat()
    guard stat(output, &info) == 0 else { return false }
    let type = info.st_mode & S_IFMT
    return type != S_IFREG && type != S_IFDIR
}

/// Adds the git patches the manifest refers to as attachments: inline (`inline`, or the manifest
/// going to a stream), else as files beside the manifest, returned for writing together with it.
/// `DIR/NAME.json` gets `DIR/NAME.diff.patch`, or `NAME.diff.1.patch`, `NAME.diff.2.patch`, ...
/// when several repositories have one (numbered in the order of the repositories, by path).
func attachPatches(to manifest: inout Manifest, from store: AttachmentStore, output: String, inline: Bool)
    -> [(path: String, bytes: [UInt8])]
{
    let digests = GitProbe.patchDigests(in: manifest.sections["git"])
    var files: [(path: String, bytes: [UInt8])] = []
    let (directory, stem) = companionLocation(of: output)
    let inline = inline || isStreamOutput(output)
    for (index, digest) in digests.enumerated() {
        guard let bytes = store.bytes(for: digest) else { continue }
        if inline {
            manifest.attachments[digest] = Attachment(mediaType: "text/x-diff", sizeBytes: Int64(bytes.count),
                                                      location: .inline(bytes))
        } else {
            let name = digests.count == 1 ? "\(stem).diff.patch" : "\(stem).diff.\(index + 1).patch"
            manifest.attachments[digest] = Attachment(mediaType: "text/x-diff", sizeBytes: Int64(bytes.count),
                                                      location: .file(name))
            files.append(((directory == "/" ? "" : directory) + "/" + name, bytes))
        }
    }
    return files
}
