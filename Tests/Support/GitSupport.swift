import ProvenanceCore
import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#endif

/// Repositories built with the real `git` command line, for the git probe's tests.
public enum GitFixture {
    /// A new empty directory under /tmp.
    public static func directory(_ name: String = "repo") -> String {
        let path = "/tmp/provenance-git-\(getpid())-\(UInt32.random(in: 0...UInt32.max))/\(name)"
        _ = shell("mkdir -p '\(path)'")
        return path
    }

    /// Runs a shell script in `directory` with a fixed git identity and no system configuration;
    /// returns its exit status and standard output with standard error.
    @discardableResult
    public static func run(_ script: String, in directory: String) -> (status: Int32?, output: String) {
        shell("""
            cd '\(directory)' && export GIT_AUTHOR_NAME=Test GIT_AUTHOR_EMAIL=test@example.com \
            GIT_COMMITTER_NAME=Test GIT_COMMITTER_EMAIL=test@example.com GIT_CONFIG_NOSYSTEM=1 && \
            { \(script)
            } 2>&1
            """, timeout: 60)
    }

    /// The standard output of a git command in `directory`, trimmed.
    public static func git(_ arguments: String, in directory: String) -> String {
        run("git \(arguments)", in: directory).output.trimmed
    }

    /// A repository with two commits (`v1.0` tags the first), a remote whose URL carries a
    /// token (`https://user:secret-token@host/r.git`), and every kind of uncommitted change:
    /// staged (modified, added, deleted), unstaged (modified, deleted, mode change, binary
    /// rewrite, a file turned into a symbolic link), a file both staged and unstaged, untracked files (binary of random bytes, nested
    /// directory, empty file, Latin-1 text, symbolic link) and ignored files.
    public static func dirtyRepository(at directory: String) -> (status: Int32?, output: String) {
        run("""
            set -e
            git init -q -b main .
            printf 'alpha\\nbeta\\n' > a.txt
            printf 'keep me\\n' > deleted.txt
            printf 'to be removed from the index\\n' > staged-deleted.txt
            printf 'staged base\\n' > staged.txt
            printf 'a file, then a link\\n' > kind.txt
            mkdir -p src
            printf 'int main(void) { return 0; }\\n' > src/main.c
            printf '#!/bin/sh\\necho run\\n' > src/run.sh
            printf '*.log\\nbuild/\\n' > .gitignore
            head -c 3000 /dev/urandom > data.bin
            git add -A
            git commit -q -m first
            git tag v1.0
            printf 'gamma\\n' >> a.txt
            git commit -q -am second
            git remote add origin https://user:secret-token@host/r.git
            printf 'staged change\\n' >> staged.txt && git add staged.txt
            git rm -q staged-deleted.txt
            printf 'new staged file\\n' > added.txt && git add added.txt
            printf '/* staged */\\n' >> src/main.c && git add src/main.c && printf '/* unstaged */\\n' >> src/main.c
            printf 'delta\\n' >> a.txt
            rm deleted.txt
            rm kind.txt && ln -s a.txt kind.txt
            chmod +x src/run.sh
            head -c 2500 /dev/urandom > data.bin
            head -c 4096 /dev/urandom > new.bin
            mkdir -p notes/deep && printf 'a note\\n' > notes/deep/n.txt
            : > empty.txt
            printf 'caf\\351\\n' > latin1.txt
            ln -s a.txt link
            printf 'ignored\\n' > debug.log
            mkdir -p build && printf 'ignored too\\n' > build/out.o
            """, in: directory)
    }

    /// Counts of `git status --porcelain=v2 -uall --no-renames`: staged (X is not `.`),
    /// unstaged (Y is not `.`), untracked (`?`) and conflicted (`u`) entries.
    public static func porcelainCounts(in directory: String)
        -> (staged: Int, unstaged: Int, untracked: Int, conflicted: Int)
    {
        let text = run("git status --porcelain=v2 -uall --no-renames", in: directory).output
        var counts = (staged: 0, unstaged: 0, untracked: 0, conflicted: 0)
        for line in text.lines {
            let fields = line.split(separator: " ", maxSplits: 2)
            switch fields.first {
            case "1", "2":
                let xy = Array(fields[1])
                if xy[0] != "." { counts.staged += 1 }
                if xy[1] != "." { counts.unstaged += 1 }
            case "u": counts.conflicted += 1
            case "?": counts.untracked += 1
            default: break
            }
        }
        return counts
    }
}
