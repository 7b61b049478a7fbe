//! The driver: the calling thread reads the input, decodes each packet once
//! and shares the frames with the workers, until the input ends, the run is
//! stopped or cancelled, or (live) the input is lost for good.

use super::fanout::{fan_out_audio, fan_out_video, feed_audio, pull_rotated, rotation_graph};
use super::input::{adopt_connection, OpenedInput};
use super::live_input::{Continuity, DeviceClock, DeviceReader, Micros};
use super::progress::{CancelHandle, Control, Tracker};
use super::workers::Senders;
use super::{Job, Monitor, CATCH_UP};
use crate::error::{Error, Result};
use ffmpeg_next::{filter, Packet, Rational};
use std::time::{Duration, Instant};

/// How the reading ended.
pub(super) struct Ended {
    /// The error that stopped the run (cancel, timeout, a decode error).
    pub stop: Option<Error>,
    /// A worker went away (its own error explains why).
    pub send_failed: bool,
    /// Live: the input was lost for good; what was read is published and the
    /// run then fails with this error.
    pub live_end: Option<Error>,
    /// Damaged packets or frames skipped, video and audio together.
    pub decode_errors: u64,
}

/// Cancel, timeout and progress reports, checked between packets.
pub(super) struct Watch<'a> {
    job: &'a Job,
    cancel: &'a CancelHandle,
    tracker: &'a Tracker,
    last_report: Instant,
}

impl<'a> Watch<'a> {
    pub fn new(job: &'a Job, cancel: &'a CancelHandle, tracker: &'a Tracker) -> Self {
        Watch {
            job,
            cancel,
            tracker,
            last_report: Instant::now(),
        }
    }

    /// The error that ends the run now, if any; reports progress to the
    /// monitor at most every 100 ms (`force`: now).
    pub fn check(&mut self, monitor: &mut Option<Monitor<'_>>, force: bool) -> Option<Error> {
        if self.cancel.is_cancelled() {
            return Some(Error::Cancelled);
        }
        if let Some(t) = self.job.timeout {
            if self.tracker.start.elapsed() > t {
                return Some(Error::Timeout(t));
            }
        }
        if force || self.last_report.elapsed() >= Duration::from_millis(100) {
            self.last_report = Instant::now();
            if let Some(m) = monitor.as_mut() {
                if m(&self.tracker.snapshot()) == Control::Cancel {
                    return Some(Error::Cancelled);
                }
            }
        }
        None
    }
}

/// What one read gave.
enum Read {
    Packet(Packet),
    /// Nothing this time (EAGAIN, or an interrupt a stop caused).
    Again,
    /// The input ended (or, catching up at a stop, whatever ended the read).
    End,
    /// A live input dropped: why, to reconnect.
    Lost(String),
}

/// The reading loop's state.
pub(super) struct Driver<'a> {
    job: &'a Job,
    src: &'a mut OpenedInput,
    tx: Senders,
    rot: Option<filter::Graph>,
    device: Option<DeviceReader>,
    device_clock: DeviceClock,
    /// Live: timestamps kept continuous across reconnections.
    continuity: Continuity,
    /// Where the latest video and audio packets end (live), microseconds.
    ends: [Option<Micros>; 2],
    /// When a clean stop was first seen (live runs then catch the audio up).
    stop_seen: Option<Instant>,
    video_fallback_dur: i64,
    /// When the run started (`--duration` counts from there).
    start: Instant,
    cancel: &'a CancelHandle,
    ended: Ended,
}

impl<'a> Driver<'a> {
    pub fn new(
        job: &'a Job,
        cancel: &'a CancelHandle,
        src: &'a mut OpenedInput,
        mut tx: Senders,
        start: Instant,
    ) -> Result<Self> {
        if let (Some(c), Some(v)) = (tx.copy.as_mut(), src.video.as_mut()) {
            v.starts = c.starts.take();
        }
        let rot = match &src.video {
            Some(v) => rotation_graph(v)?,
            None => None,
        };
        let video_fallback_dur = src.video.as_ref().map_or(0, |v| {
            use ffmpeg_next::Rescale;
            let fr = v.frame_rate;
            1i64.rescale(
                Rational(fr.denominator(), fr.numerator().max(1)),
                v.time_base,
            )
        });
        let device = match src.device.take() {
            Some((name, actx, i)) => Some(DeviceReader::start(name, actx, i)?),
            None => None,
        };
        Ok(Driver {
            job,
            src,
            tx,
            rot,
            device,
            device_clock: DeviceClock::start(),
            continuity: Continuity::default(),
            ends: [None, None],
            stop_seen: None,
            video_fallback_dur,
            start,
            cancel,
            ended: Ended {
                stop: None,
                send_failed: false,
                live_end: None,
                decode_errors: 0,
            },
        })
    }

    /// A clean stop: Ctrl-C, the stop handle, or `--duration` reached.
    fn stopping(&self) -> bool {
        self.job.stop.is_stopped() || self.job.duration.is_some_and(|d| self.start.elapsed() >= d)
    }

    /// Reads until the input ends or the run stops, then drains the
    /// decoders. The frame senders are dropped on return, so the workers
    /// finish once their queues are empty.
    pub fn run(
        mut self,
        watch: &mut Watch<'_>,
        monitor: &mut Option<Monitor<'_>>,
    ) -> Result<Ended> {
        self.read_all(watch, monitor)?;
        drop(self.device.take());
        if let Some(s) = self.src.video.as_ref().and_then(|v| v.starts.as_ref()) {
            let asked = self.job.settings.segment_seconds();
            crate::copy::warn_keyframes(&self.src.name, s.longest_interval(), asked);
        }
        if self.ended.stop.is_none() && !self.ended.send_failed {
            if !self.sidecars_to(None) {
                return Ok(self.ended);
            }
            self.drain_decoders()?;
            if let Err(e) = self.check_decoded() {
                self.ended.stop = Some(e);
            }
        }
        self.ended.decode_errors = self.src.video.as_ref().map_or(0, |v| v.damage.errors)
            + self.src.audio.iter().map(|a| a.damage.errors).sum::<u64>();
        Ok(self.ended)
    }

    fn read_all(&mut self, watch: &mut Watch<'_>, monitor: &mut Option<Monitor<'_>>) -> Result<()> {
        loop {
            if !self.device_audio()? {
                return Ok(());
            }
            if let Some(e) = watch.check(monitor, false) {
                self.ended.stop = Some(e);
                return Ok(());
            }
            if self.stopping() && !self.keeps_catching_up() {
                return Ok(());
            }
            match self.read()? {
                Read::Packet(p) => {
                    if !self.route(p)? {
                        return Ok(());
                    }
                }
                Read::Again => {}
                Read::End => return Ok(()),
                Read::Lost(reason) => {
                    if !self.reconnect(reason)? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Audio from the capture's own audio device, as it arrived. False when
    /// the run ends.
    fn device_audio(&mut self) -> Result<bool> {
        let Driver {
            device,
            src,
            device_clock,
            continuity,
            ends,
            tx,
            ended,
            ..
        } = self;
        let (Some(d), Some(a)) = (device.as_mut(), src.audio.first_mut()) else {
            return Ok(true);
        };
        while let Ok(msg) = d.rx.try_recv() {
            let (mut packet, arrived) = match msg {
                Ok(m) => m,
                Err(reason) => {
                    ended.stop = Some(Error::Decode {
                        input: d.name.clone(),
                        reason,
                        source: None,
                    });
                    return Ok(false);
                }
            };
            device_clock.map(&mut packet, a.packet_time_base, 1, arrived);
            let end = continuity.map(&mut packet, a.packet_time_base, a.time_base, 0);
            ends[1] = end.or(ends[1]);
            if !fed(ended, feed_audio(a, &packet, &tx.audio[0], &d.name)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Records what feeding a worker gave; false when the run ends.
    fn fed(&mut self, r: Result<bool>) -> bool {
        fed(&mut self.ended, r)
    }

    /// At a clean stop: live audio arrives a little behind the video (the
    /// sender buffers it longer), so a live input is read on, audio only,
    /// for up to [`CATCH_UP`], so the last segment does not end up with
    /// video alone.
    fn keeps_catching_up(&mut self) -> bool {
        let behind = matches!(self.ends, [Some(v), Some(a)] if a < v);
        let since = *self.stop_seen.get_or_insert_with(Instant::now);
        if !(self.job.settings.live && behind) || since.elapsed() > CATCH_UP {
            return false;
        }
        // A read the stop interrupted left the input failed: clear that.
        if self
            .job
            .live_source
            .as_ref()
            .is_some_and(|l| l.watchdog.finishing())
        {
            crate::ffi::avio_reset::clear_read_error(&mut self.src.ictx);
        }
        true
    }

    /// Reads one packet, telling a live input's drop from its end.
    fn read(&mut self) -> Result<Read> {
        // A fresh packet each time: ffmpeg-next's `read` does not release the
        // previous packet's buffer, so reusing one would leak every packet.
        let mut packet = Packet::empty();
        let live = self.job.live_source.as_ref();
        if let Some(l) = live {
            let limit = match self.stop_seen {
                Some(t) => CATCH_UP.saturating_sub(t.elapsed()),
                None => l.policy.stall_timeout,
            };
            l.watchdog.arm(Some(limit.min(l.policy.stall_timeout)));
        }
        let e = match packet.read(&mut self.src.ictx) {
            Ok(()) => return Ok(Read::Packet(packet)),
            Err(e) => e,
        };
        Ok(match (&e, &self.job.reconnect) {
            _ if super::encoders::is_again(&e) => Read::Again,
            // Catching up at a stop: whatever ends the read ends the input.
            _ if self.stop_seen.is_some() => Read::End,
            (ffmpeg_next::Error::Eof, None) => Read::End,
            (_, None) => {
                self.ended.stop = Some(Error::Decode {
                    input: self.src.name.clone(),
                    reason: e.to_string(),
                    source: Some(Box::new(e)),
                });
                Read::End
            }
            // Interrupted by a stop or cancel: handled at the top.
            (_, Some(_)) if self.stopping() || self.cancel.is_cancelled() => Read::Again,
            (_, Some(policy)) => Read::Lost(match e {
                _ if live.is_some_and(|l| l.watchdog.stalled()) => format!(
                    "nothing received for {:.1} s",
                    policy.stall_timeout.as_secs_f64()
                ),
                ffmpeg_next::Error::Eof => "the stream ended".to_string(),
                e => crate::ffi::log::explain(e),
            }),
        })
    }

    /// Puts a packet on the output clock and decodes it. False when the
    /// run ends.
    fn route(&mut self, packet: Packet) -> Result<bool> {
        let at = self.src.ictx.stream(packet.stream()).and_then(|s| {
            packet
                .pts()
                .or(packet.dts())
                .map(|t| Micros::of(t, s.time_base()))
        });
        if !self.route_main(packet)? {
            return Ok(false);
        }
        Ok(at.is_none() || self.sidecars_to(at))
    }

    /// Reads the audio files beside the input up to `until` (to their end
    /// with `None`). False when the run ends.
    fn sidecars_to(&mut self, until: Option<Micros>) -> bool {
        for r in &mut self.src.sidecars {
            let (Some(a), Some(tx)) = (self.src.audio.get_mut(r.track), self.tx.audio.get(r.track))
            else {
                continue;
            };
            let res = r.catch_up(until, a, tx);
            if !fed(&mut self.ended, res) {
                return false;
            }
        }
        true
    }

    fn route_main(&mut self, mut packet: Packet) -> Result<bool> {
        let idx = packet.stream();
        let is_video = self.src.video.as_ref().is_some_and(|v| v.index == idx);
        let track = self.src.audio.iter().position(|a| a.index == idx);

        if is_video && self.device.is_some() {
            if let Some(v) = self.src.video.as_ref() {
                self.device_clock
                    .map(&mut packet, v.packet_time_base, 0, Instant::now());
            }
        }
        if self.job.reconnect.is_some() {
            if is_video && self.stop_seen.is_some() {
                return Ok(true);
            }
            self.keep_continuous(&mut packet, is_video, track);
        }
        if is_video {
            if self.past_window(&packet) {
                return Ok(false);
            }
            return self.decode_video(&packet);
        }
        if let Some(t) = track {
            let r = feed_audio(
                &mut self.src.audio[t],
                &packet,
                &self.tx.audio[t],
                &self.src.name,
            );
            return Ok(self.fed(r));
        }
        Ok(true)
    }

    /// Live: moves a packet onto the output clock and records where it ends.
    fn keep_continuous(&mut self, packet: &mut Packet, is_video: bool, track: Option<usize>) {
        if let Some(v) = self.src.video.as_ref().filter(|_| is_video) {
            let dur = self.video_fallback_dur;
            let end = self
                .continuity
                .map(packet, v.packet_time_base, v.time_base, dur);
            self.ends[0] = end.or(self.ends[0]);
        } else if let Some(t) = track {
            let a = &self.src.audio[t];
            let end = self
                .continuity
                .map(packet, a.packet_time_base, a.time_base, 0);
            // The catch-up at a stop waits for the main track.
            if t == 0 {
                self.ends[1] = end.or(self.ends[1]);
            }
        }
    }

    /// A farm task: a video packet decoded at or after the window's end
    /// (every frame shown before the end was decoded before it).
    fn past_window(&self, packet: &Packet) -> bool {
        let w = self.src.video.as_ref().and_then(|v| v.window);
        match (w.and_then(|w| w.read_end()), packet.dts()) {
            (Some(end), Some(dts)) => dts >= end,
            _ => false,
        }
    }

    fn decode_video(&mut self, packet: &Packet) -> Result<bool> {
        let Some(v) = self.src.video.as_mut() else {
            return Ok(true);
        };
        if let Some(c) = self.tx.copy.as_ref() {
            // A mixed ladder's copied rung gets the packet as it is, and its
            // muxer's cut is worked out before the packet is decoded.
            if let Some(s) = v.starts.as_mut() {
                s.packet(packet.pts(), packet.is_key());
            }
            let msg = super::mux::MuxMsg {
                source: c.source,
                packet: packet.clone(),
            };
            if c.tx.send(msg).is_err() {
                self.ended.send_failed = true;
                return Ok(false);
            }
        }
        if let Some(w) = v.window {
            // A farm task's pre-roll is dropped: of its pictures only those
            // later ones refer to are decoded (a 1.8 s pre-roll of a 1080p
            // libx264 source took a fifth less time).
            let preroll = packet.pts().is_some_and(|p| w.before(p));
            v.decoder.skip_frame(if preroll {
                ffmpeg_next::Discard::NonReference
            } else {
                ffmpeg_next::Discard::Default
            });
        }
        if let Err(e) = v.decoder.send_packet(packet) {
            if super::encoders::is_again(&e) {
            } else if super::input::Damage::survivable(&e) {
                v.damage.record(&self.src.name, "video", &e);
            } else {
                self.ended.stop = Some(Error::Decode {
                    input: self.src.name.clone(),
                    reason: e.to_string(),
                    source: Some(Box::new(e)),
                });
                return Ok(false);
            }
        }
        let r = fan_out_video(v, &mut self.rot, &self.tx.video, &self.src.name);
        Ok(self.fed(r))
    }

    /// Publishes what was decoded before a live input dropped, then reopens
    /// it. False when the run ends (stopped, given up, or the new connection
    /// is not the same stream).
    fn reconnect(&mut self, reason: String) -> Result<bool> {
        if !self.flush_decoders()? {
            return Ok(false);
        }
        let Some(policy) = self.job.reconnect.as_ref() else {
            return Ok(false);
        };
        let (job, cancel, start) = (self.job, self.cancel, self.start);
        let url = self.src.url.clone();
        let reopened = crate::live::reopen(
            &url,
            policy,
            reason,
            || match job.live_source.as_ref() {
                Some(l) => crate::live::open_url(&url, &l.policy, &l.watchdog),
                None => job.source.open().map_err(|e| e.to_string()),
            },
            || {
                if cancel.is_cancelled() {
                    Some(Some(Error::Cancelled))
                } else if let Some(t) = job.timeout.filter(|t| start.elapsed() > *t) {
                    Some(Some(Error::Timeout(t)))
                } else if job.stop.is_stopped()
                    || job.duration.is_some_and(|d| start.elapsed() >= d)
                {
                    Some(None)
                } else {
                    None
                }
            },
        );
        match reopened {
            Ok(next) => Ok(self.adopt(next)),
            Err(crate::live::Gave::Stopped) => Ok(false),
            Err(crate::live::Gave::Aborted(e)) => {
                self.ended.stop = Some(e);
                Ok(false)
            }
            Err(crate::live::Gave::Up(e)) => {
                self.ended.live_end = Some(e);
                Ok(false)
            }
        }
    }

    /// Takes over a new connection, which must carry the same streams.
    fn adopt(&mut self, mut next: ffmpeg_next::format::context::Input) -> bool {
        let cores = self.job.settings.threads.max(1);
        let src = &mut *self.src;
        match adopt_connection(
            self.job,
            &mut next,
            &mut src.video,
            &mut src.audio,
            cores,
            &src.name,
        ) {
            Ok(s) => {
                self.continuity.reconnected(s);
                src.ictx = next;
                true
            }
            Err(e) => {
                self.ended.live_end = Some(e);
                false
            }
        }
    }

    /// Frames decoded before a drop are encoded and published.
    fn flush_decoders(&mut self) -> Result<bool> {
        if let Some(v) = self.src.video.as_mut() {
            let _ = v.decoder.send_eof();
            if !fan_out_video(v, &mut self.rot, &self.tx.video, &self.src.name)? {
                self.ended.send_failed = true;
                return Ok(false);
            }
        }
        for (a, tx) in self.src.audio.iter_mut().zip(&self.tx.audio) {
            let _ = a.decoder.send_eof();
            if !fan_out_audio(a, tx, &self.src.name)? {
                self.ended.send_failed = true;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A stream with data of which nothing decoded fails the run.
    fn check_decoded(&self) -> Result<()> {
        let name = &self.src.name;
        if let Some(v) = &self.src.video {
            v.damage.check(name, "video")?;
        }
        for a in &self.src.audio {
            a.damage.check(name, "audio")?;
        }
        Ok(())
    }

    /// End of input: drains the decoders and the rotation filter (a decoder
    /// already drained at a drop just reports the end again).
    fn drain_decoders(&mut self) -> Result<()> {
        let name = &self.src.name;
        if let Some(v) = self.src.video.as_mut() {
            let _ = v.decoder.send_eof();
            self.ended.send_failed |= !fan_out_video(v, &mut self.rot, &self.tx.video, name)?;
            if let Some(g) = self.rot.as_mut() {
                if let Some(mut src) = g.get("in") {
                    let _ = src.source().flush();
                }
                self.ended.send_failed |= !pull_rotated(g, &self.tx.video)?;
            }
        }
        for (a, tx) in self.src.audio.iter_mut().zip(&self.tx.audio) {
            let _ = a.decoder.send_eof();
            self.ended.send_failed |= !fan_out_audio(a, tx, name)?;
        }
        Ok(())
    }
}

/// Records in `ended` what feeding a worker gave; false when the run ends.
fn fed(ended: &mut Ended, r: Result<bool>) -> bool {
    match r {
        Ok(true) => true,
        Ok(false) => {
            ended.send_failed = true;
            false
        }
        Err(e) => {
            ended.stop = Some(e);
            false
        }
    }
}
