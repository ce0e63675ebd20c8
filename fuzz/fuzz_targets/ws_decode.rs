//! Arbitrary text as a websocket frame from a panel: `tocsin_web::server::ws::decode`
//! with the server's 64 KiB limit must return a frame or a `FrameError`, never panic
//! (it runs on every frame any signed-in browser sends). An error's message is what the
//! panel is sent back, so it must stay short.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin_web::server::ws::{decode, FrameError, WsLimits};

fuzz_target!(|text: &str| {
    let max_frame = WsLimits::default().max_frame;
    match decode(text, max_frame) {
        Ok(frame) => {
            assert!(text.len() <= max_frame);
            let _ = format!("{frame:?}");
        }
        Err(FrameError::TooBig(n)) => assert!(n > max_frame),
        Err(FrameError::Malformed(message)) => {
            assert!(
                message.len() < 512,
                "an error message of {} bytes",
                message.len()
            );
        }
    }
});
