//! Farms on a real Slurm cluster (tests/common/slurm.rs: Debian's munged,
//! slurmctld and slurmd on 127.0.0.1, started by each test).

mod common;
#[path = "common/farm_jobs.rs"]
mod farm_jobs;
#[path = "common/slurm.rs"]
mod slurm;

use slurm::SlurmCluster;
use std::path::Path;
use std::time::Duration;

/// The harness itself: a throttled job array whose tasks each see their own
/// index and the submitter's environment, and a job that waits for it
/// (`afterok`), as `ffstream farm slurm` submits them.
#[test]
fn cluster_runs_an_array_and_a_dependent_job() {
    let cluster = SlurmCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let script = out.join("array.sbatch");
    std::fs::write(
        &script,
        "#!/bin/sh\n#SBATCH --array=0-3%2\n#SBATCH --output=/dev/null\n\
         echo \"$FARM_WORD $SLURM_ARRAY_TASK_ID\" > \"$FARM_OUT/task-$SLURM_ARRAY_TASK_ID\"\n",
    )
    .unwrap();
    let sbatch = |args: &[&str]| {
        let o = cluster
            .command("sbatch")
            .args(args)
            .env("FARM_WORD", "hello")
            .env("FARM_OUT", out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&o.stderr),
            cluster.logs()
        );
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    let array = sbatch(&["--parsable", script.to_str().unwrap()]);
    let listing = out.join("listing");
    let after = sbatch(&[
        "--parsable",
        &format!("--dependency=afterok:{array}"),
        "--output=/dev/null",
        "--wrap",
        &format!("ls {} > {}", out.display(), listing.display()),
    ]);
    let states = cluster.wait_job(&after, Duration::from_secs(120));
    assert_eq!(states, ["COMPLETED"], "{}", cluster.logs());
    assert_eq!(
        cluster.wait_job(&array, Duration::from_secs(5)),
        ["COMPLETED"; 4]
    );
    for k in 0..4 {
        let text = std::fs::read_to_string(out.join(format!("task-{k}"))).unwrap();
        assert_eq!(text, format!("hello {k}\n"));
    }
    // The dependent job ran after every task had written its file.
    let listed = std::fs::read_to_string(&listing).unwrap();
    let tasks = listed.lines().filter(|l| l.starts_with("task-")).count();
    assert_eq!(tasks, 4, "{listed}");
}

/// How long a farm of the test clip may take on the cluster (it takes
/// seconds; the margin is for a loaded CI machine).
const FARM_DEADLINE: Duration = Duration::from_secs(300);

/// Submits `plan` with `ffstream farm slurm --submit` (`extra` arguments
/// added) and returns the ids it printed: the array's and the assemble job's.
fn submit(cluster: &SlurmCluster, plan: &Path, extra: &[&str]) -> (String, String) {
    let out = cluster
        .command(farm_jobs::bin())
        .args(["farm", "slurm", plan.to_str().unwrap(), "--submit", "-q"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "farm slurm --submit: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.logs()
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(ids.len(), 2, "two job ids expected: {text:?}");
    (ids[0].to_string(), ids[1].to_string())
}

/// The whole farm on Slurm: `ffstream farm slurm --submit` runs every task
/// of the plan as one task of a throttled job array, and the assemble job
/// after them; the title it leaves is complete: every rendition decodes to
/// the clip's frames, in the planned segments.
#[test]
fn farm_slurm_submit_encodes_the_title_on_the_cluster() {
    let cluster = SlurmCluster::start();
    let root = tempfile::tempdir().unwrap();
    // A folder name with a space and a quote, which the scripts must quote.
    let dir = root.path().join("it's a title");
    std::fs::create_dir(&dir).unwrap();
    let plan = farm_jobs::plan(&dir);
    let tasks = farm_jobs::task_count(&plan);
    assert!(tasks >= 4, "the plan has {tasks} tasks");
    let (array, assemble) = submit(
        &cluster,
        &plan,
        &[
            "--parallel",
            "2",
            "--partition",
            slurm::PARTITION,
            "--cpus-per-task",
            "1",
        ],
    );
    let states = cluster.wait_job(&assemble, FARM_DEADLINE);
    let log = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let assemble_log = log(&format!("ffstream-title-assemble-{assemble}.log"));
    assert_eq!(
        states,
        ["COMPLETED"],
        "assemble: {assemble_log}\n{}",
        cluster.logs()
    );
    // One array task per plan task, each a completed Slurm job with its log.
    let array_states = cluster.wait_job(&array, Duration::from_secs(5));
    assert_eq!(array_states, vec!["COMPLETED"; tasks]);
    for k in 0..tasks {
        let task_log = dir.join(format!("ffstream-title-chunk-{array}_{k}.log"));
        assert!(task_log.is_file(), "no Slurm log of task {k}");
    }
    farm_jobs::check_title(&dir.join("title.m3u8"));
}

/// A task that fails for good (its input is gone) fails its array task, and
/// the assemble job is cancelled with it: no master playlist claims a title.
#[test]
fn farm_slurm_assemble_never_runs_after_a_failed_task() {
    let cluster = SlurmCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.mp4");
    std::fs::copy(farm_jobs::clip(), &input).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let master = out.join("title.m3u8");
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
    std::fs::remove_file(&input).unwrap();
    let (array, assemble) = submit(&cluster, &out.join("plan.json"), &[]);
    let states = cluster.wait_job(&assemble, FARM_DEADLINE);
    assert_eq!(states, ["CANCELLED"], "{}", cluster.logs());
    let failed = cluster.wait_job(&array, Duration::from_secs(30));
    assert!(failed.iter().all(|s| s == "FAILED"), "{failed:?}");
    assert!(!master.exists(), "a master playlist was written");
    // The task's own log says why, naming the input.
    let log =
        std::fs::read_to_string(out.join(format!("ffstream-title-chunk-{array}_0.log"))).unwrap();
    assert!(log.contains("input.mp4"), "{log}");
}

/// A task killed while it runs and requeued (`scontrol requeue`, what Slurm
/// does to the tasks of a failed node under `--requeue`) runs again, and
/// the title is byte for byte the one `farm local` makes undisturbed.
#[test]
fn farm_slurm_requeued_task_gives_the_same_bytes() {
    let cluster = SlurmCluster::start();
    let root = tempfile::tempdir().unwrap();
    let (slurm_dir, local_dir) = (root.path().join("slurm"), root.path().join("local"));
    std::fs::create_dir_all(&slurm_dir).unwrap();
    std::fs::create_dir_all(&local_dir).unwrap();
    let plan = farm_jobs::plan(&slurm_dir);
    // One task at a time, so task 1 runs alone once it starts.
    let (array, assemble) = submit(&cluster, &plan, &["--parallel", "1"]);
    let task = format!("{array}_1");
    let deadline = std::time::Instant::now() + FARM_DEADLINE;
    while cluster.job_states(&task) != ["RUNNING"] {
        assert!(
            std::time::Instant::now() < deadline,
            "task 1 never ran: {}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster.run("scontrol", &["requeue", &task]);
    // Slurm holds a requeued job back for two minutes; no need here. Its
    // start time can be changed once it is pending again.
    while cluster.job_states(&task) != ["PENDING"] {
        assert!(
            std::time::Instant::now() < deadline,
            "task 1 not requeued: {}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster.run(
        "scontrol",
        &["update", &format!("JobId={task}"), "StartTime=now"],
    );
    let states = cluster.wait_job(&assemble, FARM_DEADLINE);
    assert_eq!(states, ["COMPLETED"], "{}", cluster.logs());
    let shown = cluster.run("scontrol", &["show", "job", "-o", &task]);
    assert!(
        shown.contains(" Restarts=1 "),
        "task 1 was not requeued: {shown}"
    );
    farm_jobs::check_title(&slurm_dir.join("title.m3u8"));

    let local_plan = farm_jobs::plan(&local_dir);
    farm_jobs::ffstream(&["farm", "local", local_plan.to_str().unwrap(), "-q"], &[]);
    let slurm_files = farm_jobs::files(&slurm_dir, farm_jobs::is_media);
    let local_files = farm_jobs::files(&local_dir, farm_jobs::is_media);
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&slurm_files), names(&local_files));
    for ((name, a), (_, b)) in slurm_files.iter().zip(&local_files) {
        assert!(a == b, "{name} differs after the requeue");
    }
}
