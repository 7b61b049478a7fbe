//! Farms on a real Slurm cluster (tests/common/slurm.rs: Debian's munged,
//! slurmctld and slurmd on 127.0.0.1, started by each test).

#[path = "common/slurm.rs"]
mod slurm;

use slurm::SlurmCluster;
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
