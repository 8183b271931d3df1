import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

/// A venv with real MLflow (mlflow-skinny) and wandb from the package index, made once.
let trackerVenv: String? = {
    let directory = temporaryDirectory() + "/trackers"
    let made = shell("python3 -m venv '\(directory)' && '\(directory)/bin/python' -m pip install -q mlflow-skinny wandb 2>&1",
                     timeout: 600)
    return made.status == 0 ? directory : nil
}()

@Suite("run hands provenance to MLflow and W&B", .serialized)
struct TrackerHandoffTests {
    @Test("a job's mlflow.start_run() carries the provenance tags; the documented hand-off logs env.json as an artifact")
    func mlflow() throws {
        let venv = try #require(trackerVenv, "could not install mlflow-skinny and wandb from the package index")
        let directory = temporaryDirectory()
        let repository = GitFixture.directory()
        try #require(GitFixture.dirtyRepository(at: repository).status == 0)
        let job = """
            import mlflow, os
            mlflow.set_tracking_uri("file://\(directory)/mlruns")
            with mlflow.start_run() as run:
                mlflow.log_param("lr", 0.1)
                mlflow.log_artifacts(os.environ["PROVENANCE_RUN_DIR"], artifact_path="provenance")
                print(run.info.run_id)
            """
        try AtomicFile.write(Array(job.utf8), to: directory + "/job.py")
        let result = GitFixture.run("MLFLOW_ALLOW_FILE_STORE=true '\(Project.executable)' run -q --only os --only git "
            + "--out '\(directory)/r' -- '\(venv)/bin/python' '\(directory)/job.py'", in: repository)
        #expect(result.status == 0, "\(result.output)")
        let runID = try #require(result.output.split(separator: "\n").last.map(String.init))
        let runDirectory = try #require(shell("find '\(directory)/mlruns' -maxdepth 2 -name '\(runID)'").output.lines.first)
        let manifest = try readJSON(directory + "/r/env.json")
        func tag(_ name: String) -> String? { try? RootedFileSystem().read("\(runDirectory)/tags/\(name)") }
        #expect(tag("provenance.fingerprint") == manifest["fingerprint"]?.stringValue)
        #expect(tag("provenance.git.commit") == GitFixture.git("rev-parse HEAD", in: repository))
        #expect(tag("provenance.git.dirty") == "true")
        #expect(tag("provenance.run_dir") == directory + "/r")
        let artifact = try #require(try RootedFileSystem().readBytes("\(runDirectory)/artifacts/provenance/env.json"))
        #expect(artifact == (try RootedFileSystem().readBytes(directory + "/r/env.json")))
        let patch = try #require(manifest["attachments"]?.objectValue?.values.first?["file"]?.stringValue)
        #expect(RootedFileSystem().exists("\(runDirectory)/artifacts/provenance/\(patch)"))
    }

    @Test("a W&B run in offline mode started with config=$PROVENANCE_WANDB_CONFIG has the provenance summary in its config")
    func wandb() throws {
        let venv = try #require(trackerVenv, "could not install mlflow-skinny and wandb from the package index")
        let directory = temporaryDirectory()
        let job = """
            import os, wandb
            run = wandb.init(project="p", mode="offline", dir="\(directory)", config=os.environ["PROVENANCE_WANDB_CONFIG"])
            print("FINGERPRINT=" + str(run.config["provenance.fingerprint"]))
            run.finish()
            """
        try AtomicFile.write(Array(job.utf8), to: directory + "/job.py")
        let result = shell("cd '\(directory)' && WANDB_SILENT=true '\(Project.executable)' run -q --only os --out '\(directory)/r' -- "
            + "'\(venv)/bin/python' '\(directory)/job.py'", timeout: 120)
        #expect(result.status == 0, "\(result.output)")
        let fingerprint = try readJSON(directory + "/r/env.json")["fingerprint"]?.stringValue ?? "?"
        #expect(result.output.contains("FINGERPRINT=" + fingerprint), "\(result.output)")
    }
}
