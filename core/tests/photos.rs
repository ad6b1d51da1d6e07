//! Operators' photos against a file store that fails: a replaced photo's bytes are never left
//! behind for good (listed in the same transaction, removed once the store answers), and two
//! uploads at once leave only the photo that won.

mod support;

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use support::World;
use tandem_core::file::{FileStore, FileStoreError, FileStream};

/// Objects in memory; removals fail while `refusing`.
#[derive(Default)]
struct FlakyStore {
    objects: Mutex<HashMap<String, Bytes>>,
    refusing: AtomicBool,
}

impl FlakyStore {
    fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.objects.lock().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }
}

#[async_trait::async_trait]
impl FileStore for FlakyStore {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), FileStoreError> {
        self.objects.lock().unwrap().insert(key.to_owned(), bytes);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<(u64, FileStream), FileStoreError> {
        let bytes = self
            .objects
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .ok_or(FileStoreError::NotFound)?;
        let size = bytes.len() as u64;
        let stream = futures_util::stream::once(async move { Ok(bytes) });
        Ok((size, Box::pin(stream)))
    }

    async fn delete(&self, key: &str) -> Result<(), FileStoreError> {
        if self.refusing.load(Ordering::SeqCst) {
            return Err(FileStoreError::Unavailable("the store is down".into()));
        }
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }
}

fn png(side: u32) -> Bytes {
    let image = image::RgbImage::from_fn(side, side, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG");
    Bytes::from(out.into_inner())
}

fn photo_key(company: &support::Company, avatar: impl std::fmt::Display) -> String {
    format!("{}/avatar-{avatar}", company.tenant.id)
}

async fn a_replaced_photo_s_bytes_go_once_the_store_answers(w: World) {
    let store = Arc::new(FlakyStore::default());
    let w = w.with_files(store.clone()).await;
    let acme = w.company("acme").await;
    let me = acme.admin.user;
    let first = w
        .tandem
        .operators
        .set_avatar(&acme.admin, me, png(300))
        .await
        .expect("a photo");
    let first = first.avatar.expect("its id");

    // Replaced while the store cannot remove anything: the old bytes stay, listed.
    store.refusing.store(true, Ordering::SeqCst);
    let second = w
        .tandem
        .operators
        .set_avatar(&acme.admin, me, png(200))
        .await
        .expect("a new photo, though the old one's bytes cannot go yet");
    let second = second.avatar.expect("its id");
    assert_eq!(store.keys().len(), 2);
    w.tandem.files.purge_deleted().await.expect("a round");
    assert_eq!(store.keys().len(), 2, "the store still refuses");

    // Back: the next round removes them; only the photo in use is left.
    store.refusing.store(false, Ordering::SeqCst);
    w.tandem.files.purge_deleted().await.expect("a round");
    assert_eq!(store.keys(), vec![photo_key(&acme, second)]);
    assert_ne!(first, second);

    // Removed: nothing left, and nothing listed to remove again.
    w.tandem
        .operators
        .remove_avatar(&acme.admin, me)
        .await
        .expect("removed");
    assert!(store.keys().is_empty());
    assert_eq!(w.tandem.files.purge_deleted().await.expect("a round"), 0);
}

async fn two_uploads_at_once_leave_only_the_photo_that_won(w: World) {
    let store = Arc::new(FlakyStore::default());
    let w = w.with_files(store.clone()).await;
    let acme = w.company("acme").await;
    let me = acme.admin.user;
    let operators = &w.tandem.operators;
    let (a, b) = tokio::join!(
        operators.set_avatar(&acme.admin, me, png(120)),
        operators.set_avatar(&acme.admin, me, png(140)),
    );
    a.expect("one upload");
    b.expect("the other");
    let now = operators.get(&acme.admin, me).await.expect("me");
    assert_eq!(
        store.keys(),
        vec![photo_key(&acme, now.avatar.expect("a photo"))],
        "the other upload's bytes are gone"
    );
}

tandem_testkit::on_both_databases!(
    World::on_database =>
    a_replaced_photo_s_bytes_go_once_the_store_answers,
    two_uploads_at_once_leave_only_the_photo_that_won,
);
