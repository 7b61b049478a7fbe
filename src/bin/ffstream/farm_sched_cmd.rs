//! `ffstream farm slurm|k8s|local PLAN`: run a farm plan's tasks on a
//! scheduler (Slurm job arrays, Kubernetes Indexed Jobs) or as local
//! processes. The scripts and manifests come from `ffstream::farm::{slurm,
//! k8s}`; this module loads the plan, writes them beside it, and submits.

use clap::{Args, Subcommand};
use ffstream::farm::{k8s, local, slurm, FarmPlan};
use ffstream::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Arguments of `ffstream farm`.
#[derive(Args)]
pub struct FarmArgs {
    #[command(subcommand)]
    engine: Engine,
}

#[derive(Subcommand)]
enum Engine {
    /// Write (and with --submit, submit) an sbatch job array of the chunk
    /// tasks and an assemble job that runs once they have all succeeded.
    Slurm(SlurmArgs),
    /// Write a Kubernetes Indexed Job of the chunk tasks and an assemble Job.
    K8s(K8sArgs),
    /// Run the chunk tasks as local processes, at most --parallel at once,
    /// then assemble.
    Local(LocalArgs),
}

/// What every engine takes.
#[derive(Args)]
struct Common {
    /// The plan written by `ffstream plan` (plan.json).
    plan: PathBuf,
    /// Where to write the scripts or manifests (default: the plan's folder;
    /// for a plan in a store, the current folder).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The jobs' name (default: ffstream-OUTPUT, from the plan's output).
    #[arg(long)]
    name: Option<String>,
}

#[derive(Args)]
struct SlurmArgs {
    #[command(flatten)]
    common: Common,
    /// Run at most P chunk tasks at once (the array's %P throttle).
    #[arg(long, value_name = "P")]
    parallel: Option<usize>,
    /// The partition to run in (default: the cluster's).
    #[arg(long)]
    partition: Option<String>,
    /// CPUs each chunk task asks for (default: the cluster's, one); a task
    /// runs one encoder thread per rendition.
    #[arg(long, value_name = "N")]
    cpus_per_task: Option<usize>,
    /// The ffstream binary as the nodes see it (default: this one).
    #[arg(long, value_name = "PATH")]
    exe: Option<PathBuf>,
    /// Submit the jobs with sbatch and print their ids.
    #[arg(long)]
    submit: bool,
}

#[derive(Args)]
struct K8sArgs {
    #[command(flatten)]
    common: Common,
    /// The container image that holds ffstream.
    #[arg(long)]
    image: String,
    /// Pods that run at once (default: one per task).
    #[arg(long, value_name = "P")]
    parallel: Option<usize>,
    /// ffstream as the container sees it.
    #[arg(long, value_name = "PATH", default_value = "ffstream")]
    exe: String,
    /// The namespace of the Jobs (default: kubectl's).
    #[arg(long)]
    namespace: Option<String>,
    /// CPUs each chunk pod requests (default: no request); a task runs one
    /// encoder thread per rendition.
    #[arg(long, value_name = "N")]
    cpus: Option<usize>,
    /// Retries of each task before it counts as failed.
    #[arg(long, value_name = "N", default_value_t = k8s::DEFAULT_BACKOFF_PER_INDEX)]
    backoff_per_index: u32,
    /// An environment variable of every container (a store's endpoint or
    /// region), NAME=VALUE. Repeatable.
    #[arg(long = "store-env", value_name = "NAME=VALUE")]
    store_env: Vec<String>,
    /// A Secret whose keys become the containers' environment (store
    /// credentials).
    #[arg(long, value_name = "SECRET")]
    store_secret: Option<String>,
    /// A PersistentVolumeClaim to mount, CLAIM or CLAIM:PATH (default
    /// path: the plan's folder), when the plan and output are on a volume.
    #[arg(long, value_name = "CLAIM[:PATH]")]
    claim: Option<String>,
}

#[derive(Args)]
struct LocalArgs {
    #[command(flatten)]
    common: Common,
    /// Run at most P tasks at once.
    #[arg(long, value_name = "P", default_value_t = 1)]
    parallel: usize,
}

/// Runs `ffstream farm ENGINE`; prints what it wrote or ran unless `quiet`.
pub fn run(a: FarmArgs, quiet: bool) -> Result<(), Error> {
    match a.engine {
        Engine::Slurm(s) => run_slurm(s, quiet),
        Engine::K8s(k) => run_k8s(k, quiet),
        Engine::Local(l) => run_local(&l, quiet),
    }
}

/// The plan (loaded), its absolute path, and the folder to write into.
struct Loaded {
    plan: FarmPlan,
    path: PathBuf,
    dir: PathBuf,
    name: String,
}

fn load(c: &Common) -> Result<Loaded, Error> {
    // A store URL (s3://bucket/title/plan.json) is used as it is; its
    // scripts and logs go in --dir, by default the current folder.
    let plan = FarmPlan::load(&c.plan)?;
    let path = if plan.in_store() {
        c.plan.clone()
    } else {
        std::fs::canonicalize(&c.plan).map_err(|e| Error::io(&c.plan, e))?
    };
    let dir = match &c.dir {
        Some(d) => std::fs::create_dir_all(d)
            .and_then(|()| std::fs::canonicalize(d))
            .map_err(|e| Error::io(d, e))?,
        None if plan.in_store() => {
            std::env::current_dir().map_err(|e| Error::io("the current folder", e))?
        }
        None => path
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf),
    };
    let name = c.name.clone().unwrap_or_else(|| default_name(&plan.stem()));
    Ok(Loaded {
        plan,
        path,
        dir,
        name,
    })
}

/// `ffstream-STEM`, as a Kubernetes name (lowercase letters, digits, '-').
fn default_name(stem: &str) -> String {
    let mut slug = String::new();
    for c in stem.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let mut name: String = format!("ffstream-{slug}").chars().take(40).collect();
    while name.ends_with('-') {
        name.pop();
    }
    name
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

fn run_slurm(a: SlurmArgs, quiet: bool) -> Result<(), Error> {
    let l = load(&a.common)?;
    let exe = match a.exe {
        Some(e) => e,
        None => std::env::current_exe()
            .and_then(std::fs::canonicalize)
            .map_err(|e| Error::io("ffstream (the running binary)", e))?,
    };
    let job = slurm::SlurmJob {
        exe,
        plan: l.path.to_string_lossy().into_owned(),
        tasks: l.plan.task_count(),
        parallel: a.parallel,
        partition: a.partition,
        cpus_per_task: a.cpus_per_task,
        dir: l.dir.clone(),
        name: l.name,
    };
    let s = slurm::scripts(&job)?;
    let chunks = l.dir.join(slurm::CHUNKS_FILE);
    let assemble = l.dir.join(slurm::ASSEMBLE_FILE);
    let submit = l.dir.join(slurm::SUBMIT_FILE);
    write(&chunks, &s.chunks)?;
    write(&assemble, &s.assemble)?;
    write(&submit, &s.submit)?;
    if !a.submit {
        if !quiet {
            out!("wrote {} ({} tasks)", chunks.display(), job.tasks);
            out!("wrote {}", assemble.display());
            out!("submit both with: sh {}", submit.display());
        }
        return Ok(());
    }
    let array = sbatch(&[
        "--parsable".to_string(),
        chunks.to_string_lossy().into_owned(),
    ])?;
    let array = slurm::job_id(&array).to_string();
    let after = sbatch(&slurm::assemble_args(&array, &assemble))?;
    // The ids alone on stdout, for scripts; the words only when asked for.
    if quiet {
        out!("{array} {}", slurm::job_id(&after));
    } else {
        out!(
            "submitted chunks job {array} ({} tasks) and assemble job {} (after every task succeeds)",
            job.tasks,
            slurm::job_id(&after)
        );
    }
    Ok(())
}

/// Runs `sbatch ARGS` and returns what it printed.
fn sbatch(args: &[String]) -> Result<String, Error> {
    let out = Command::new("sbatch")
        .args(args)
        .output()
        .map_err(|e| Error::Config(format!("farm slurm --submit: cannot run sbatch: {e}")))?;
    if !out.status.success() {
        return Err(Error::Config(format!(
            "farm slurm --submit: sbatch {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run_k8s(a: K8sArgs, quiet: bool) -> Result<(), Error> {
    let l = load(&a.common)?;
    let env = a
        .store_env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| {
                    Error::Config(format!("bad --store-env {kv:?}: expected NAME=VALUE"))
                })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let plan_dir = l.path.parent().unwrap_or(Path::new("/"));
    let claim = match a.claim.as_deref().map(|c| (c, c.split_once(':'))) {
        Some((_, Some((name, mount)))) => Some((name.to_string(), mount.to_string())),
        Some((c, None)) if l.plan.in_store() => {
            return Err(Error::Config(format!(
                "--claim {c}: the plan is in a store, so there is no folder to mount it at; give --claim {c}:/PATH"
            )))
        }
        Some((c, None)) => Some((c.to_string(), plan_dir.to_string_lossy().into_owned())),
        None => None,
    };
    let job = k8s::K8sJob {
        name: l.name,
        namespace: a.namespace,
        image: a.image,
        exe: a.exe,
        plan: l.path.to_string_lossy().into_owned(),
        tasks: l.plan.task_count(),
        parallel: a.parallel,
        backoff_per_index: a.backoff_per_index,
        cpus: a.cpus,
        env,
        secret: a.store_secret,
        claim,
    };
    let m = k8s::manifests(&job)?;
    let chunks = l.dir.join(k8s::CHUNKS_FILE);
    let assemble = l.dir.join(k8s::ASSEMBLE_FILE);
    write(&chunks, &m.chunks)?;
    write(&assemble, &m.assemble)?;
    if !quiet {
        out!("wrote {} ({} tasks)", chunks.display(), job.tasks);
        out!("wrote {}", assemble.display());
        out!(
            "run with: kubectl apply -f {} && kubectl wait --for=condition=complete --timeout=24h {}job/{}-chunks && kubectl apply -f {}",
            chunks.display(),
            job.namespace.as_deref().map(|n| format!("-n {n} ")).unwrap_or_default(),
            job.name,
            assemble.display()
        );
    }
    Ok(())
}

fn run_local(a: &LocalArgs, quiet: bool) -> Result<(), Error> {
    let l = load(&a.common)?;
    let exe = std::env::current_exe().map_err(|e| Error::io("ffstream (the running binary)", e))?;
    let farm = local::LocalFarm::for_plan(exe, &l.plan, a.parallel)?;
    let tasks = farm.tasks;
    let report = farm.run(&|t| {
        if !quiet {
            let how = if t.ok { "done" } else { "FAILED" };
            eprintln!(
                "task {}/{tasks} {how} in {:.1} s",
                t.index,
                t.elapsed.as_secs_f64()
            );
        }
    })?;
    if !quiet {
        out!(
            "{tasks} tasks in {:.1} s ({} at once), assembled in {:.1} s: {}",
            report.tasks_elapsed.as_secs_f64(),
            a.parallel,
            report.assemble_elapsed.as_secs_f64(),
            farm.output.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::default_name;

    #[test]
    fn default_names_are_kubernetes_names() {
        assert_eq!(default_name("movie"), "ffstream-movie");
        assert_eq!(default_name("My Film (2024)"), "ffstream-my-film-2024");
        assert_eq!(default_name("--"), "ffstream");
        assert_eq!(default_name(&"x".repeat(80)).len(), 40);
    }
}
