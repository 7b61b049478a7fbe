//! `ffstream completions SHELL` and `ffstream man`: shell completion
//! scripts and man pages generated from the CLI's own clap definition
//! (`clap_complete`, `clap_mangen`), so they always list the subcommands and
//! options of the binary that prints them.

use clap::Args;
use clap_complete::Shell;
use ffstream::Error;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The name the scripts complete and the pages document.
const NAME: &str = "ffstream";

/// Arguments of `ffstream completions`.
#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
    /// Write the script into DIR, under the file name the shell looks for
    /// (ffstream.bash, _ffstream, ffstream.fish, ...), instead of printing it.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Arguments of `ffstream man`.
#[derive(Args)]
pub struct ManArgs {
    /// Write ffstream.1 and one page per subcommand (ffstream-hls.1, ...)
    /// into DIR instead of printing ffstream.1.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Prints (or writes under `--out`) the completion script of `cli`.
pub fn completions(a: &CompletionsArgs, mut cli: clap::Command) -> Result<(), Error> {
    match &a.out {
        None => {
            let mut script = Vec::new();
            clap_complete::generate(a.shell, &mut cli, NAME, &mut script);
            print_bytes(&script)
        }
        Some(dir) => {
            create_dir(dir)?;
            let path = clap_complete::generate_to(a.shell, &mut cli, NAME, dir)
                .map_err(|e| Error::io(dir, e))?;
            out!("wrote {}", path.display());
            Ok(())
        }
    }
}

/// Prints the man page of `cli` (roff), or writes it and one page per
/// subcommand under `--out`.
pub fn man(a: &ManArgs, cli: clap::Command) -> Result<(), Error> {
    // `help` has no page of its own: `--help` is on every page.
    let mut cli = cli.disable_help_subcommand(true);
    // Names the subcommands' pages (ffstream-hls.1, ...).
    cli.build();
    match &a.out {
        None => {
            let mut page = Vec::new();
            page_of(cli)
                .render(&mut page)
                .map_err(|e| Error::io("ffstream.1", e))?;
            print_bytes(&page)
        }
        Some(dir) => {
            create_dir(dir)?;
            let mut pages = vec![cli];
            while let Some(cmd) = pages.pop() {
                pages.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
                let path = page_of(cmd)
                    .generate_to(dir)
                    .map_err(|e| Error::io(dir, e))?;
                out!("wrote {}", path.display());
            }
            Ok(())
        }
    }
}

/// The man page of `cmd`. Its footer names ffstream's version alone: the
/// `--version` text also lists FFmpeg's libraries, on lines of their own,
/// which the page's `.TH` header line cannot hold.
fn page_of(cmd: clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(cmd)
        .source(format!("{NAME} {}", env!("CARGO_PKG_VERSION")))
        .manual("ffstream manual")
}

fn create_dir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Writes `bytes` to stdout; a closed pipe is an error, not a panic.
fn print_bytes(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("standard output", e))
}
