//! `tonewatch supervise`: one page for a whole floor, from NATS.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;
use tonewatch::publish::feed::Hub;
use tonewatch::service::Notifier;

use super::{Failure, FeedToken, NatsLogin, serve_feed, stop_on_signals};

#[derive(Args, Debug)]
pub(crate) struct SuperviseArgs {
    /// The NATS server the desks publish to (several: comma-separated;
    /// credentials in the URL or with the --nats-* options).
    #[arg(long, value_name = "URL")]
    nats: String,

    #[command(flatten)]
    nats_login: NatsLogin,

    /// Where to serve the page, /events, /healthz and /metrics.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    feed: std::net::SocketAddr,

    #[command(flatten)]
    token: FeedToken,
}

pub(super) fn run(args: &SuperviseArgs) -> Result<(), Failure> {
    let target = args.nats_login.target(&args.nats);
    target.check().map_err(|e| Failure::Input(e.to_string()))?;
    let hub = Arc::new(Hub::floor());
    let server = serve_feed(args.feed, &args.token, &hub)?;
    let stop = stop_on_signals(false)?;
    // systemd (Type=notify): ready once the page is served; the watchdog
    // is fed while the page's runtime runs its tasks.
    let mut systemd = Notifier::from_env();
    systemd.ready(&format!("supervisor page at {}", server.url()));
    let result = std::thread::scope(|scope| {
        let watch = scope.spawn(|| {
            let stall = systemd.watchdog().map_or(Duration::from_secs(5), |w| w / 2);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                systemd.tick(|| server.responsive(stall));
            }
            systemd.stopping("stopping");
        });
        let result = tonewatch::publish::nats::supervise(&target, &hub, &stop)
            .map_err(|e| Failure::Input(e.to_string()));
        // A failed connection ends supervise before any signal does.
        stop.store(true, Ordering::Relaxed);
        let _ = watch.join();
        result
    });
    drop(server);
    result
}
