// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "provenance",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "provenance", targets: ["provenance"]),
        .library(name: "ProvenanceCore", targets: ["ProvenanceCore"]),
        .library(name: "ProvenanceProbeKit", targets: ["ProvenanceProbeKit"]),
        .library(name: "ProvenanceProbes", targets: ["ProvenanceProbes"]),
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
                           .product(name: "CryptoExtras", package: "swift-crypto")]
        ),
        // The probe contract: Probe, ProbeContext, rooted filesystem, command runners, clocks.
        .target(name: "ProvenanceProbeKit",
                dependencies: ["ProvenanceCore", .product(name: "Crypto", package: "swift-crypto")]),
        // Built-in probes, one per file.
        .target(name: "ProvenanceProbes", dependencies: [
            "ProvenanceCore", "ProvenanceProbeKit", "CLibPCI", "CPCIErrors", "CLibGit2", "CLibGit2Loader", "CLibYAML",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // libpci (pciutils) for the pci probe: module map + non-variadic shims of its variadic calls.
        .systemLibrary(name: "CLibPCI", path: "Sources/CLibPCI", pkgConfig: "libpci", providers: [.apt(["libpci-dev"])]),
        // libpci error/warning handlers (variadic callbacks, written in C) that record the message and
        // longjmp back to the guarded call, so a libpci error never exits the process.
        .target(name: "CPCIErrors", dependencies: ["CLibPCI"]),
        // libgit2's headers (Debian: libgit2-dev), with non-variadic wrappers of git_libgit2_opts in
        // shim.h. Not linked (no pkgConfig: it would add -lgit2, and every start of provenance would
        // load libgit2 and 16 more libraries): CLibGit2Loader loads it when the git probe needs it.
        .systemLibrary(name: "CLibGit2", path: "Sources/CLibGit2", providers: [.apt(["libgit2-dev"])]),
        .target(name: "CLibGit2Loader", dependencies: ["CLibGit2"], path: "Sources/CLibGit2Loader"),
        // libyaml's event parser (Debian: libyaml-dev) for policies and site-probe definitions, instead of
        // Yams, which brings Foundation and ICU: see YAMLLoader.swift and docs/architecture.md.
        .systemLibrary(name: "CLibYAML", path: "Sources/CLibYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // The thin command-line front end.
        .executableTarget(
            name: "provenance",
            dependencies: [
                "ProvenanceCore", "ProvenanceProbeKit", "ProvenanceProbes",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Test helpers: where Fixtures/ is, expected-fact tables, running the built binary.
        .target(name: "ProvenanceTestSupport", dependencies: ["ProvenanceCore", "ProvenanceProbeKit"],
                path: "Tests/Support"),
        .testTarget(name: "ProvenanceCoreTests", dependencies: ["ProvenanceCore"]),
        .testTarget(name: "ProvenanceProbeKitTests", dependencies: ["ProvenanceProbeKit", "ProvenanceTestSupport"]),
        .testTarget(name: "ProvenanceProbesTests",
                    dependencies: ["ProvenanceProbes", "ProvenanceProbeKit", "ProvenanceTestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["ProvenanceCore", "ProvenanceTestSupport", "provenance"]),
    ]
)
