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
/// `DIR/NAME.json` gets `DIR/NAME.diff.HEX12.patch` per patch (`AttachmentStore.patchFileName`).
func attachPatches(to manifest: inout Manifest, from store: AttachmentStore, output: String, inline: Bool)
    -> [(path: String, bytes: [UInt8])]
{
    let digests = GitProbe.patchDigests(in: manifest.sections["git"])
    var files: [(path: String, bytes: [UInt8])] = []
    let (directory, stem) = companionLocation(of: output)
    let inline = inline || isStreamOutput(output)
    for digest in digests {
        guard let bytes = store.bytes(for: digest) else { continue }
        if inline {
            manifest.attachments[digest] = Attachment(mediaType: "text/x-diff", sizeBytes: Int64(bytes.count),
                                                      location: .inline(bytes))
        } else {
            let name = AttachmentStore.patchFileName(stem: stem, digest: digest)
            manifest.attachments[digest] = Attachment(mediaType: "text/x-diff", sizeBytes: Int64(bytes.count),
                                                      location: .file(name))
            files.append(((directory == "/" ? "" : directory) + "/" + name, bytes))
        }
    }
    return files
}

/// Whether a file beside `output` is a patch an earlier capture to `output` wrote (removed once
/// the new manifest is in place, unless the new one refers to it).
func isObsoleteCompanion(of output: String) -> ((String) -> Bool)? {
    if isStreamOutput(output) { return nil }
    let stem = companionLocation(of: output).stem
    return { AttachmentStore.isPatchFileName($0, stem: stem) }
}
