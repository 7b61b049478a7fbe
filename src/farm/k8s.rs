//! Kubernetes manifests for a farm plan: an Indexed Job of the chunk tasks
//! and an assemble Job.
//!
//! The chunk Job has `completionMode: Indexed` with one completion per
//! task: Kubernetes gives each pod its index in `JOB_COMPLETION_INDEX`,
//! which `ffstream chunk` reads itself, so every pod runs the same command
//! `EXE chunk PLAN`. `backoffLimitPerIndex` retries each index on its own
//! (a task run twice writes the same objects). Kubernetes has no dependency
//! between Jobs: apply the assemble Job once the chunk Job is complete
//! (`kubectl wait --for=condition=complete`); it refuses to write anything
//! while a task's report is missing, and names the missing indexes.
//!
//! [`manifests`] is a pure generator. The YAML is written here from a JSON
//! value, every string in JSON's double-quoted form, which YAML reads as
//! the same string whatever it holds.

use crate::{Error, Result};
use serde_json::{json, Map, Value};

/// The file names of the manifests, in the folder they are written to.
pub const CHUNKS_FILE: &str = "farm-k8s-chunks.yaml";
/// See [`CHUNKS_FILE`].
pub const ASSEMBLE_FILE: &str = "farm-k8s-assemble.yaml";

/// Retries of each index by default (`backoffLimitPerIndex`).
pub const DEFAULT_BACKOFF_PER_INDEX: u32 = 3;

/// What the Jobs run, and where. Example: [`manifests`].
#[derive(Debug, Clone)]
pub struct K8sJob {
    /// The Jobs' name prefix: `NAME-chunks` and `NAME-assemble` (lowercase
    /// letters, digits and '-', at most 50 characters).
    pub name: String,
    /// The namespace; `None`: the one `kubectl` uses.
    pub namespace: Option<String>,
    /// The container image that holds `ffstream`.
    pub image: String,
    /// `ffstream` as the container sees it (a name on its `PATH` or a path).
    pub exe: String,
    /// The plan as the container sees it.
    pub plan: String,
    /// The number of chunk tasks in the plan (the Job's completions).
    pub tasks: usize,
    /// Pods that run at once; `None`: one per task.
    pub parallel: Option<usize>,
    /// Retries of each index before it counts as failed.
    pub backoff_per_index: u32,
    /// CPUs each chunk pod requests (`resources.requests.cpu`); `None`:
    /// no request. A task runs one encoder thread per rendition by default.
    pub cpus: Option<usize>,
    /// Environment variables of every container (a store's endpoint,
    /// region...), as `NAME=VALUE`.
    pub env: Vec<(String, String)>,
    /// A Secret whose keys become environment variables (store credentials).
    pub secret: Option<String>,
    /// A PersistentVolumeClaim mounted at `mount` in every container: the
    /// shared folder that holds the plan and the output.
    pub claim: Option<(String, String)>,
}

/// The manifests [`manifests`] writes, as YAML text. Example: [`manifests`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sManifests {
    /// The Indexed Job of the chunk tasks.
    pub chunks: String,
    /// The assemble Job.
    pub assemble: String,
}

/// Writes the two Jobs for `job`. Refuses an empty plan, `parallel` 0, and
/// names Kubernetes would refuse.
///
/// ```
/// use ffstream::farm::k8s::{self, K8sJob};
/// let mut job = K8sJob {
///     name: "movie".into(),
///     namespace: Some("media".into()),
///     image: "registry.example/ffstream:1".into(),
///     exe: "ffstream".into(),
///     plan: "s3://bucket/movie/plan.json".into(),
///     tasks: 6,
///     parallel: Some(2),
///     backoff_per_index: k8s::DEFAULT_BACKOFF_PER_INDEX,
///     cpus: Some(2),
///     env: vec![("AWS_REGION".into(), "eu-west-1".into())],
///     secret: Some("store-credentials".into()),
///     claim: None,
/// };
/// let m = k8s::manifests(&job)?;
/// // One indexed completion per task, two pods at a time; the assemble Job runs once.
/// assert!(m.chunks.contains("completionMode: \"Indexed\""));
/// assert!(m.chunks.contains("completions: 6\n"));
/// assert!(m.chunks.contains("parallelism: 2\n"));
/// assert!(m.assemble.contains("- \"assemble\""));
/// assert!(!m.assemble.contains("Indexed"));
/// // Kubernetes would refuse an upper-case name: so does this.
/// job.name = "Movie".into();
/// assert!(k8s::manifests(&job).is_err());
/// # Ok::<(), ffstream::Error>(())
/// ```
pub fn manifests(job: &K8sJob) -> Result<K8sManifests> {
    check(job)?;
    let parallel = job.parallel.unwrap_or(job.tasks).min(job.tasks);
    let chunks_spec = json!({
        "completionMode": "Indexed",
        "completions": job.tasks,
        "parallelism": parallel,
        "backoffLimitPerIndex": job.backoff_per_index,
        "template": pod(job, "chunk"),
    });
    let assemble_spec = json!({
        "completions": 1,
        "parallelism": 1,
        "backoffLimit": job.backoff_per_index,
        "template": pod(job, "assemble"),
    });
    Ok(K8sManifests {
        chunks: yaml(&job_object(job, "chunks", chunks_spec)),
        assemble: yaml(&job_object(job, "assemble", assemble_spec)),
    })
}

fn check(job: &K8sJob) -> Result<()> {
    let bad = |what: String| Err(Error::Config(format!("farm k8s: {what}")));
    if job.tasks == 0 {
        return bad(format!("the plan {} has no chunk tasks", job.plan));
    }
    if job.parallel == Some(0) {
        return bad("--parallel must be at least 1".into());
    }
    if job.cpus == Some(0) {
        return bad("--cpus must be at least 1".into());
    }
    if !is_dns_label(&job.name) || job.name.len() > 50 {
        return bad(format!(
            "job name {:?} must be at most 50 lowercase letters, digits or '-', starting and ending with a letter or digit",
            job.name
        ));
    }
    if let Some(ns) = &job.namespace {
        if !is_dns_label(ns) || ns.len() > 63 {
            return bad(format!("bad --namespace {ns:?}"));
        }
    }
    if job.image.trim().is_empty() {
        return bad("--image must name a container image".into());
    }
    for (k, _) in &job.env {
        let ok = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return bad(format!("bad environment variable name {k:?}"));
        }
    }
    if let Some((claim, mount)) = &job.claim {
        if !is_dns_label(claim) || !mount.starts_with('/') {
            return bad(format!(
                "bad --claim {claim:?} mounted at {mount:?} (an absolute path)"
            ));
        }
    }
    Ok(())
}

/// A DNS-1123 label: lowercase letters, digits and '-', not at either end.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn labels(job: &K8sJob, component: &str) -> Value {
    json!({
        "app.kubernetes.io/name": "ffstream",
        "app.kubernetes.io/instance": job.name,
        "app.kubernetes.io/component": component,
    })
}

fn job_object(job: &K8sJob, part: &str, spec: Value) -> Value {
    let mut meta = Map::new();
    meta.insert("name".into(), json!(format!("{}-{part}", job.name)));
    if let Some(ns) = &job.namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    meta.insert("labels".into(), labels(job, part));
    json!({ "apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec })
}

/// The pod template of a Job whose container runs `EXE VERB PLAN`.
fn pod(job: &K8sJob, verb: &str) -> Value {
    let mut container = Map::new();
    container.insert("name".into(), json!(verb));
    container.insert("image".into(), json!(job.image));
    container.insert("command".into(), json!([job.exe, verb, job.plan]));
    if !job.env.is_empty() {
        let env: Vec<Value> = job
            .env
            .iter()
            .map(|(k, v)| json!({ "name": k, "value": v }))
            .collect();
        container.insert("env".into(), Value::Array(env));
    }
    if let (Some(n), "chunk") = (job.cpus, verb) {
        container.insert(
            "resources".into(),
            json!({ "requests": { "cpu": n.to_string() } }),
        );
    }
    if let Some(secret) = &job.secret {
        container.insert(
            "envFrom".into(),
            json!([{ "secretRef": { "name": secret } }]),
        );
    }
    let mut spec = Map::new();
    spec.insert("restartPolicy".into(), json!("Never"));
    if let Some((claim, mount)) = &job.claim {
        container.insert(
            "volumeMounts".into(),
            json!([{ "name": "shared", "mountPath": mount }]),
        );
        spec.insert(
            "volumes".into(),
            json!([{ "name": "shared", "persistentVolumeClaim": { "claimName": claim } }]),
        );
    }
    spec.insert("containers".into(), json!([container]));
    let component = if verb == "chunk" { "chunks" } else { verb };
    json!({ "metadata": { "labels": labels(job, component) }, "spec": spec })
}

/// `v` as a YAML document (block style), with a leading `---`.
pub(crate) fn yaml(v: &Value) -> String {
    let mut out = String::from("---\n");
    block(v, 0, &mut out);
    out
}

/// Writes a mapping or sequence at `indent`, one entry a line.
fn block(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                out.push_str(&format!("{pad}{}:", key(k)));
                nested(val, indent + 2, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                // The item as if it were indented by two more, with the
                // first two of those spaces turned into "- ".
                let mut inner = String::new();
                match item {
                    Value::Object(m) if !m.is_empty() => block(item, indent + 2, &mut inner),
                    Value::Array(a) if !a.is_empty() => block(item, indent + 2, &mut inner),
                    _ => inner = format!("{pad}  {}\n", scalar(item)),
                }
                out.push_str(&pad);
                out.push_str("- ");
                out.push_str(&inner[indent + 2..]);
            }
        }
        _ => out.push_str(&format!("{pad}{}\n", scalar(v))),
    }
}

/// The value after a mapping key: on the same line if it is a scalar or
/// empty, else on the lines below.
fn nested(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            block(v, indent, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            block(v, indent, out);
        }
        _ => out.push_str(&format!(" {}\n", scalar(v))),
    }
}

/// A key as is when it is plainly safe, else double-quoted.
fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.starts_with(|c: char| c.is_ascii_alphabetic())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "./_-".contains(c));
    if plain {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

/// A scalar (or an empty container) in flow form; strings double-quoted.
fn scalar(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> K8sJob {
        K8sJob {
            name: "ffstream-title".into(),
            namespace: Some("media".into()),
            image: "registry.example/ffstream:1".into(),
            exe: "ffstream".into(),
            plan: "/shared/out/plan.json".into(),
            tasks: 8,
            parallel: Some(3),
            backoff_per_index: 2,
            cpus: Some(2),
            env: vec![("AWS_REGION".into(), "eu-west-1".into())],
            secret: Some("store-credentials".into()),
            claim: Some(("shared".into(), "/shared".into())),
        }
    }

    #[test]
    fn yaml_writes_nested_blocks_and_quoted_strings() {
        let v = json!({"a": {"b": [1, "x: y", {"c": true, "d": []}], "e": {}}, "f": null});
        let want = "---\na:\n  b:\n    - 1\n    - \"x: y\"\n    - c: true\n      d: []\n  e: {}\nf: null\n";
        assert_eq!(yaml(&v), want);
        let nested = json!([[1, 2], "s\n\"q\""]);
        assert_eq!(yaml(&nested), "---\n- - 1\n  - 2\n- \"s\\n\\\"q\\\"\"\n");
    }

    #[test]
    fn chunk_job_is_indexed_with_one_completion_per_task() {
        let m = manifests(&job()).unwrap();
        for line in [
            "  completionMode: \"Indexed\"\n",
            "  completions: 8\n",
            "  parallelism: 3\n",
            "  backoffLimitPerIndex: 2\n",
            "      restartPolicy: \"Never\"\n",
            "            - \"ffstream\"\n            - \"chunk\"\n            - \"/shared/out/plan.json\"\n",
            "  name: \"ffstream-title-chunks\"\n",
            "  namespace: \"media\"\n",
        ] {
            assert!(m.chunks.contains(line), "{line:?} not in\n{}", m.chunks);
        }
        assert!(
            m.assemble.contains("            - \"assemble\"\n"),
            "{}",
            m.assemble
        );
        assert!(!m.assemble.contains("Indexed"), "{}", m.assemble);
        assert!(
            m.chunks.contains(
                "          resources:\n            requests:\n              cpu: \"2\"\n"
            ),
            "{}",
            m.chunks
        );
        assert!(!m.assemble.contains("resources"), "{}", m.assemble);
        let all = K8sJob {
            parallel: None,
            ..job()
        };
        assert!(manifests(&all)
            .unwrap()
            .chunks
            .contains("  parallelism: 8\n"));
    }

    #[test]
    fn refuses_what_kubernetes_would() {
        let bad = [
            K8sJob { tasks: 0, ..job() },
            K8sJob {
                parallel: Some(0),
                ..job()
            },
            K8sJob {
                cpus: Some(0),
                ..job()
            },
            K8sJob {
                name: "Title".into(),
                ..job()
            },
            K8sJob {
                name: "-x".into(),
                ..job()
            },
            K8sJob {
                namespace: Some("a_b".into()),
                ..job()
            },
            K8sJob {
                image: " ".into(),
                ..job()
            },
            K8sJob {
                env: vec![("1X".into(), String::new())],
                ..job()
            },
            K8sJob {
                claim: Some(("shared".into(), "rel".into())),
                ..job()
            },
        ];
        for j in bad {
            let e = manifests(&j).unwrap_err().to_string();
            assert!(e.contains("farm k8s"), "{e}");
        }
    }
}
