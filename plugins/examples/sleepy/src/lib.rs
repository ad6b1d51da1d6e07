//! A test plugin whose every call, `describe` included, sleeps for ever inside a WASI call
//! (`wasi:io/poll` on a clock), where wasmtime's epoch deadline never fires. The host must cut
//! it off at its deadline all the same.

wit_bindgen::generate!({ path: "../../wit/since_v0.1.0", world: "plugin" });

use exports::tandem::plugin::hooks::{
    Context, Delivery, Guest, Manifest, RenderedEmail, TemplateSources, UnreadMessage,
};

struct Sleepy;

fn forever() -> ! {
    loop {
        std::thread::sleep(std::time::Duration::from_nanos(u64::MAX));
    }
}

impl Guest for Sleepy {
    fn describe() -> Manifest {
        forever()
    }

    fn offline_timeout(_ctx: Context) -> Option<u32> {
        forever()
    }

    fn email_template(_ctx: Context) -> Option<TemplateSources> {
        forever()
    }

    fn route_notification(
        _ctx: Context,
        _messages: Vec<UnreadMessage>,
        _email: RenderedEmail,
    ) -> Option<Vec<Delivery>> {
        forever()
    }
}

export!(Sleepy);
