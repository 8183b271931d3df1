import ProvenanceTestSupport
import Testing

/// Whether strace is installed; records an issue when it is not (the tests that trace system
/// calls need it: scripts/install-deps.sh --test installs it).
func straceIsInstalled() -> Bool {
    guard shell("command -v strace").status == 0 else {
        Issue.record("strace is missing: run scripts/install-deps.sh --test")
        return false
    }
    return true
}
