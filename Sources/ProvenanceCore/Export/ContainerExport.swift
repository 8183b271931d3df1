/// A `Dockerfile` and an Apptainer definition that rebuild the recorded environment: the base
/// image from the recorded OS (with the image digest when the container section recorded one),
/// the OS package pins, the Python lock (into `/opt/venv`), the determinism-related environment
/// variables recorded, and each repository at its recorded commit with its patch applied.
///
/// The base image is an `ARG BASE_IMAGE` (`--build-arg BASE_IMAGE=…` overrides it, e.g. with a
/// local mirror). Patches are copied from the build context under the file name the manifest's
/// `attachments` gives (`env.diff.patch`).
enum ContainerExport {
    /// Environment variables that change numerical results or their determinism, set in the
    /// image when recorded. Locations (PATH, VIRTUAL_ENV, LD_LIBRARY_PATH), endpoints and
    /// masked values are left out.
    static let determinismVariables: Set<String> = [
        "CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED", "CUDA_LAUNCH_BLOCKING", "TF_DETERMINISTIC_OPS",
        "TF_CUDNN_DETERMINISTIC", "TF_ENABLE_ONEDNN_OPTS", "TF_USE_CUDNN_AUTOTUNE", "XLA_FLAGS",
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
        "MKL_CBWR", "KMP_DETERMINISTIC_REDUCTION", "NCCL_ALGO", "NCCL_PROTO", "CUDNN_DETERMINISTIC",
        "TORCH_CUDNN_V8_API_DISABLED", "PYTORCH_CUDA_ALLOC_CONF", "NVIDIA_TF32_OVERRIDE", "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE",
        "MIOPEN_DEBUG_CONV_DETERMINISTIC", "HIP_LAUNCH_BLOCKING", "JAX_ENABLE_X64", "JAX_DEFAULT_MATMUL_PRECISION",
        "PYTHONOPTIMIZE", "PYTHONUTF8", "TZ", "SOURCE_DATE_EPOCH", "LANG", "LC_ALL",
    ]

    /// What both formats need, worked out once.
    struct Plan {
        var baseImage: String?
        var baseNote: String
        var osManager: String?
        var pins: [String] = []
        var pinsManager: String?
        var python: [String] = []
        var pythonIndexes: [String] = []
        var variables: [(String, String)] = []
        var repositories: [(dir: String, url: String, commit: String, patch: String?)] = []
        var skipped: [Export.Skipped] = []
    }

    static func plan(_ input: ExportInput) -> Plan {
        let (image, note, manager) = baseImage(input.osRelease)
        var plan = Plan(baseImage: image, baseNote: note, osManager: manager)
        if var base = plan.baseImage, let digest = input.containerImageDigest.map(Export.clean), digest.hasPrefix("sha256:") {
            // The recorded digest belongs to the recorded image, which may not be this name's.
            if let name = input.containerImageName.map(Export.clean), !name.isEmpty {
                base = name.split(separator: "@").first.map(String.init) ?? name
            }
            plan.baseImage = base + "@" + digest
            plan.baseNote = "the image the capture ran in, by its recorded digest"
        }
        if plan.baseImage == nil { plan.skipped.append(Export.Skipped("base image", note)) }

        for group in OSPackagesExport.pins(input) {
            if group.manager == manager {
                plan.pins = group.pins
                plan.pinsManager = group.manager
            } else {
                plan.skipped.append(Export.Skipped("\(group.pins.count) \(group.manager) package pins",
                                                   "the base image's package manager is \(manager ?? "unknown")"))
            }
        }
        if input.has("python") {
            for distribution in input.distributions {
                switch RequirementsExport.line(for: distribution) {
                case .requirement(let text, let extraIndex, _):
                    if let extraIndex, !plan.pythonIndexes.contains(extraIndex) { plan.pythonIndexes.append(extraIndex) }
                    plan.python.append(text)
                case .skipped(let text, let reason):
                    plan.skipped.append(Export.Skipped(text, reason))
                }
            }
        }
        let recorded = input.environmentVariables
        for name in recorded.keys.sorted() where determinismVariables.contains(name) {
            let value = recorded[name]!
            if value.contains(Secrets.mask) {
                plan.skipped.append(Export.Skipped("environment \(name)", "its value was masked at capture"))
            } else {
                plan.variables.append((Export.clean(name), Export.clean(value)))
            }
        }
        for repository in input.repositories {
            let dir = "/src/" + Export.clean(String(repository.path.split(separator: "/").last ?? "repo"))
            guard let commit = repository.commit.map(Export.clean) else {
                plan.skipped.append(Export.Skipped("repository \(repository.path)", "no commit recorded"))
                continue
            }
            guard let url = (repository.remotes["origin"] ?? repository.remotes.sorted { $0.key < $1.key }.first?.value)
                .map(Export.clean)
            else {
                plan.skipped.append(Export.Skipped("repository \(repository.path)", "no remote recorded: copy the repository into the build context"))
                continue
            }
            if url.contains(Secrets.mask) {
                plan.skipped.append(Export.Skipped("repository \(url)", "the remote's credentials were masked at capture"))
                continue
            }
            if repository.patchDigest != nil, repository.patchFile == nil {
                plan.skipped.append(Export.Skipped("patch of \(repository.path)", "the patch is inline in the manifest, not a file beside it"))
            }
            if let omitted = repository.patchOmitted {
                plan.skipped.append(Export.Skipped("patch of \(repository.path)", "not kept at capture: \(omitted)"))
            }
            plan.repositories.append((dir, url, commit, repository.patchFile.map(Export.clean)))
        }
        return plan
    }

    static func dockerfile(_ input: ExportInput) throws(Export.Error) -> Export.Output {
        let plan = plan(input)
        guard plan.baseImage != nil || !plan.pins.isEmpty || !plan.python.isEmpty || !input.osRelease.isEmpty else {
            throw Export.Error(description: "the manifest has no os, packages or python section with data: nothing to build")
        }
        var out = Export.header(input, what: "Dockerfile")
        out += Export.skippedComments(plan.skipped)
        out += "# Base: \(plan.baseNote)\n"
        out += plan.baseImage.map { "ARG BASE_IMAGE=\($0)\n" } ?? "# No default base image: build with --build-arg BASE_IMAGE=IMAGE\nARG BASE_IMAGE\n"
        out += "FROM ${BASE_IMAGE}\n"
        if !plan.variables.isEmpty {
            out += "ENV " + plan.variables.map { "\($0.0)=\(dockerQuoted($0.1))" }.joined(separator: " \\\n    ") + "\n"
        }
        out += "SHELL [\"/bin/sh\", \"-eu\", \"-c\"]\n"
        for (index, command) in runCommands(plan).enumerated() {
            if index == 0, let (names, rule) = unpinnedExtras(plan) {
                out += "# Not in the recorded packages, installed unpinned: \(names.joined(separator: " "))\n"
                out += "# hadolint ignore=\(rule)\n"
            }
            out += "RUN " + command.joined(separator: " \\\n    ") + "\n"
        }
        for repository in plan.repositories {
            out += "RUN git clone \(shellQuoted(repository.url)) \(repository.dir) \\\n"
            out += "    && git -C \(repository.dir) checkout --detach \(shellQuoted(repository.commit))\n"
            if let patch = repository.patch {
                out += "COPY \(patch) /tmp/\(patch)\n"
                out += "RUN git -C \(repository.dir) apply --binary /tmp/\(patch)\n"
            }
        }
        if let last = plan.repositories.last { out += "WORKDIR \(last.dir)\n" }
        return Export.Output(text: out, skipped: plan.skipped)
    }

    static func apptainer(_ input: ExportInput) throws(Export.Error) -> Export.Output {
        let plan = plan(input)
        guard let base = plan.baseImage else {
            throw Export.Error(description: "no base image can be derived from the recorded OS (\(plan.baseNote))")
        }
        var out = "Bootstrap: docker\nFrom: \(base)\n\n"
        out += Export.header(input, what: "Apptainer definition")
        out += Export.skippedComments(plan.skipped)
        let patches = plan.repositories.compactMap(\.patch)
        if !patches.isEmpty {
            out += "\n%files\n"
            for patch in patches { out += "    \(patch) /tmp/\(patch)\n" }
        }
        if !plan.variables.isEmpty {
            out += "\n%environment\n"
            for (name, value) in plan.variables { out += "    export \(name)=\(shellQuoted(value))\n" }
        }
        out += "\n%post\n    set -eu\n"
        for (name, value) in plan.variables { out += "    export \(name)=\(shellQuoted(value))\n" }
        for command in runCommands(plan) { out += "    " + command.joined(separator: " \\\n        ") + "\n" }
        for repository in plan.repositories {
            out += "    git clone \(shellQuoted(repository.url)) \(repository.dir)\n"
            out += "    git -C \(repository.dir) checkout --detach \(shellQuoted(repository.commit))\n"
            if let patch = repository.patch { out += "    git -C \(repository.dir) apply --binary /tmp/\(patch)\n" }
        }
        if plan.python.isEmpty && plan.pins.isEmpty && plan.repositories.isEmpty { out += "    true\n" }
        return Export.Output(text: out, skipped: plan.skipped)
    }

    /// What the install steps add without a pin (python3, git: not in the recorded packages),
    /// with the linter rule a Dockerfile's comment must waive for them (hadolint DL3008 apt,
    /// DL3041 dnf, DL3018 apk: "pin versions").
    static func unpinnedExtras(_ plan: Plan) -> (names: [String], rule: String)? {
        var extras: [String] = []
        if !plan.python.isEmpty { extras += ["python3"] + (plan.osManager == "apt" ? ["python3-venv"] : plan.osManager == "apk" ? ["py3-pip"] : []) }
        if !plan.repositories.isEmpty { extras += ["git"] + (plan.osManager == "apt" ? ["ca-certificates"] : []) }
        let pinned = Set(plan.pins.map { String($0.prefix { $0 != "=" && $0 != ":" }) })
        let names = extras.filter { !pinned.contains($0) }
        let rules = ["apt": "DL3008", "dnf": "DL3041", "apk": "DL3018"]
        guard !names.isEmpty, let manager = plan.osManager, let rule = rules[manager] else { return nil }
        return (names, rule)
    }

    /// The install steps, each a list of lines of one shell command.
    static func runCommands(_ plan: Plan) -> [[String]] {
        var commands: [[String]] = []
        var extras: [String] = []
        if !plan.python.isEmpty { extras.append("python3") }
        if !plan.repositories.isEmpty { extras.append("git") }
        let pinned = Set(plan.pins.map { String($0.prefix { $0 != "=" && $0 != ":" }) })
        switch plan.osManager {
        case "apt":
            var names = plan.pins.map(shellQuoted)
            if !plan.python.isEmpty { extras.append("python3-venv") }
            if !plan.repositories.isEmpty { extras.append("ca-certificates") }
            names += extras.filter { !pinned.contains($0) }
            if !names.isEmpty {
                commands.append(["apt-get update", "&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends --allow-downgrades"]
                    + names + ["&& rm -rf /var/lib/apt/lists/*"])
            }
        case "dnf":
            let names = plan.pins.map(shellQuoted) + extras.filter { !pinned.contains($0) }
            if !names.isEmpty { commands.append(["dnf install -y --allowerasing"] + names + ["&& dnf clean all"]) }
        case "apk":
            if !plan.python.isEmpty { extras.append("py3-pip") }
            let names = plan.pins.map(shellQuoted) + extras.filter { !pinned.contains($0) }
            if !names.isEmpty { commands.append(["apk add --no-cache"] + names) }
        default:
            break
        }
        if !plan.python.isEmpty {
            var install = ["python3 -m venv /opt/venv", "&& /opt/venv/bin/python -m pip install --no-cache-dir --no-deps"]
            install += plan.pythonIndexes.map { "--extra-index-url \(shellQuoted($0))" }
            install += plan.python.map(shellQuoted)
            commands.append(install)
        }
        return commands
    }

    /// The base image for an os-release, the note that explains it, and its package manager.
    static func baseImage(_ release: [String: String]) -> (String?, String, String?) {
        let id = Export.clean(release["ID"] ?? "").lowercased()
        let version = Export.clean(release["VERSION_ID"] ?? "")
        let major = String(version.prefix { $0 != "." })
        let name = release["NAME"] ?? ""
        guard !id.isEmpty else { return (nil, "the manifest records no os-release ID", nil) }
        let valid = version.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") }
        let from = "the recorded OS (ID=\(id) VERSION_ID=\(version.isEmpty ? "none" : version))"
        func tagged(_ repo: String, _ tag: String, _ manager: String) -> (String?, String, String?) {
            guard !tag.isEmpty, valid || tag == release["VERSION_CODENAME"] else {
                return (nil, "\(from): no version to pick an image tag", manager)
            }
            return ("\(repo):\(tag)", from, manager)
        }
        switch id {
        case "debian":
            if version.isEmpty, let codename = release["VERSION_CODENAME"].map(Export.clean), !codename.isEmpty {
                return ("debian:\(codename)", from, "apt")
            }
            return tagged("debian", major, "apt")
        case "ubuntu": return tagged("ubuntu", version, "apt")
        case "rocky": return tagged("rockylinux", major, "dnf")
        case "almalinux": return tagged("almalinux", major, "dnf")
        case "fedora": return tagged("fedora", version, "dnf")
        case "centos":
            if name.contains("Stream") { return tagged("quay.io/centos/centos", "stream" + major, "dnf") }
            return tagged("centos", major, "dnf")
        case "rhel": return tagged("registry.access.redhat.com/ubi\(major)/ubi", version, "dnf")
        case "ol": return tagged("oraclelinux", version, "dnf")
        case "amzn": return tagged("amazonlinux", version, "dnf")
        case "alpine": return tagged("alpine", version.split(separator: ".").prefix(2).joined(separator: "."), "apk")
        case "opensuse-leap": return tagged("opensuse/leap", version, "zypper")
        default:
            return (nil, "no official image is known for \(from)", nil)
        }
    }

    static func shellQuoted(_ text: String) -> String {
        let safe = !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-=+:/@,%".contains($0)) }
        return safe ? text : "'" + text.replacing("'", with: "'\\''") + "'"
    }

    static func dockerQuoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            if character == "\"" || character == "\\" || character == "$" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }
}
