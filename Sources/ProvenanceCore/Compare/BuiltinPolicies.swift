/// The policies shipped with provenance: `strict`, `default`, `lenient`.
///
/// None ignores by omission: what no rule names (a field a probe gains, a site probe's section)
/// falls to a default that compares it (`strict`: an error; `default` and `lenient`: a
/// warning). Every `ignore` is a rule of its own.
extension Policy {
    public static let builtins: [Policy] = [.strict, .default, .lenient]

    public static func builtin(named name: String) -> Policy? { builtins.first { $0.name == name } }

    /// Fields that name a machine or a device rather than describe the environment.
    static let identityRules: [Entry] = [
        Entry("**.serial", .ignore), Entry("**.uuid", .ignore), Entry("**.boardId", .ignore),
        Entry("**.uniqueId", .ignore),
    ]

    /// Where things are, not what they are: a reviewer's clone, venv and data copy sit at other
    /// paths, under another user, on another host. Repositories and datasets are matched by
    /// identity and name (`verify --repo`, `--dataset`); their contents are still compared.
    static let locationRules: [Entry] = [
        Entry("git.repositories[*].path", .ignore), Entry("datasets.*.path", .ignore), Entry("datasets.*.realPath", .ignore),
        Entry("python.executable", .ignore), Entry("python.resolvedExecutable", .ignore), Entry("python.prefix", .ignore),
        Entry("python.sitePackages", .ignore), Entry("python.distributions[*].location", .ignore),
        Entry("run.workingDirectory", .ignore), Entry("run.userID", .ignore), Entry("run.groupID", .ignore),
        Entry("environment.variables.PATH", .ignore), Entry("environment.variables.VIRTUAL_ENV", .ignore),
        Entry("environment.variables.CONDA_PREFIX", .ignore), Entry("environment.variables.PYTHONPATH", .ignore),
        Entry("environment.variables.LD_LIBRARY_PATH", .ignore), Entry("toolchains.tools.*.path", .ignore),
    ]

    /// Everything that is recorded must be the same, but identity fields and locations.
    public static let strict = Policy(
        name: "strict",
        description: "Every recorded fact must be the same, except identity fields (serial numbers, UUIDs) and "
            + "locations (paths, users).",
        rules: identityRules + locationRules,
        fallback: Entry("default", .equal, .error))

    /// What changes numerical results: code, data, drivers, CUDA/ROCm, libraries, CPU model and
    /// flags, the kernel, determinism-related environment. Not host names, serials, dates, memory size.
    public static let `default` = Policy(
        name: "default",
        description: "What changes numerical results: code, data, GPU driver and CUDA/ROCm stack, libraries and "
            + "packages, CPU model and flags, kernel and distribution, determinism-related environment.",
        rules: identityRules + locationRules + [
            // Packages: a recorded one missing is an error, one installed since a warning (subset).
            Entry("python.distributions[*]", .subset), Entry("packages.*.packages[*]", .subset),
            // Code and data.
            // Code: the commit, the patch of uncommitted changes and the submodules decide what runs.
            // How the checkout is named and tracked (branch, tags, describe, upstream, remotes, the
            // staged/unstaged split that one patch can give either way) does not.
            Entry("git.repositories[*].commit", .equal), Entry("git.repositories[*].diff**", .equal),
            Entry("git.repositories[*].submodules**", .equal),
            Entry("git.repositories[*].branch", .ignore), Entry("git.repositories[*].detached", .ignore),
            Entry("git.repositories[*].tags", .ignore), Entry("git.repositories[*].describe", .ignore),
            Entry("git.repositories[*].upstream**", .ignore), Entry("git.repositories[*].remotes**", .ignore),
            Entry("git.repositories[*].status**", .ignore), Entry("git.repositories[*].shallow", .ignore),
            Entry("git.repositories[*].worktree", .ignore),
            Entry("git.**", .equal), Entry("datasets.**", .equal),
            // The driver must support at least the recorded CUDA version; the rest of the GPU stack is exact.
            Entry("gpu.nvidia.cudaDriverVersion", .atLeast), Entry("gpu.nvidia.driverVersion", .equal),
            Entry("gpu.nvidia.gpus[*].productName", .equal), Entry("gpu.nvidia.gpus[*].migDevices**", .equal),
            Entry("gpu.nvidia.gpus", .equal), Entry("gpu.nvidia.gpus[*]", .equal),
            Entry("gpu.nvidia.gpus[*].applicationClocks**", .equal, .warning),
            Entry("gpu.nvidia.gpus[*].deferredMemoryClockMHz", .equal, .warning),
            Entry("gpu.nvidia.gpus[*].autoBoost", .equal, .warning),
            Entry("gpu.nvidia.**", .ignore),
            // How GPUs, NICs and CPUs are connected: speed, not results.
            Entry("gpu.topology.**", .equal, .warning),
            Entry("gpu.amd.driverVersion", .equal), Entry("gpu.amd.cards[*].series", .equal),
            Entry("gpu.amd.cards", .equal), Entry("gpu.amd.cards[*]", .equal), Entry("gpu.amd.**", .ignore),
            Entry("cuda.visibleDevices**", .equal, .warning),
            // The CUDA, cuDNN and NCCL a framework was built with and loads change results (cuda.**,
            // below); where the venv lies does not.
            Entry("cuda.frameworks[*].location", .ignore), Entry("cuda.frameworks[*].sources", .ignore),
            Entry("cuda.frameworks[*].libraries[*].file", .ignore), Entry("cuda.pythonWheels[*].location", .ignore),
            Entry("cuda.conflicts**", .equal, .warning),
            Entry("cuda.**", .equal),
            // Speed, not results: CPU frequency scaling, boost, SMT; the HPC stack's versions.
            Entry("tuning.frequencyScaling[*].governor", .equal, .warning), Entry("tuning.frequencyScaling[*].driver", .equal, .warning),
            Entry("tuning.boost", .equal, .warning), Entry("tuning.intelPState.noTurbo", .equal, .warning),
            Entry("tuning.smtControl", .equal, .warning), Entry("tuning.**", .ignore),
            Entry("software.stack.modules.loaded**", .equal, .warning), Entry("software.stack.easybuild[*].version", .equal, .warning),
            Entry("software.stack.spack.lockSHA256", .equal, .warning), Entry("software.stack.**", .ignore),
            Entry("mpi.implementations[*].version", .equal, .warning), Entry("mpi.ucx.version", .equal, .warning),
            Entry("mpi.libfabric.version", .equal, .warning), Entry("mpi.**", .ignore),
            Entry("rdma.adapters[*].firmware", .equal, .warning), Entry("rdma.**", .ignore),
            // Software.
            Entry("packages.**", .equal), Entry("python.**", .equal), Entry("libc.**", .equal),
            Entry("toolchains.**", .equal, .warning), Entry("container.image**", .equal),
            Entry("container.engine", .equal, .warning), Entry("container.**", .ignore),
            Entry("environment.**", .equal),
            // The machine.
            Entry("cpu.architectureFamily", .equal), Entry("cpu.vendor", .equal), Entry("cpu.modelName", .equal),
            Entry("cpu.identification.**", .equal), Entry("cpu.flags", .subset), Entry("cpu.microcode", .equal, .warning),
            Entry("cpu.logicalCPUs", .equal, .warning), Entry("cpu.**", .ignore),
            Entry("os.kernel.release", .equal), Entry("os.architecture", .equal),
            Entry("os.osRelease.ID", .equal), Entry("os.osRelease.VERSION_ID", .equal), Entry("os.**", .ignore),
            Entry("memory.**", .ignore), Entry("pci.**", .ignore), Entry("scheduler.**", .ignore),
            Entry("run.**", .ignore),
            // A probe that worked when recorded and does not now cannot vouch for its facts.
            Entry("*.status", .equal, .warning), Entry("*.*.status", .equal, .warning),
        ],
        fallback: Entry("default", .equal, .warning))

    /// Only code, data and the major CUDA versions.
    public static let lenient = Policy(
        name: "lenient",
        description: "Only code, data, the CUDA version the driver supports and the major CUDA toolkit version.",
        rules: identityRules + [
            Entry("git.**", .equal), Entry("datasets.**", .equal),
            Entry("gpu.nvidia.cudaDriverVersion", .atLeast, .warning), Entry("cuda.toolkit.version", .sameMajor, .warning),
        ] + lenientIgnored.map { Entry($0 + ".**", .ignore) },
        fallback: Entry("default", .equal, .warning))

    /// The built-in sections `lenient` leaves out: all but code and data (their ids, from the models).
    static var lenientIgnored: [String] {
        SectionModels.all.map { $0.sectionID }.filter { $0 != GitSection.sectionID && $0 != DatasetsSection.sectionID }
    }
}
