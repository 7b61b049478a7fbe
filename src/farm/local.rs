//! A farm on one machine: the plan's tasks as processes of the `ffstream`
//! binary (`EXE chunk PLAN --index K`), at most `parallel` at once, then
//! `EXE assemble PLAN` once every task has succeeded.
//!
//! Processes rather than threads, so each task is exactly what a Slurm or
//! Kubernetes node runs (its own FFmpeg state, its own crash), and a big
//! machine can stand in for a cluster.

use super::FarmPlan;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The environment variables a task index may be read from: a task started
/// here gets `--index`, and none of them, whatever the caller's shell had.
const SCHEDULER_INDEX_VARIABLES: [&str; 3] = super::INDEX_VARIABLES;

/// How many lines of a failed task's error output an error quotes.
const TAIL_LINES: usize = 3;

/// A local farm.
///
/// ```no_run
/// use ffstream::farm::{local::LocalFarm, FarmPlan};
/// use std::path::Path;
/// // A plan written by `farm::plan` (or `ffstream plan`), loaded from its file.
/// let plan = FarmPlan::load(Path::new("out/plan.json"))?;
/// let farm = LocalFarm::for_plan("/usr/local/bin/ffstream", &plan, 4)?;
/// let report = farm.run(&|t| eprintln!("task {} {} in {:?}", t.index, t.status, t.elapsed))?;
/// assert!(report.tasks.iter().all(|t| t.ok));
/// println!("tasks {:?}, assembly {:?}", report.tasks_elapsed, report.assemble_elapsed);
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LocalFarm {
    /// The `ffstream` binary to run (the running one, for the CLI).
    pub exe: PathBuf,
    /// The plan file.
    pub plan: PathBuf,
    /// The number of tasks in the plan.
    pub tasks: usize,
    /// The manifest the assembly writes (errors name it).
    pub output: PathBuf,
    /// How many tasks run at once (at least 1).
    pub parallel: usize,
}

/// How one task ended. Example: [`LocalFarm`].
#[derive(Debug, Clone)]
pub struct TaskRun {
    /// The task's index.
    pub index: usize,
    /// Whether it exited with success.
    pub ok: bool,
    /// Its exit status, as the OS describes it.
    pub status: String,
    /// The last lines it wrote to its error output.
    pub error_tail: String,
    /// How long it ran.
    pub elapsed: Duration,
}

/// What a whole local run did. Example: [`LocalFarm`].
#[derive(Debug, Clone)]
pub struct LocalReport {
    /// Every task, by index.
    pub tasks: Vec<TaskRun>,
    /// How long the tasks took together (wall clock).
    pub tasks_elapsed: Duration,
    /// How long the assembly took.
    pub assemble_elapsed: Duration,
}

impl LocalFarm {
    /// The farm of `plan`, which must have been loaded from its file
    /// ([`FarmPlan::load`]), run by `exe`. Example: [`LocalFarm`].
    pub fn for_plan(exe: impl Into<PathBuf>, plan: &FarmPlan, parallel: usize) -> Result<Self> {
        let file = plan.path.clone().ok_or_else(|| {
            Error::Config("farm local: the plan has no file (save it, then load it)".into())
        })?;
        Ok(LocalFarm {
            exe: exe.into(),
            plan: file,
            tasks: plan.task_count(),
            output: plan.manifest(),
            parallel,
        })
    }

    /// Runs tasks `0..tasks`, at most `parallel` at once, calling
    /// `on_done` as each ends (from the thread that waited for it). Every
    /// task runs even when one fails; then an error names the failed ones
    /// with the end of their error output. Example: [`LocalFarm`] (its
    /// [`run`](LocalFarm::run) calls this, then the assembly).
    pub fn run_tasks(&self, on_done: &(dyn Fn(&TaskRun) + Sync)) -> Result<Vec<TaskRun>> {
        let tasks = self.tasks;
        if self.parallel == 0 {
            return Err(Error::Config(
                "farm local: --parallel must be at least 1".into(),
            ));
        }
        let next = AtomicUsize::new(0);
        let done = Mutex::new(Vec::with_capacity(tasks));
        let worker = || -> Result<()> {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= tasks {
                    return Ok(());
                }
                let run = self.run_one(index)?;
                on_done(&run);
                done.lock().map_err(|_| poisoned())?.push(run);
            }
        };
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..self.parallel.min(tasks))
                .map(|_| s.spawn(worker))
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|p| Err(Error::from_panic("farm local", &*p)))
                })
                .collect::<Result<Vec<()>>>()
        })?;
        let mut runs = done.into_inner().map_err(|_| poisoned())?;
        runs.sort_by_key(|r| r.index);
        failures(&self.output, &runs)?;
        Ok(runs)
    }

    /// Runs every task, then the assembly; `on_done` as in
    /// [`LocalFarm::run_tasks`]. Example: [`LocalFarm`].
    pub fn run(&self, on_done: &(dyn Fn(&TaskRun) + Sync)) -> Result<LocalReport> {
        let start = Instant::now();
        let runs = self.run_tasks(on_done)?;
        let tasks_elapsed = start.elapsed();
        let assemble = self.run_process(None)?;
        if !assemble.ok {
            return Err(Error::Output {
                output: self.output.display().to_string(),
                reason: format!(
                    "ffstream assemble {}: {}",
                    assemble.status, assemble.error_tail
                ),
                source: None,
            });
        }
        Ok(LocalReport {
            tasks: runs,
            tasks_elapsed,
            assemble_elapsed: assemble.elapsed,
        })
    }

    fn run_one(&self, index: usize) -> Result<TaskRun> {
        let mut run = self.run_process(Some(index))?;
        run.index = index;
        Ok(run)
    }

    /// Runs `EXE chunk PLAN --index K` (`Some(K)`) or `EXE assemble PLAN`.
    fn run_process(&self, index: Option<usize>) -> Result<TaskRun> {
        let mut cmd = Command::new(&self.exe);
        match index {
            Some(k) => cmd
                .arg("chunk")
                .arg(&self.plan)
                .arg("--index")
                .arg(k.to_string()),
            None => cmd.arg("assemble").arg(&self.plan),
        };
        for v in SCHEDULER_INDEX_VARIABLES {
            cmd.env_remove(v);
        }
        let start = Instant::now();
        let out = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| Error::io(&self.exe, e))?;
        Ok(TaskRun {
            index: index.unwrap_or(0),
            ok: out.status.success(),
            status: out.status.to_string(),
            error_tail: tail(&String::from_utf8_lossy(&out.stderr)),
            elapsed: start.elapsed(),
        })
    }
}

/// An error naming every failed task, or `Ok` when none failed.
fn failures(output: &Path, runs: &[TaskRun]) -> Result<()> {
    let failed: Vec<&TaskRun> = runs.iter().filter(|r| !r.ok).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let indexes: Vec<String> = failed.iter().map(|r| r.index.to_string()).collect();
    let first = failed[0];
    Err(Error::Output {
        output: output.display().to_string(),
        reason: format!(
            "not assembled: chunk task(s) {} failed; task {} {}: {}",
            indexes.join(", "),
            first.index,
            first.status,
            first.error_tail
        ),
        source: None,
    })
}

/// The last [`TAIL_LINES`] non-empty lines of `text`, joined by " | ".
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let from = lines.len().saturating_sub(TAIL_LINES);
    if lines.is_empty() {
        return "(no error output)".into();
    }
    lines[from..].join(" | ")
}

fn poisoned() -> Error {
    Error::Internal("farm local: a task thread panicked".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A stand-in for `ffstream` that records each call and how many ran at
    /// once, and fails the task whose index is in the file `fail` beside it.
    fn fake_exe(dir: &Path) -> PathBuf {
        let exe = dir.join("fake-ffstream");
        let script = r#"#!/bin/sh
d=$(dirname "$0")
echo "$*" >> "$d/calls"
mkdir "$d/running.$$" && ls -d "$d"/running.* | wc -l >> "$d/concurrency"
sleep 0.2
rmdir "$d/running.$$"
if [ "$1" = chunk ] && [ "$4" = "$(cat "$d/fail" 2>/dev/null)" ]; then
  echo "line one" >&2; echo "boom at $4" >&2; exit 3
fi
"#;
        std::fs::write(&exe, script).unwrap();
        Command::new("chmod").arg("+x").arg(&exe).status().unwrap();
        exe
    }

    fn farm(dir: &Path, tasks: usize, parallel: usize) -> LocalFarm {
        LocalFarm {
            exe: fake_exe(dir),
            plan: dir.join("plan.json"),
            tasks,
            output: dir.join("title.m3u8"),
            parallel,
        }
    }

    #[test]
    fn runs_every_task_with_its_index_then_assembles_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let f = farm(dir.path(), 5, 2);
        let seen = AtomicUsize::new(0);
        let report = f
            .run(&|_| {
                seen.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        assert_eq!(seen.load(Ordering::Relaxed), 5);
        assert_eq!(
            report.tasks.iter().map(|t| t.index).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
        let plan = f.plan.display();
        let mut lines: Vec<&str> = calls.lines().collect();
        assert_eq!(
            lines.pop(),
            Some(format!("assemble {plan}").as_str()),
            "assemble runs last"
        );
        lines.sort();
        let want: Vec<String> = (0..5)
            .map(|k| format!("chunk {plan} --index {k}"))
            .collect();
        assert_eq!(lines, want);
        let most = std::fs::read_to_string(dir.path().join("concurrency")).unwrap();
        let most = most
            .lines()
            .map(|l| l.trim().parse::<usize>().unwrap())
            .max();
        assert!(most <= Some(2), "at most 2 at once, saw {most:?}");
    }

    #[test]
    fn a_failed_task_is_named_and_nothing_is_assembled() {
        let dir = tempfile::tempdir().unwrap();
        let f = farm(dir.path(), 4, 3);
        std::fs::write(dir.path().join("fail"), "2").unwrap();
        let e = f.run(&|_| {}).unwrap_err().to_string();
        assert!(e.contains("chunk task(s) 2 failed"), "{e}");
        assert!(e.contains("line one | boom at 2"), "{e}");
        assert!(e.contains(&f.output.display().to_string()), "{e}");
        let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
        assert_eq!(calls.lines().count(), 4, "every task ran: {calls}");
        assert!(!calls.contains("assemble"), "{calls}");
    }

    #[test]
    fn parallel_zero_is_refused() {
        let f = LocalFarm {
            exe: "x".into(),
            plan: "p".into(),
            tasks: 3,
            output: "o".into(),
            parallel: 0,
        };
        assert!(f
            .run_tasks(&|_| {})
            .unwrap_err()
            .to_string()
            .contains("--parallel"));
    }
}
