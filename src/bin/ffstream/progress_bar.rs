//! The terminal progress bar: percent, speed and ETA; hidden when stderr is
//! not a terminal or when --quiet is given.

use ffstream::{Control, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

pub struct Bar(Option<ProgressBar>, std::cell::Cell<bool>);

impl Bar {
    pub fn new(label: &str, quiet: bool) -> Bar {
        if quiet || !std::io::stderr().is_terminal() {
            return Bar(None, Default::default());
        }
        let pb = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template("{prefix:>5} [{bar:40.cyan/blue}] {percent:>3}% {msg}")
                // Cannot fail: a constant template, shown on every run with a terminal.
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_prefix(label.to_string());
        Bar(Some(pb), Default::default())
    }

    pub fn update(&self, p: &Progress) -> Control {
        if let Some(pb) = &self.0 {
            if p.duration.is_none() && p.frames_total.is_none() {
                // A pipe or a live source: no end to measure against, so
                // a spinner with the media time done instead of a bar.
                if !self.1.replace(true) {
                    pb.set_style(
                        ProgressStyle::with_template("{prefix:>5} {spinner:.cyan} {msg}")
                            // Cannot fail: a constant template.
                            .expect("valid template"),
                    );
                }
                let t = p.time_done.as_secs();
                pb.set_message(format!(
                    "{:02}:{:02}:{:02}  {} frames  {:.0} fps  {:.2}x",
                    t / 3600,
                    t / 60 % 60,
                    t % 60,
                    p.frames_done,
                    p.fps,
                    p.speed
                ));
                pb.tick();
                return Control::Continue;
            }
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
