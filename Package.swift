// swift-tools-version:6.0
import PackageDescription

// provenance starts before every job, and each start meets its types for the first time. By
// default the compiler has code find a concrete generic type's metadata by its mangled name
// (`KeyedEncodingContainer<Section.CodingKeys>` in every model's `encode(to:)`): the runtime
// demangles the name and checks each generic requirement by scanning all 5,400 protocol
// conformance records of the binary, once per type. This flag makes the code call the type's
// metadata accessor with the conformances it already has. Measured on a capture outside a
// repository (2 cores, 80 alternating runs, medians): 22.1 → 20.7 ms of CPU, 16.6 → 15.7 ms of
// wall time; `swift_getTypeByMangledName` 8.2% → 3.7% of the samples; the binary 74 KB larger.
let startUp: [SwiftSetting] = [.unsafeFlags(["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors"])]

let package = Package(
    name: "provenance",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "provenance", targets: ["provenance"]),
        .library(name: "ProvenanceCore", targets: ["ProvenanceCore"]),
        .library(name: "ProvenanceProbeKit", targets: ["ProvenanceProbeKit"]),
        .library(name: "ProvenanceProbes", targets: ["ProvenanceProbes"]),
        // The LD_PRELOAD interposer of `provenance run --trace` (libprovenance-trace.so).
        .library(name: "provenance-trace", type: .dynamic, targets: ["CProvenanceTrace"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // CryptoExtras reads and writes Ed25519 PEM (PKCS#8, SubjectPublicKeyInfo) since apple/swift-crypto#419
        // (2025); 4.5.2 is the version checked. Package.resolved pins the exact revisions.
        .package(url: "https://github.com/apple/swift-crypto", "4.5.2"..<"5.0.0"),
    ],
    targets: [
        // Pure: manifest model, canonical JSON, fingerprint. No I/O, no C libraries of ours.
        .target(
            name: "ProvenanceCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "CryptoExtras", package: "swift-crypto")],
            swiftSettings: startUp
        ),
        // The probe contract: Probe, ProbeContext, rooted filesystem, command runners, clocks.
        .target(name: "ProvenanceProbeKit",
                dependencies: ["ProvenanceCore", "CGlibcExtras", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: startUp),
        // Built-in probes, one per file.
        .target(name: "ProvenanceProbes", dependencies: [
            "ProvenanceCore", "ProvenanceProbeKit", "CLibPCI", "CPCIErrors", "CLibGit2", "CLibGit2Static", "CLibYAML",
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: startUp,
           // libyaml from its static archive (libyaml-dev, no autolink in its module map): one
           // library fewer to load at every start.
           linkerSettings: [.unsafeFlags(["-Xlinker", "-l:libyaml.a"])]),
        // libpci (pciutils) for the pci probe: module map + non-variadic shims of its variadic calls.
        .systemLibrary(name: "CLibPCI", path: "Sources/CLibPCI", pkgConfig: "libpci", providers: [.apt(["libpci-dev"])]),
        // libpci error/warning handlers (variadic callbacks, written in C) that record the message and
        // longjmp back to the guarded call, so a libpci error never exits the process.
        .target(name: "CPCIErrors", dependencies: ["CLibPCI"]),
        // libgit2's headers (Debian: libgit2-dev), with non-variadic wrappers of git_libgit2_opts in
        // shim.h. No pkgConfig: it would link the shared library, and every start of provenance would
        // load libgit2 and 16 more libraries. CLibGit2Static links the static archives instead.
        .systemLibrary(name: "CLibGit2", path: "Sources/CLibGit2", providers: [.apt(["libgit2-dev"])]),
        // libgit2 and what it needs from Debian's static archives (libgit2-dev and the -dev packages
        // it depends on), so nothing is loaded at run time (Sources/CLibGit2Static/start.c has the
        // figures). Archives come in dependency order; zlib is the shared library the binary loads
        // anyway (libpci needs it). --wrap sends libgit2's CA bundle parse to start.c, which skips
        // it while libgit2 starts.
        .target(name: "CLibGit2Static", dependencies: ["CLibGit2"], path: "Sources/CLibGit2Static",
                linkerSettings: [
                    .unsafeFlags(["-Xlinker", "--wrap=mbedtls_x509_crt_parse_file"]
                        + ["git2", "ssh2", "mbedtls", "mbedx509", "mbedcrypto", "http_parser", "pcre2-8", "crypto"]
                        .flatMap { ["-Xlinker", "-l:lib\($0).a"] }),
                    .linkedLibrary("z"),
                ]),
        // The interposer preloaded into traced jobs: plain C, no Swift runtime (it is loaded into
        // every process of the job). Never a dependency of another target: provenance itself must
        // not interpose its own calls. Built as the dynamic library product above.
        .target(name: "CProvenanceTrace", path: "Sources/CProvenanceTrace",
                cSettings: [.unsafeFlags(["-fvisibility=hidden", "-O2"])],
                // The product is linked by the Swift driver, which adds its start-up object (swiftrt.o)
                // and the Swift runtime: -nostartfiles leaves the object out, -static-stdlib makes the
                // runtime an archive nothing is taken from, --as-needed drops what is unused, and
                // -L Linker makes the driver's -lstdc++ the static archive (Linker/libstdc++.so), from
                // which nothing is taken either. A traced process then loads libc and libm, not the
                // Swift runtime or libstdc++.
                linkerSettings: [.unsafeFlags(["-nostartfiles", "-static-stdlib", "-Xlinker", "--as-needed",
                                               "-L", Context.packageDirectory + "/Linker"])]),
        // `run --trace`: starts the job with the interposer and turns its trace into the run record.
        .target(name: "ProvenanceTrace", dependencies: ["ProvenanceCore", "ProvenanceProbeKit", "ProvenanceProbes"],
                swiftSettings: startUp),
        // libyaml's event parser (Debian: libyaml-dev) for policies and site-probe definitions, instead of
        // Yams, which brings Foundation and ICU: see YAMLLoader.swift and docs/architecture.md.
        .systemLibrary(name: "CLibYAML", path: "Sources/CLibYAML", providers: [.apt(["libyaml-dev"])]),
        // glibc declarations the Glibc module does not import: <malloc.h> (mallopt: the command line
        // sets the allocator up for its threads) and <sys/statfs.h> (caches trust file times only on
        // local filesystems).
        .systemLibrary(name: "CGlibcExtras", path: "Sources/CGlibcExtras"),
        // The thin command-line front end.
        .executableTarget(
            name: "provenance",
            dependencies: [
                "ProvenanceCore", "ProvenanceProbeKit", "ProvenanceProbes", "ProvenanceTrace", "CGlibcExtras",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: startUp,
            // Release builds take the C++ library and the unwinder (libgcc_s) the Swift runtime needs
            // from their static archives (Linker/libstdc++.so says why, with figures). Debug builds
            // link the runtime as shared libraries, which load both anyway.
            linkerSettings: [.unsafeFlags(["-L", Context.packageDirectory + "/Linker", "-Xclang-linker", "-static-libgcc"],
                                          .when(configuration: .release))]
        ),
        // Test helpers: where Fixtures/ is, expected-fact tables, running the built binary.
        .target(name: "ProvenanceTestSupport", dependencies: ["ProvenanceCore", "ProvenanceProbeKit"],
                path: "Tests/Support"),
        .testTarget(name: "ProvenanceCoreTests", dependencies: ["ProvenanceCore"]),
        .testTarget(name: "ProvenanceProbeKitTests", dependencies: ["ProvenanceProbeKit", "ProvenanceTestSupport"]),
        .testTarget(name: "ProvenanceProbesTests",
                    dependencies: ["ProvenanceProbes", "ProvenanceProbeKit", "ProvenanceTestSupport"]),
        .testTarget(name: "ProvenanceTraceTests", dependencies: ["ProvenanceTrace", "ProvenanceCore"]),
        .testTarget(name: "EndToEndTests",
                    dependencies: ["ProvenanceCore", "ProvenanceProbes", "ProvenanceTestSupport", "ProvenanceTrace", "provenance"]),
    ]
)
