//! `ffstream completions SHELL` and `ffstream man`: the bash and fish
//! scripts load and complete subcommands and options, the zsh one loads and
//! registers itself; the man pages are roff that
//! groff renders without a warning, and document every subcommand and
//! option `ffstream --help` lists.

use std::process::{Command, Output};

fn ffstream(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream");
    assert!(
        o.status.success(),
        "ffstream {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn stdout(args: &[&str]) -> String {
    String::from_utf8(ffstream(args).stdout).expect("UTF-8 output")
}

/// The subcommands `ffstream --help` lists (but `help`).
fn subcommands() -> Vec<String> {
    let help = stdout(&["--help"]);
    let list: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect();
    assert!(list.len() >= 6, "{help}");
    list
}

/// The long options `ffstream SUB --help` lists.
fn long_options(sub: &str) -> Vec<String> {
    let help = stdout(&[sub, "--help"]);
    let mut v: Vec<String> = help
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// What bash's completion of `words` (the last one being completed) offers,
/// through the function the script registers for `ffstream`.
fn bash_complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let program = format!(
        r#"source {script}
func=$(complete -p ffstream | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
[ -n "$func" ] || {{ echo "no completion function registered" >&2; exit 3; }}
COMP_WORDS=({line}); COMP_CWORD={cword}; COMP_LINE="{line}"; COMP_POINT={point}
"$func" ffstream "{cur}" "{prev}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script = script.display(),
        cword = words.len() - 1,
        point = line.len(),
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let o = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_completion_loads_and_completes_subcommands_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("ffstream.bash");
    std::fs::write(&script, ffstream(&["completions", "bash"]).stdout).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    // Every subcommand is offered after `ffstream`, and only what the typed
    // prefix allows.
    let all = bash_complete(&script, &["ffstream", ""]);
    for sub in subcommands() {
        assert!(all.contains(&sub), "{sub} not offered: {all:?}");
    }
    let h = bash_complete(&script, &["ffstream", "h"]);
    assert!(h.contains(&"hls".to_string()), "{h:?}");
    assert!(h.iter().all(|w| w.starts_with('h')), "{h:?}");
    // A subcommand's own options.
    let opts = bash_complete(&script, &["ffstream", "hls", "--hls-t"]);
    assert_eq!(opts, ["--hls-time"], "{opts:?}");

    // --out writes the script under the name bash-completion looks for.
    let out = dir.path().join("completions");
    ffstream(&["completions", "bash", "--out", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(out.join("ffstream.bash")).unwrap(),
        std::fs::read(&script).unwrap()
    );
}

/// Runs `program` with `shell` (the tests' `dev.sh deps` installs zsh and
/// fish); returns its stdout.
fn shell(shell: &str, args: &[&str]) -> String {
    let o = Command::new(shell)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{shell} is not installed (tests/dev.sh deps): {e}"));
    assert!(
        o.status.success(),
        "{shell} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn fish_and_zsh_completions_load_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let fish = dir.path().join("ffstream.fish");
    std::fs::write(&fish, ffstream(&["completions", "fish"]).stdout).unwrap();
    let fish = fish.to_str().unwrap();
    shell("fish", &["--no-execute", fish]);
    // fish answers a completion query itself: candidates, a tab, the help.
    let query = |line: &str| -> Vec<String> {
        shell(
            "fish",
            &["-c", &format!("source {fish}; complete -C '{line}'")],
        )
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
    };
    let all = query("ffstream ");
    for sub in subcommands() {
        assert!(all.contains(&sub), "{sub} not offered: {all:?}");
    }
    assert_eq!(query("ffstream hls --hls-t"), ["--hls-time"]);

    let zsh = dir.path().join("_ffstream");
    std::fs::write(&zsh, ffstream(&["completions", "zsh"]).stdout).unwrap();
    let zsh = zsh.to_str().unwrap();
    shell("zsh", &["-n", zsh]);
    // Loaded after compinit, the script registers its function for ffstream.
    let registered = shell(
        "zsh",
        &[
            "-f",
            "-c",
            &format!(
                "autoload -U compinit; compinit -u -D; source {zsh}; print -r -- $_comps[ffstream]"
            ),
        ],
    );
    assert_eq!(registered.trim(), "_ffstream");
}

#[test]
fn completions_for_an_unknown_shell_are_refused_in_one_line() {
    let o = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("'tcsh'") && err.contains("bash"), "{err}");
}

/// Renders roff with groff's man macros, every warning on: (text, warnings).
fn groff(page: &str) -> (String, String) {
    use std::io::Write;
    let mut child = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-rLL=200n"])
        .env("GROFF_NO_SGR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("groff is not installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    // Bold and underline as overstrikes (x\bx) become plain text.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&o.stdout).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    (text, String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn man_pages_render_and_document_every_subcommand_and_option() {
    let page = stdout(&["man"]);
    assert!(
        page.lines().any(|l| l.starts_with(".TH ffstream 1 ")),
        "no .TH header:\n{page}"
    );
    let (text, warnings) = groff(&page);
    assert!(warnings.is_empty(), "groff: {warnings}");
    assert!(text.contains("SUBCOMMANDS"), "{text}");
    let subs = subcommands();
    for sub in &subs {
        assert!(
            text.contains(&format!("ffstream-{sub}(1)")),
            "{sub} missing:\n{text}"
        );
    }

    // --out: one page per subcommand, each with every option of its --help.
    let dir = tempfile::tempdir().unwrap();
    ffstream(&["man", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ffstream.1")).unwrap(),
        page
    );
    for sub in &subs {
        let file = dir.path().join(format!("ffstream-{sub}.1"));
        let roff = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        assert!(
            roff.lines()
                .any(|l| l.starts_with(&format!(".TH ffstream-{sub} 1 "))),
            "{file:?}"
        );
        let (text, warnings) = groff(&roff);
        assert!(warnings.is_empty(), "{file:?}: {warnings}");
        for opt in long_options(sub) {
            assert!(text.contains(&opt), "{file:?} lacks {opt}:\n{text}");
        }
    }
}
