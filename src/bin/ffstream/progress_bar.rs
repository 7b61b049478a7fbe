//! The terminal progress bar: percent, speed and ETA; hidden when stderr is
//! not a terminal or when --quiet is given.

use ffstream::{Control, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn new(label: &str, quiet: bool) -> Bar {
        if quiet || !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let pb = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template("{prefix:>5} [{bar:40.cyan/blue}] {percent:>3}% {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_prefix(label.to_string());
        Bar(Some(pb))
    }

    pub fn update(&self, p: &Progress) -> Control {
        if let Some(pb) = &self.0 {
            pb.set_position((p.percent * 10.0).round() as u64);
            let eta = p
                .eta
                .map(|e| format!("{:.0}s", e.as_secs_f64()))
                .unwrap_or_else(|| "?".into());
            let total = p
                .frames_total
                .map(|t| t.to_string())
                .unwrap_or_else(|| "?".into());
            pb.set_message(format!(
                "{}/{} frames  {:.0} fps  {:.2}x  ETA {eta}",
                p.frames_done, total, p.fps, p.speed
            ));
        }
        Control::Continue
    }

    pub fn finish(&self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}
