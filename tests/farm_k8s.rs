//! `ffstream farm k8s` and `ffstream farm local`: the Kubernetes manifests
//! validate against the published batch/v1 Job schema (kubernetes-validate,
//! installed by `bash tests/dev.sh deps` into tests/farm/k8s-venv, offline),
//! and the exact commands they give each pod, run here with
//! `JOB_COMPLETION_INDEX` set as Kubernetes sets it, make the same title as
//! `farm local`.

mod common;
#[path = "common/farm_jobs.rs"]
mod farm_jobs;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv with kubernetes-validate (and PyYAML, its dependency):
/// `FFSTREAM_K8S_VENV`, else tests/farm/k8s-venv.
fn venv() -> PathBuf {
    let dir = std::env::var_os("FFSTREAM_K8S_VENV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/farm/k8s-venv"),
        PathBuf::from,
    );
    assert!(
        dir.join("bin/kubernetes-validate").is_file(),
        "no kubernetes-validate in {} (bash tests/dev.sh deps)",
        dir.display()
    );
    dir
}

/// Writes the manifests of `plan` with `ffstream farm k8s` and returns the
/// chunk Job's and the assemble Job's files.
fn write_manifests(plan: &Path, extra: &[&str]) -> (PathBuf, PathBuf) {
    let mut args = vec!["farm", "k8s", plan.to_str().unwrap(), "-q"];
    args.extend(extra);
    farm_jobs::ffstream(&args, &[]);
    let dir = plan.parent().unwrap();
    let chunks = dir.join("farm-k8s-chunks.yaml");
    let assemble = dir.join("farm-k8s-assemble.yaml");
    assert!(chunks.is_file() && assemble.is_file(), "manifests missing");
    (chunks, assemble)
}

/// kubernetes-validate's verdict on `files` (strict: unknown fields are
/// errors) against Kubernetes `version`: success and its output.
fn validate(version: &str, files: &[&Path]) -> (bool, String) {
    let out = Command::new(venv().join("bin/kubernetes-validate"))
        .args(["--strict", "-k", version])
        .args(files)
        .output()
        .expect("run kubernetes-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The documents of a YAML file, read by PyYAML (not by ffstream).
fn read_yaml(path: &Path) -> Vec<Value> {
    let out = Command::new(venv().join("bin/python3"))
        .args([
            "-c",
            "import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)",
        ])
        .arg(path)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("PyYAML's JSON")
}

/// The manifests are batch/v1 Jobs that Kubernetes 1.30 and the newest
/// schema the validator ships accept, unknown fields refused; Kubernetes
/// 1.27, whose Jobs had no `backoffLimitPerIndex`, refuses the chunk Job
/// (so the validator reads what was written). The YAML, read by PyYAML,
/// says what was asked for.
#[test]
fn farm_k8s_manifests_validate_against_batch_v1() {
    let dir = tempfile::tempdir().unwrap();
    let plan = farm_jobs::plan(dir.path());
    let tasks = farm_jobs::task_count(&plan);
    let (chunks, assemble) = write_manifests(
        &plan,
        &[
            "--image",
            "registry.example/ffstream:1.0",
            "--parallel",
            "2",
            "--namespace",
            "media",
            "--store-env",
            "AWS_REGION=us-east-1",
            "--store-env",
            "AWS_ENDPOINT=http://store:9000",
            "--store-secret",
            "store-credentials",
            "--claim",
            "shared-media",
            "--cpus",
            "2",
        ],
    );
    for version in ["1.30.0", "1.37.0"] {
        let (ok, out) = validate(version, &[&chunks, &assemble]);
        assert!(ok, "Kubernetes {version}: {out}");
        assert_eq!(out.matches("passed").count(), 2, "{out}");
    }
    let (ok, out) = validate("1.27.0", &[&chunks]);
    assert!(
        !ok && out.contains("backoffLimitPerIndex"),
        "Kubernetes 1.27: {out}"
    );

    let job = &read_yaml(&chunks)[0];
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"], tasks);
    assert_eq!(spec["parallelism"], 2);
    assert_eq!(job["metadata"]["namespace"], "media");
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "registry.example/ffstream:1.0");
    assert_eq!(
        c["command"],
        serde_json::json!(["ffstream", "chunk", plan.canonicalize().unwrap()])
    );
    assert_eq!(c["env"][1]["value"], "http://store:9000");
    assert_eq!(c["envFrom"][0]["secretRef"]["name"], "store-credentials");
    assert_eq!(c["resources"]["requests"]["cpu"], "2");
    // The claim is mounted where the plan is.
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "shared-media"
    );
    let mount = c["volumeMounts"][0]["mountPath"].as_str().unwrap();
    assert_eq!(
        Path::new(mount),
        plan.canonicalize().unwrap().parent().unwrap()
    );
    let a = &read_yaml(&assemble)[0];
    assert_eq!(
        a["spec"]["template"]["spec"]["containers"][0]["command"][1],
        "assemble"
    );
}

/// Runs a container's exact command and environment from a Job manifest,
/// here, with `extra` variables; panics if it fails.
fn run_container(job: &Value, extra: &[(&str, String)]) {
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    let argv: Vec<&str> = c["command"]
        .as_array()
        .expect("a command")
        .iter()
        .map(|a| a.as_str().expect("a string argument"))
        .collect();
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]);
    for e in c["env"].as_array().into_iter().flatten() {
        cmd.env(e["name"].as_str().unwrap(), e["value"].as_str().unwrap());
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the container's command");
    assert!(
        out.status.success(),
        "{argv:?} {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Each index's container command, run with `JOB_COMPLETION_INDEX` set,
/// then the assemble Job's, make a title that plays through the oracles
/// and is byte for byte the title `farm local --parallel 2` makes of the
/// same input and ladder.
#[test]
fn farm_k8s_commands_make_the_same_title_as_farm_local() {
    let root = tempfile::tempdir().unwrap();
    let (k8s_dir, local_dir) = (root.path().join("k8s"), root.path().join("local"));
    std::fs::create_dir_all(&k8s_dir).unwrap();
    std::fs::create_dir_all(&local_dir).unwrap();

    let plan = farm_jobs::plan(&k8s_dir);
    let exe = farm_jobs::bin();
    let (chunks, assemble) = write_manifests(
        &plan,
        &[
            "--image",
            "ffstream:test",
            "--exe",
            exe.to_str().unwrap(),
            "--store-env",
            "FFSTREAM_FARM_TEST=1",
        ],
    );
    let chunk_job = &read_yaml(&chunks)[0];
    let completions = chunk_job["spec"]["completions"].as_u64().unwrap();
    assert_eq!(completions as usize, farm_jobs::task_count(&plan));
    // In reverse, as pods may run in any order.
    for k in (0..completions).rev() {
        run_container(chunk_job, &[("JOB_COMPLETION_INDEX", k.to_string())]);
    }
    run_container(&read_yaml(&assemble)[0], &[]);
    farm_jobs::check_title(&k8s_dir.join("title.m3u8"));

    let local_plan = farm_jobs::plan(&local_dir);
    farm_jobs::ffstream(
        &[
            "farm",
            "local",
            local_plan.to_str().unwrap(),
            "--parallel",
            "2",
            "-q",
        ],
        &[],
    );
    let k8s_files = farm_jobs::files(&k8s_dir, farm_jobs::is_media);
    let local_files = farm_jobs::files(&local_dir, farm_jobs::is_media);
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&k8s_files), names(&local_files));
    assert!(
        k8s_files.iter().any(|(n, _)| n.ends_with(".ts")),
        "{:?}",
        names(&k8s_files)
    );
    for ((name, a), (_, b)) in k8s_files.iter().zip(&local_files) {
        assert!(
            a == b,
            "{name} differs between the Kubernetes commands and farm local"
        );
    }
}

/// Runs `ffstream ARGS` expecting a failure; returns its error output,
/// checked to be one line from ffstream (no panic), besides `farm local`'s
/// progress lines (`task K/N ...`).
fn refusal(args: &[&str], path: Option<&str>) -> String {
    let mut cmd = Command::new(farm_jobs::bin());
    cmd.args(args);
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let out = cmd.output().expect("run ffstream");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    // One of the statuses of a failure (not a panic's 101, not 70, a bug).
    let code = out.status.code();
    assert!(
        matches!(code, Some(1..=6)),
        "{args:?}: status {code:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("task ")).collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line expected: {err}");
    assert!(lines[0].starts_with("ffstream: "), "{err}");
    err
}

/// `farm local` runs every task even when they fail, then names the failed
/// ones with what they said (here: the input they cannot open) and writes
/// no manifest.
#[test]
fn farm_local_names_the_failed_tasks_and_assembles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("gone.mp4");
    std::fs::copy(farm_jobs::clip(), &input).unwrap();
    let master = dir.path().join("title.m3u8");
    farm_jobs::ffstream(
        &[
            "plan",
            input.to_str().unwrap(),
            "-o",
            master.to_str().unwrap(),
            "--chunk-duration",
            "4",
            "--hls-time",
            "2",
            "--rep",
            "320x180:200k",
            "-q",
        ],
        &[],
    );
    let plan = dir.path().join("plan.json");
    let tasks = farm_jobs::task_count(&plan);
    std::fs::remove_file(&input).unwrap();
    let err = refusal(
        &["farm", "local", plan.to_str().unwrap(), "--parallel", "2"],
        None,
    );
    let all: Vec<String> = (0..tasks).map(|k| k.to_string()).collect();
    assert!(
        err.contains(&format!("chunk task(s) {} failed", all.join(", "))),
        "{err}"
    );
    assert!(err.contains("gone.mp4"), "{err}");
    assert!(err.contains("title.m3u8: not assembled"), "{err}");
    assert!(!master.exists(), "a master playlist was written");
}

/// Bad plans and options are refused in one line that names them.
#[test]
fn farm_commands_refuse_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere/plan.json");
    for engine in ["slurm", "local"] {
        let err = refusal(&["farm", engine, missing.to_str().unwrap()], None);
        assert!(err.contains(missing.to_str().unwrap()), "{err}");
    }
    let not_plan = dir.path().join("other.json");
    std::fs::write(&not_plan, "{\"hello\": 1}").unwrap();
    let err = refusal(
        &["farm", "k8s", not_plan.to_str().unwrap(), "--image", "x"],
        None,
    );
    assert!(
        err.contains("other.json") && err.contains("not a farm plan"),
        "{err}"
    );

    let plan = farm_jobs::plan(dir.path());
    let p = plan.to_str().unwrap();
    let err = refusal(&["farm", "slurm", p, "--parallel", "0"], None);
    assert!(err.contains("--parallel must be at least 1"), "{err}");
    let err = refusal(
        &["farm", "k8s", p, "--image", "x", "--name", "Bad_Name"],
        None,
    );
    assert!(err.contains("\"Bad_Name\""), "{err}");
    let err = refusal(
        &["farm", "k8s", p, "--image", "x", "--store-env", "NOEQUALS"],
        None,
    );
    assert!(err.contains("--store-env \"NOEQUALS\""), "{err}");
    // No sbatch on PATH: said so, and nothing was submitted.
    let empty = dir.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let err = refusal(&["farm", "slurm", p, "--submit"], empty.to_str());
    assert!(err.contains("cannot run sbatch"), "{err}");

    // A farm encodes every rendition: a copied rung is refused at plan
    // time, and no plan is written.
    let clip = farm_jobs::clip();
    let out = dir.path().join("copied/title.m3u8");
    #[rustfmt::skip]
    let err = refusal(&[
        "plan", clip.to_str().unwrap(), "-o", out.to_str().unwrap(),
        "--rep", "copy", "--rep", "320x180:300k", "--chunk-duration", "4",
    ], None);
    assert!(
        err.contains("--rep copy") && err.contains("--copy"),
        "{err}"
    );
    assert!(!dir.path().join("copied/plan.json").exists());
}
