//! Images: decoded once at upload (which proves they are what they claim), measured upright,
//! and given a small JPEG copy for the dialog. Decoding hostile input is bounded in pixels and
//! memory, and runs off the async threads (the service does that).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, metadata::Orientation};

use tokio::sync::Semaphore;

use super::FileRefusal;
use crate::error::{CoreError, CoreResult};

/// Larger images are refused: decoding one costs ~4 bytes a pixel.
pub(crate) const MAX_PIXELS: u64 = 50_000_000;
const MAX_SIDE: u32 = 20_000;
/// The thumbnail's longer side.
pub(crate) const THUMBNAIL_SIDE: u32 = 480;

/// An image as decoded: its upright size and, when larger than a thumbnail, a JPEG copy to show
/// in the dialog.
pub(crate) struct Pictured {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Option<Vec<u8>>,
    /// Which way up it is, as EXIF says it (1–8; 1: as stored).
    pub orientation: u8,
}

/// Decodes `bytes`; anything that does not decode within the bounds is refused.
pub(crate) fn inspect(bytes: &[u8]) -> Result<Pictured, FileRefusal> {
    let (image, orientation) = decode(bytes)?;
    let (w, h) = (image.width(), image.height());
    // Turned upright only once small: turning the whole image would copy it.
    let (width, height) = match orientation {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (h, w),
        _ => (w, h),
    };
    let thumbnail = if width.max(height) > THUMBNAIL_SIDE {
        let mut small = image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE);
        small.apply_orientation(orientation);
        Some(jpeg(&small, 82).map_err(unreadable)?)
    } else {
        None
    };
    Ok(Pictured {
        width,
        height,
        thumbnail,
        orientation: orientation.to_exif(),
    })
}

/// An operator's photo as visitors see it: the middle square of the image, upright,
/// [`PORTRAIT_SIDE`] pixels a side, as a JPEG. Only these new pixels are kept: nothing of the
/// upload (its metadata, anything hidden in it) reaches a visitor.
pub(crate) fn portrait(bytes: &[u8]) -> Result<Vec<u8>, FileRefusal> {
    let (image, orientation) = decode(bytes)?;
    let side = image.width().min(image.height());
    let square = image.crop_imm(
        (image.width() - side) / 2,
        (image.height() - side) / 2,
        side,
        side,
    );
    let mut small = square.resize_exact(
        PORTRAIT_SIDE.min(side),
        PORTRAIT_SIDE.min(side),
        image::imageops::FilterType::Lanczos3,
    );
    small.apply_orientation(orientation);
    jpeg(&small, 85).map_err(unreadable)
}

/// A portrait's side, in pixels: sharp in a 40-pixel circle on a screen of 3× density.
pub(crate) const PORTRAIT_SIDE: u32 = 160;

fn unreadable(_: String) -> FileRefusal {
    FileRefusal::Unreadable {
        max_pixels: MAX_PIXELS,
    }
}

/// The image and how to turn it upright, if it decodes within the bounds.
fn decode(bytes: &[u8]) -> Result<(DynamicImage, Orientation), FileRefusal> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| unreadable(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| unreadable(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_PIXELS || w == 0 || h == 0 {
        return Err(unreadable(String::new()));
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|e| unreadable(e.to_string()))?;
    Ok((image, orientation))
}

/// A small image as a JPEG, transparency shown on white.
fn jpeg(small: &DynamicImage, quality: u8) -> Result<Vec<u8>, String> {
    let rgb = if small.color().has_alpha() {
        let rgba = small.to_rgba8();
        let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
        for (to, from) in rgb.pixels_mut().zip(rgba.pixels()) {
            let alpha = u16::from(from[3]);
            for c in 0..3 {
                let blended = (u16::from(from[c]) * alpha + 255 * (255 - alpha)) / 255;
                to[c] = blended as u8;
            }
        }
        rgb
    } else {
        small.to_rgb8()
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&rgb)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Runs `work` (a decode) off the async threads, when `gate` lets it: each decode may take a
/// few hundred MB for a moment, so a process runs only a few at once.
pub(crate) async fn off_thread<T: Send + 'static>(
    gate: &Semaphore,
    work: impl FnOnce() -> Result<T, FileRefusal> + Send + 'static,
) -> CoreResult<T> {
    let _turn = gate
        .acquire()
        .await
        .map_err(|_| CoreError::Busy("the server is shutting down"))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| unreadable(String::new()))?
        .map_err(CoreError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([x as u8, y as u8, (x ^ y) as u8])
        }));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// PNG's chunk checksum (CRC-32, ISO 3309).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn a_large_image_gets_a_thumbnail_a_small_one_is_its_own() {
        let big = inspect(&png(1200, 600)).unwrap();
        assert_eq!((big.width, big.height), (1200, 600));
        let thumb = image::load_from_memory(big.thumbnail.as_deref().unwrap()).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (480, 240));
        let small = inspect(&png(100, 80)).unwrap();
        assert!(small.thumbnail.is_none());
    }

    #[test]
    fn broken_or_enormous_images_are_refused() {
        let mut cut = png(300, 300);
        cut.truncate(cut.len() / 2);
        assert!(inspect(&cut).is_err());
        // A valid header claiming 10,000 × 6,000 pixels (each side allowed, the whole not):
        // refused before anything is allocated.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&10_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&6_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            inspect(&bomb),
            Err(FileRefusal::Unreadable { .. })
        ));
        assert!(inspect(b"GIF89a not really").is_err());
        assert!(portrait(&cut).is_err());
        assert!(portrait(&bomb).is_err());
    }

    #[test]
    fn a_portrait_is_the_middle_square_made_small_and_new() {
        // Wide, with a red band in the middle third: the square keeps the middle.
        let wide = DynamicImage::ImageRgb8(image::RgbImage::from_fn(900, 300, |x, _| {
            if (300..600).contains(&x) {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            }
        }));
        let mut bytes = Cursor::new(Vec::new());
        wide.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        let out = portrait(bytes.get_ref()).unwrap();
        assert_eq!(&out[..3], b"\xff\xd8\xff", "a JPEG");
        let seen = image::load_from_memory(&out).unwrap().to_rgb8();
        assert_eq!(seen.dimensions(), (PORTRAIT_SIDE, PORTRAIT_SIDE));
        for (x, y) in [(0, 0), (80, 80), (159, 159)] {
            let [r, _, b] = seen.get_pixel(x, y).0;
            assert!(r > 200 && b < 60, "red at {x},{y}");
        }
        // A small one is not blown up.
        let tiny = portrait(&png(40, 60)).unwrap();
        let tiny = image::load_from_memory(&tiny).unwrap();
        assert_eq!((tiny.width(), tiny.height()), (40, 40));
    }
}
