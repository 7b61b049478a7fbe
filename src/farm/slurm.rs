//! Slurm batch scripts for a farm plan: a job array of the chunk tasks and
//! an assemble job that runs once every task has succeeded.
//!
//! [`scripts`] is a pure generator: it reads no file and runs nothing. The
//! chunk script runs the exact command `EXE chunk PLAN`; each array task
//! finds its index in `SLURM_ARRAY_TASK_ID`, which `ffstream chunk` reads
//! itself. The array is `--requeue`d, so a task on a node that fails is
//! started again elsewhere (a task run twice writes the same objects). The
//! assemble script carries `--kill-on-invalid-dep=yes`, so a chunk task that
//! fails for good cancels it instead of leaving it pending forever; its
//! `--dependency=afterok:JOBID` is given when it is submitted, once the
//! array's job id is known ([`assemble_args`], and the submit script).
//!
//! Every job inherits the submitting shell's environment (Slurm's default
//! `--export=ALL`), so store credentials set there reach the tasks.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// What the Slurm scripts run, and how. Example: [`scripts`].
#[derive(Debug, Clone)]
pub struct SlurmJob {
    /// The `ffstream` binary as the compute nodes see it (an absolute path).
    pub exe: PathBuf,
    /// The plan (`plan.json`) as the compute nodes see it: a path on a
    /// shared file system, or a store URL.
    pub plan: String,
    /// The number of chunk tasks in the plan (the array's size).
    pub tasks: usize,
    /// At most this many tasks run at once (`%P` of `--array`); `None`:
    /// as many as the cluster gives.
    pub parallel: Option<usize>,
    /// The partition (queue) to run in; `None`: the cluster's default.
    pub partition: Option<String>,
    /// CPUs each chunk task asks for (`--cpus-per-task`); `None`: the
    /// cluster's default (one). A task runs one encoder thread per
    /// rendition by default.
    pub cpus_per_task: Option<usize>,
    /// The jobs' working folder, where Slurm writes their logs.
    pub dir: PathBuf,
    /// The name the jobs get, such as `ffstream-title`.
    pub name: String,
}

/// The files [`scripts`] writes, as text. Example: [`scripts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmScripts {
    /// The job array of the chunk tasks (`sbatch CHUNKS`).
    pub chunks: String,
    /// The assemble job (`sbatch --dependency=afterok:JOBID ASSEMBLE`).
    pub assemble: String,
    /// A POSIX shell script that submits both, the second depending on the
    /// first, and prints their job ids.
    pub submit: String,
}

/// The file names of the scripts, in the folder they are written to.
pub const CHUNKS_FILE: &str = "farm-slurm-chunks.sbatch";
/// See [`CHUNKS_FILE`].
pub const ASSEMBLE_FILE: &str = "farm-slurm-assemble.sbatch";
/// See [`CHUNKS_FILE`].
pub const SUBMIT_FILE: &str = "farm-slurm-submit.sh";

/// Writes the scripts for `job`; the submit script names the other two
/// inside `job.dir`. Refuses an empty plan, `parallel` 0, and names or
/// paths that a `#SBATCH` line cannot hold (a newline or a double quote).
///
/// ```
/// use ffstream::farm::slurm::{self, SlurmJob};
/// use std::path::Path;
/// let mut job = SlurmJob {
///     exe: "/opt/bin/ffstream".into(),
///     plan: "/shared/out/plan.json".into(),
///     tasks: 12,
///     parallel: Some(4),
///     partition: Some("encode".into()),
///     cpus_per_task: Some(2),
///     dir: "/shared/logs".into(),
///     name: "ffstream-movie".into(),
/// };
/// let s = slurm::scripts(&job)?;
/// // One array task per chunk, at most 4 at once, each running the same command.
/// assert!(s.chunks.contains("#SBATCH --array=0-11%4"));
/// assert!(s.chunks.contains("chunk '/shared/out/plan.json'"));
/// assert!(s.assemble.contains("--kill-on-invalid-dep=yes"));
/// assert!(s.submit.contains(slurm::ASSEMBLE_FILE));
/// // The submit script's second sbatch: after the array, from its job id.
/// let args = slurm::assemble_args("4242;cluster\n", Path::new(slurm::ASSEMBLE_FILE));
/// assert_eq!(args[1], "--dependency=afterok:4242");
/// assert_eq!(slurm::job_id("4242;cluster"), "4242");
/// // A job name an #SBATCH line cannot hold is refused.
/// job.name = "two words".into();
/// assert!(slurm::scripts(&job).is_err());
/// # Ok::<(), ffstream::Error>(())
/// ```
pub fn scripts(job: &SlurmJob) -> Result<SlurmScripts> {
    check(job)?;
    let exe = shell_quote(&job.exe.to_string_lossy());
    let plan = shell_quote(&job.plan);
    let chunks = format!(
        "{}{}\nexec {exe} chunk {plan}\n",
        header(job, "chunk tasks"),
        array_lines(job)
    );
    let assemble = format!(
        "{}#SBATCH --job-name={}-assemble\n#SBATCH --output={}\n\
         #SBATCH --kill-on-invalid-dep=yes\n\nexec {exe} assemble {plan}\n",
        header(job, "assemble job"),
        job.name,
        sbatch_path(&job.dir.join(format!("{}-assemble-%j.log", job.name)))
    );
    Ok(SlurmScripts {
        chunks,
        assemble,
        submit: submit_script(&job.dir),
    })
}

/// The `sbatch` arguments that submit the assemble script after the array
/// job `array_job_id` (as `sbatch --parsable` printed it). Example:
/// [`scripts`].
pub fn assemble_args(array_job_id: &str, script: &Path) -> Vec<String> {
    vec![
        "--parsable".into(),
        format!("--dependency=afterok:{}", job_id(array_job_id)),
        script.to_string_lossy().into_owned(),
    ]
}

/// The job id in what `sbatch --parsable` prints (`ID` or `ID;CLUSTER`).
/// Example: [`scripts`].
pub fn job_id(parsable: &str) -> &str {
    let line = parsable.trim();
    line.split(';').next().unwrap_or(line)
}

fn check(job: &SlurmJob) -> Result<()> {
    if job.tasks == 0 {
        return Err(Error::Config(format!(
            "farm slurm: the plan {} has no chunk tasks",
            job.plan
        )));
    }
    if job.parallel == Some(0) {
        return Err(Error::Config(
            "farm slurm: --parallel must be at least 1".into(),
        ));
    }
    if job.cpus_per_task == Some(0) {
        return Err(Error::Config(
            "farm slurm: --cpus-per-task must be at least 1".into(),
        ));
    }
    if job.name.is_empty()
        || !job
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Error::Config(format!(
            "farm slurm: job name {:?} must be letters, digits, '-', '_' or '.'",
            job.name
        )));
    }
    if let Some(p) = &job.partition {
        if p.is_empty() || p.chars().any(|c| c.is_whitespace() || c == '"') {
            return Err(Error::Config(format!("farm slurm: bad --partition {p:?}")));
        }
    }
    let dir = job.dir.to_string_lossy();
    if dir.contains(['\n', '\r', '"']) {
        return Err(Error::Config(format!(
            "farm slurm: the folder {dir:?} cannot be named in a #SBATCH line (newline or double quote)"
        )));
    }
    Ok(())
}

/// The interpreter line, what the script is, and the options both jobs share.
fn header(job: &SlurmJob, what: &str) -> String {
    let mut s = format!(
        "#!/bin/sh\n# Written by `ffstream farm slurm`: the {what} of the plan {}.\n\
         #SBATCH --chdir={}\n",
        one_line(&job.plan),
        sbatch_path(&job.dir)
    );
    if let Some(p) = &job.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    s
}

/// The array's own options: one task per chunk, at most `parallel` at once,
/// requeued when a node fails, one log per task.
fn array_lines(job: &SlurmJob) -> String {
    let throttle = job.parallel.map(|p| format!("%{p}")).unwrap_or_default();
    let mut s = format!(
        "#SBATCH --job-name={}-chunks\n#SBATCH --array=0-{}{throttle}\n#SBATCH --requeue\n\
         #SBATCH --output={}\n",
        job.name,
        job.tasks - 1,
        sbatch_path(&job.dir.join(format!("{}-chunk-%A_%a.log", job.name)))
    );
    if let Some(n) = job.cpus_per_task {
        s.push_str(&format!("#SBATCH --cpus-per-task={n}\n"));
    }
    s
}

fn submit_script(dir: &Path) -> String {
    let chunks = shell_quote(&dir.join(CHUNKS_FILE).to_string_lossy());
    let assemble = shell_quote(&dir.join(ASSEMBLE_FILE).to_string_lossy());
    format!(
        "#!/bin/sh\n# Written by `ffstream farm slurm`: submits the chunk tasks, then the\n\
         # assemble job that runs once every one of them has succeeded.\nset -eu\n\
         chunks=$(sbatch --parsable {chunks})\nchunks=${{chunks%%;*}}\n\
         assemble=$(sbatch --parsable --dependency=afterok:\"$chunks\" {assemble})\n\
         echo \"chunks job $chunks, assemble job ${{assemble%%;*}}\"\n"
    )
}

/// A path for a `#SBATCH` line, in double quotes (sbatch reads them).
fn sbatch_path(p: &Path) -> String {
    format!("\"{}\"", p.to_string_lossy())
}

/// `s` in single quotes for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `s` without line breaks, for a comment.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn job(dir: &Path) -> SlurmJob {
        SlurmJob {
            exe: dir.join("bin/ffstream"),
            plan: dir
                .join("it's a title/plan.json")
                .to_string_lossy()
                .into_owned(),
            tasks: 8,
            parallel: Some(3),
            partition: Some("encode".into()),
            cpus_per_task: Some(2),
            dir: dir.join("jobs"),
            name: "ffstream-title".into(),
        }
    }

    /// The `#SBATCH` options of a script, in order.
    fn options(script: &str) -> Vec<&str> {
        script
            .lines()
            .filter_map(|l| l.strip_prefix("#SBATCH "))
            .collect()
    }

    #[test]
    fn array_has_one_task_per_chunk_throttled_and_requeued() {
        let s = scripts(&job(Path::new("/farm"))).unwrap();
        let o = options(&s.chunks);
        assert!(o.contains(&"--array=0-7%3"), "{o:?}");
        assert!(o.contains(&"--requeue"), "{o:?}");
        assert!(o.contains(&"--partition=encode"), "{o:?}");
        assert!(o.contains(&"--cpus-per-task=2"), "{o:?}");
        assert!(o.contains(&"--chdir=\"/farm/jobs\""), "{o:?}");
        assert!(o.contains(&"--output=\"/farm/jobs/ffstream-title-chunk-%A_%a.log\""));
        let a = options(&s.assemble);
        assert!(a.contains(&"--kill-on-invalid-dep=yes"), "{a:?}");
        assert!(!a.iter().any(|l| l.starts_with("--array")), "{a:?}");
        // No throttle: no `%`.
        let free = SlurmJob {
            parallel: None,
            ..job(Path::new("/farm"))
        };
        assert!(options(&scripts(&free).unwrap().chunks).contains(&"--array=0-7"));
    }

    /// The scripts run, through a real shell, exactly `EXE chunk PLAN` and
    /// `EXE assemble PLAN`, whatever the plan's path holds.
    #[test]
    fn scripts_run_the_exact_commands() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        let j = job(dir.path());
        std::fs::write(
            &j.exe,
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n",
        )
        .unwrap();
        Command::new("chmod")
            .arg("+x")
            .arg(&j.exe)
            .status()
            .unwrap();
        let s = scripts(&j).unwrap();
        for (script, verb) in [(&s.chunks, "chunk"), (&s.assemble, "assemble")] {
            let out = Command::new("sh")
                .arg("-c")
                .arg(script.as_str())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let args = String::from_utf8(out.stdout).unwrap();
            assert_eq!(args, format!("{verb}\n{}\n", j.plan));
        }
    }

    /// The submit script passes the array's job id (without a cluster name)
    /// to the assemble job's dependency.
    #[test]
    fn submit_script_chains_the_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let fake = bin.join("sbatch");
        // A fake sbatch: logs its arguments, prints an id and a cluster.
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\necho \"$*\" >> {log}\nn=$(wc -l < {log})\necho \"$((n + 40));farm\"\n",
                log = dir.path().join("calls").display()
            ),
        )
        .unwrap();
        Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
        let j = SlurmJob {
            dir: dir.path().to_path_buf(),
            ..job(dir.path())
        };
        let s = scripts(&j).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("sh")
            .arg("-c")
            .arg(&s.submit)
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "chunks job 41, assemble job 42\n"
        );
        let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
        let d = dir.path().display();
        assert_eq!(
            calls,
            format!("--parsable {d}/{CHUNKS_FILE}\n--parsable --dependency=afterok:41 {d}/{ASSEMBLE_FILE}\n")
        );
    }

    #[test]
    fn assemble_args_take_the_bare_job_id() {
        assert_eq!(job_id("1234;cluster\n"), "1234");
        assert_eq!(job_id("77\n"), "77");
        let a = assemble_args("1234;c", Path::new("/x/a.sbatch"));
        assert_eq!(
            a,
            ["--parsable", "--dependency=afterok:1234", "/x/a.sbatch"]
        );
    }

    #[test]
    fn refuses_what_it_cannot_write() {
        let base = job(Path::new("/farm"));
        let bad = [
            SlurmJob {
                tasks: 0,
                ..base.clone()
            },
            SlurmJob {
                parallel: Some(0),
                ..base.clone()
            },
            SlurmJob {
                partition: Some("a b".into()),
                ..base.clone()
            },
            SlurmJob {
                name: "x;rm".into(),
                ..base.clone()
            },
            SlurmJob {
                dir: "/a\"b".into(),
                ..base.clone()
            },
            SlurmJob {
                cpus_per_task: Some(0),
                ..base.clone()
            },
        ];
        for j in bad {
            let e = scripts(&j).unwrap_err().to_string();
            assert!(e.contains("farm slurm"), "{e}");
        }
    }
}
