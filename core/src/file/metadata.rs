//! What a picture says besides its pixels. A phone's photo carries where and when it was taken
//! and with what (EXIF, XMP, IPTC, comments): none of that should travel with a file sent in a
//! chat. An image's original is kept with its pixels untouched — only those parts are taken
//! out — and with one fact put back: which way up it is, so it still shows upright.

use bytes::{BufMut, Bytes, BytesMut};
use img_parts::ImageEXIF;
use img_parts::jpeg::{Jpeg, JpegSegment, markers};
use img_parts::png::Png;
use img_parts::webp::{CHUNK_XMP, WebP};

/// `bytes` without its metadata, or `None` when there is none to take out (or the container
/// is one this does not rewrite: a GIF has no place for a location).
/// `orientation`: the EXIF orientation (1–8) the image had, kept when it is not 1.
pub(crate) fn without_metadata(bytes: &Bytes, orientation: u8) -> Option<Bytes> {
    let kept = (orientation != 1).then(|| orientation_only(orientation));
    if let Ok(mut jpeg) = Jpeg::from_bytes(bytes.clone()) {
        let before = jpeg.segments().len();
        // APP1: EXIF and XMP; APP13: IPTC; COM: free text.
        jpeg.segments_mut()
            .retain(|s| !matches!(s.marker(), markers::APP1 | markers::APP13 | markers::COM));
        if jpeg.segments().len() == before && kept.is_none() {
            return None;
        }
        if let Some(exif) = kept {
            let mut contents = BytesMut::with_capacity(6 + exif.len());
            contents.put_slice(b"Exif\0\0");
            contents.put(exif);
            // After the JFIF header when there is one, else first.
            let at =
                usize::from(jpeg.segments().first().map(|s| s.marker()) == Some(markers::APP0));
            let segment = JpegSegment::new_with_contents(markers::APP1, contents.freeze());
            jpeg.segments_mut().insert(at, segment);
        }
        return Some(jpeg.encoder().bytes());
    }
    if let Ok(mut png) = Png::from_bytes(bytes.clone()) {
        let before = png.chunks().len();
        for kind in [*b"eXIf", *b"tEXt", *b"iTXt", *b"zTXt", *b"tIME"] {
            png.remove_chunks_by_type(kind);
        }
        if png.chunks().len() == before {
            return None;
        }
        png.set_exif(kept);
        return Some(png.encoder().bytes());
    }
    if let Ok(mut webp) = WebP::from_bytes(bytes.clone()) {
        if webp.exif().is_none() && !webp.has_chunk(CHUNK_XMP) {
            return None;
        }
        webp.remove_chunks_by_id(CHUNK_XMP);
        webp.set_exif(kept);
        return Some(webp.encoder().bytes());
    }
    None
}

/// The smallest EXIF block saying only which way up the image is: a big-endian TIFF header
/// and one directory with the orientation tag.
fn orientation_only(orientation: u8) -> Bytes {
    let mut tiff = BytesMut::with_capacity(26);
    tiff.put_slice(b"MM\0\x2a");
    tiff.put_u32(8); // the directory follows the header
    tiff.put_u16(1); // one entry
    tiff.put_u16(0x0112); // Orientation
    tiff.put_u16(3); // SHORT
    tiff.put_u32(1); // one value
    tiff.put_u16(u16::from(orientation));
    tiff.put_u16(0); // the value's padding
    tiff.put_u32(0); // no next directory
    tiff.freeze()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{ImageDecoder, ImageReader, metadata::Orientation};

    use super::*;

    /// A TIFF block with the orientation and a camera's make: "SECRET-PLACE" stands for a
    /// location or anything else a photo should not carry.
    fn revealing_exif(orientation: u8) -> Vec<u8> {
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
        tiff.extend_from_slice(&2u16.to_be_bytes());
        // Make: ASCII, 13 bytes, at offset 38 (after the directory).
        tiff.extend_from_slice(&[0x01, 0x0f, 0, 2, 0, 0, 0, 13, 0, 0, 0, 38]);
        tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0]);
        tiff.extend_from_slice(&[0, 0, 0, 0]);
        tiff.extend_from_slice(b"SECRET-PLACE\0");
        tiff
    }

    fn jpeg_with_metadata(orientation: u8) -> Bytes {
        let image =
            image::RgbImage::from_fn(64, 32, |x, y| image::Rgb([x as u8 * 4, y as u8 * 8, 90]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        let mut jpeg = Jpeg::from_bytes(out.into_inner().into()).unwrap();
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend(revealing_exif(orientation));
        let segments = jpeg.segments_mut();
        segments.insert(
            0,
            JpegSegment::new_with_contents(markers::APP1, exif.into()),
        );
        let xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>SECRET-PLACE</x:xmpmeta>".to_vec();
        segments.insert(1, JpegSegment::new_with_contents(markers::APP1, xmp.into()));
        segments.insert(
            2,
            JpegSegment::new_with_contents(markers::COM, Bytes::from_static(b"SECRET-PLACE")),
        );
        jpeg.encoder().bytes()
    }

    fn contains(bytes: &[u8], needle: &[u8]) -> bool {
        bytes.windows(needle.len()).any(|w| w == needle)
    }

    fn orientation_of(bytes: &[u8]) -> Orientation {
        let mut decoder = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .unwrap()
            .into_decoder()
            .unwrap();
        decoder.orientation().unwrap()
    }

    #[test]
    fn a_photo_loses_what_it_says_and_keeps_which_way_up() {
        let photo = jpeg_with_metadata(6);
        assert!(contains(&photo, b"SECRET-PLACE"));
        let clean = without_metadata(&photo, 6).expect("something to take out");
        assert!(
            !contains(&clean, b"SECRET-PLACE"),
            "no make, no XMP, no comment"
        );
        assert_eq!(orientation_of(&clean), Orientation::Rotate90);
        let pixels = image::load_from_memory(&clean).expect("still an image");
        assert_eq!(
            (pixels.width(), pixels.height()),
            (64, 32),
            "the pixels untouched"
        );

        // Upright already: nothing is put back.
        let clean = without_metadata(&jpeg_with_metadata(1), 1).expect("something to take out");
        assert!(!contains(&clean, b"Exif"));
        assert_eq!(orientation_of(&clean), Orientation::NoTransforms);
    }

    #[test]
    fn a_picture_without_metadata_is_left_as_it_is() {
        let image = image::RgbImage::from_fn(8, 8, |_, _| image::Rgb([1, 2, 3]));
        for format in [
            image::ImageFormat::Png,
            image::ImageFormat::Jpeg,
            image::ImageFormat::WebP,
        ] {
            let mut out = Cursor::new(Vec::new());
            image.write_to(&mut out, format).unwrap();
            let bytes = Bytes::from(out.into_inner());
            assert!(without_metadata(&bytes, 1).is_none(), "{format:?}");
        }
        assert!(without_metadata(&Bytes::from_static(b"GIF89a"), 1).is_none());
    }

    #[test]
    fn a_png_loses_its_text_and_exif() {
        let image = image::RgbImage::from_fn(8, 8, |_, _| image::Rgb([1, 2, 3]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        let mut png = Png::from_bytes(out.into_inner().into()).unwrap();
        png.set_exif(Some(revealing_exif(1).into()));
        let text =
            img_parts::png::PngChunk::new(*b"tEXt", Bytes::from_static(b"Comment\0SECRET-PLACE"));
        png.chunks_mut().insert(1, text);
        let bytes = png.encoder().bytes();
        assert!(contains(&bytes, b"SECRET-PLACE"));
        let clean = without_metadata(&bytes, 1).expect("something to take out");
        assert!(!contains(&clean, b"SECRET-PLACE"));
        image::load_from_memory(&clean).expect("still an image");
    }
}
