//! What a file is, found from its content (the sender's name and type are not trusted), and
//! whether its name agrees.

use super::{FileGroup, FileRefusal};

/// What the content was found to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sniffed {
    pub content_type: &'static str,
    /// `None`: a type no tenant may accept (programs, unknown binaries).
    pub group: Option<FileGroup>,
    /// One of the browser-safe raster formats, which may be shown inline once it decodes.
    pub image: bool,
    /// The extensions a name of this type may end with; the first is its own.
    pub extensions: &'static [&'static str],
}

impl Sniffed {
    /// `name` ending with an extension of this type: one that ends otherwise (an extension
    /// nobody listed, none at all) gets the type's own added, so that the saved file opens as
    /// what it is, never as a program its name would pick.
    pub fn fit_name(&self, name: &str) -> String {
        let fits = extension_of(name).is_some_and(|ext| self.extensions.contains(&ext.as_str()));
        match self.extensions.first() {
            Some(own) if !fits => format!("{name}.{own}"),
            _ => name.to_owned(),
        }
    }
}

/// A type Tandem knows: its content type, group, the extensions a name of it may carry, and
/// the container it is read from when several types share one (zip, OLE, MP4).
struct Known {
    content_type: &'static str,
    group: Option<FileGroup>,
    extensions: &'static [&'static str],
    container: Container,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    None,
    Zip,
    Ole,
    Mp4,
    Text,
}

use Container as C;
use FileGroup as G;

const KNOWN: &[Known] = &[
    known("image/png", G::Images, &["png"], C::None),
    known(
        "image/jpeg",
        G::Images,
        &["jpg", "jpeg", "jfif", "jpe"],
        C::None,
    ),
    known("image/gif", G::Images, &["gif"], C::None),
    known("image/webp", G::Images, &["webp"], C::None),
    known("application/pdf", G::Pdf, &["pdf"], C::None),
    known(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        G::Documents,
        &["docx"],
        C::Zip,
    ),
    known(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        G::Documents,
        &["xlsx"],
        C::Zip,
    ),
    known(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        G::Documents,
        &["pptx"],
        C::Zip,
    ),
    known(
        "application/vnd.oasis.opendocument.text",
        G::Documents,
        &["odt"],
        C::Zip,
    ),
    known(
        "application/vnd.oasis.opendocument.spreadsheet",
        G::Documents,
        &["ods"],
        C::Zip,
    ),
    known(
        "application/vnd.oasis.opendocument.presentation",
        G::Documents,
        &["odp"],
        C::Zip,
    ),
    known("application/epub+zip", G::Documents, &["epub"], C::Zip),
    known("application/msword", G::Documents, &["doc"], C::Ole),
    known("application/vnd.ms-excel", G::Documents, &["xls"], C::Ole),
    known(
        "application/vnd.ms-powerpoint",
        G::Documents,
        &["ppt"],
        C::Ole,
    ),
    known("application/rtf", G::Documents, &["rtf"], C::None),
    known("application/zip", G::Archives, &["zip"], C::Zip),
    known("application/gzip", G::Archives, &["gz", "tgz"], C::None),
    known("application/x-7z-compressed", G::Archives, &["7z"], C::None),
    known("application/vnd.rar", G::Archives, &["rar"], C::None),
    known("application/x-tar", G::Archives, &["tar"], C::None),
    known("audio/mpeg", G::Media, &["mp3"], C::None),
    known("audio/ogg", G::Media, &["ogg", "oga", "opus"], C::None),
    known("audio/wav", G::Media, &["wav"], C::None),
    known("audio/mp4", G::Media, &["m4a"], C::Mp4),
    known("video/mp4", G::Media, &["mp4", "m4v"], C::Mp4),
    known("video/quicktime", G::Media, &["mov"], C::Mp4),
    known("video/webm", G::Media, &["webm"], C::None),
    known(
        "text/plain; charset=utf-8",
        G::Text,
        &[
            "txt", "text", "log", "md", "json", "xml", "yaml", "yml", "ini", "conf",
        ],
        C::Text,
    ),
    known("text/csv; charset=utf-8", G::Text, &["csv", "tsv"], C::Text),
];

/// Names that run when opened, whatever is inside: never taken, even as text.
const PROGRAMS: &[&str] = &[
    "exe", "dll", "msi", "com", "scr", "bat", "cmd", "ps1", "vbs", "vbe", "js", "jse", "wsf",
    "wsh", "hta", "jar", "apk", "app", "dmg", "pkg", "deb", "rpm", "sh", "bash", "command", "lnk",
    "html", "htm", "xhtml", "svg", "svgz", "swf", "reg", "msc", "cpl", "iso", "img",
];

const fn known(
    content_type: &'static str,
    group: FileGroup,
    extensions: &'static [&'static str],
    container: Container,
) -> Known {
    Known {
        content_type,
        group: Some(group),
        extensions,
        container,
    }
}

/// What `bytes` are, checked against `name`'s extension. A program's name, or a name that says
/// another type than the content, is refused.
pub fn sniff(bytes: &[u8], name: &str) -> Result<Sniffed, FileRefusal> {
    let extension = extension_of(name);
    if let Some(ext) = &extension
        && PROGRAMS.contains(&ext.as_str())
    {
        return Err(FileRefusal::TypeNotAllowed {
            found: format!("a program or page (.{ext})"),
            allowed: String::new(),
        });
    }
    let by_name = extension
        .as_deref()
        .and_then(|ext| KNOWN.iter().find(|k| k.extensions.contains(&ext)));
    let Some(content) = from_content(bytes) else {
        let found = infer::get(bytes).map_or("application/octet-stream", |t| t.mime_type());
        // A program called "cat.png" is a disguise, whatever else it is.
        return Err(match by_name {
            Some(named) => FileRefusal::Disguised {
                name_says: named.content_type.to_owned(),
                content: found.to_owned(),
            },
            None => FileRefusal::TypeNotAllowed {
                found: found.to_owned(),
                allowed: String::new(),
            },
        });
    };
    let taken = match by_name {
        None => content,
        Some(named) if named.content_type == content.content_type => content,
        // One container holds several types that the bytes alone may not tell apart (a .docx
        // some tool wrote is, to a sniffer, a zip): the name decides among them.
        Some(named) if named.container != C::None && named.container == content.container => named,
        Some(named) => {
            return Err(FileRefusal::Disguised {
                name_says: named.content_type.to_owned(),
                content: content.content_type.to_owned(),
            });
        }
    };
    Ok(Sniffed {
        content_type: taken.content_type,
        group: taken.group,
        image: taken.group == Some(G::Images),
        extensions: taken.extensions,
    })
}

fn from_content(bytes: &[u8]) -> Option<&'static Known> {
    if let Some(found) = infer::get(bytes) {
        let mime = match found.mime_type() {
            // infer's names for types Tandem knows by their registered name.
            "application/x-rar-compressed" => "application/vnd.rar",
            "audio/x-wav" => "audio/wav",
            "audio/x-m4a" | "audio/m4a" => "audio/mp4",
            "video/x-m4v" => "video/mp4",
            "application/vnd.ms-word" => "application/msword",
            other => other,
        };
        return KNOWN.iter().find(|k| k.content_type == mime).or_else(|| {
            // A compound document infer names by another member of the family.
            (found.mime_type() == "application/x-ole-storage")
                .then(|| KNOWN.iter().find(|k| k.container == C::Ole))
                .flatten()
        });
    }
    is_text(bytes)
        .then(|| {
            KNOWN
                .iter()
                .find(|k| k.content_type.starts_with("text/plain"))
        })
        .flatten()
}

/// UTF-8 without NUL or control characters other than whitespace (a BOM is fine).
fn is_text(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
}

/// The name's last extension, lower-cased; trailing dots and spaces (which Windows drops when it
/// saves the file) do not hide it.
fn extension_of(name: &str) -> Option<String> {
    let name = name.trim_end_matches(['.', ' ']);
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];
    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";
    const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00";

    #[test]
    fn the_content_decides_the_type() {
        let png = sniff(PNG, "photo.png").unwrap();
        assert_eq!(png.content_type, "image/png");
        assert!(png.image);
        assert_eq!(sniff(PDF, "Invoice 42.PDF").unwrap().group, Some(G::Pdf));
        // No extension, or one Tandem does not know: the content alone.
        assert_eq!(
            sniff(PDF, "invoice").unwrap().content_type,
            "application/pdf"
        );
        assert_eq!(sniff(PNG, "scan.bmpx").unwrap().content_type, "image/png");
        let text = sniff("привет, 1;2;3\n".as_bytes(), "table.csv").unwrap();
        assert_eq!(text.content_type, "text/csv; charset=utf-8");
        assert_eq!(sniff(b"notes", "notes").unwrap().group, Some(G::Text));
    }

    #[test]
    fn a_name_that_says_another_type_is_refused() {
        for (bytes, name) in [(EXE, "cat.png"), (PNG, "report.pdf"), (PDF, "a.txt")] {
            let refused = sniff(bytes, name).unwrap_err();
            assert!(
                matches!(refused, FileRefusal::Disguised { .. }),
                "{name}: {refused:?}"
            );
        }
    }

    #[test]
    fn programs_and_unknown_binaries_are_refused_whatever_their_name() {
        for (bytes, name) in [
            (EXE, "setup"),
            (EXE, "setup.exe"),
            (b"echo hi" as &[u8], "run.bat"),
            (b"<svg onload=alert(1)>" as &[u8], "logo.svg"),
            (b"<script>alert(1)</script>" as &[u8], "page.html"),
            (&[0u8, 1, 2, 3, 0xff, 0xfe] as &[u8], "blob.bin"),
        ] {
            let refused = sniff(bytes, name).unwrap_err();
            assert!(
                matches!(refused, FileRefusal::TypeNotAllowed { .. }),
                "{name}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_name_ends_as_its_content_is() {
        let text = sniff(b"print(1)", "tool.py").unwrap();
        assert_eq!(text.fit_name("tool.py"), "tool.py.txt");
        assert_eq!(text.fit_name("notes.md"), "notes.md");
        let pdf = sniff(PDF, "invoice").unwrap();
        assert_eq!(pdf.fit_name("invoice"), "invoice.pdf");
        // Office's installer files are compound documents too: saved as a document.
        let ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00\x00\x00\x00\x00\x00\x00";
        if let Ok(doc) = sniff(ole, "patch.msp") {
            assert!(!doc.fit_name("patch.msp").ends_with(".msp"));
        }
        assert!(
            sniff(b"echo hi", "run.bat.").is_err(),
            "a trailing dot hides nothing"
        );
        assert!(sniff(b"echo hi", "run.bat . ").is_err());
    }

    #[test]
    fn a_container_type_is_named_by_the_file_name() {
        // A bare zip: a sniffer cannot tell a .docx from an archive.
        let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00";
        assert_eq!(sniff(zip, "a.zip").unwrap().content_type, "application/zip");
        assert_eq!(
            sniff(zip, "Contract.docx").unwrap().group,
            Some(G::Documents)
        );
    }
}
