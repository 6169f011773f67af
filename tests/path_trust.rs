//! Loading trust anchors and intermediates from files and folders.

mod path_support;

use antin::pki::trust::{
    official_pin, read_certificates, sha256_fingerprint, TrustError, TrustStore,
};
use path_support::pki;

#[test]
fn loads_pem_bundles_der_files_and_folders() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let bundle = [p.root.cert.to_pem().unwrap(), p.ca.cert.to_pem().unwrap()].concat();
    std::fs::write(dir.path().join("b-bundle.pem"), bundle).unwrap();
    std::fs::write(dir.path().join("a-leaf.DER"), p.leaf.cert.to_der().unwrap()).unwrap();
    std::fs::write(
        dir.path().join("c-root-again.crt"),
        p.root.cert.to_der().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a certificate").unwrap();
    std::fs::create_dir(dir.path().join("sub.pem")).unwrap();

    let read = read_certificates(dir.path()).unwrap();
    let names: Vec<_> = read
        .iter()
        .map(|(_, p)| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "a-leaf.DER",
            "b-bundle.pem",
            "b-bundle.pem",
            "c-root-again.crt"
        ]
    );

    let mut store = TrustStore::new();
    assert_eq!(store.load_anchors(dir.path()).unwrap(), 4);
    // The root appears twice but is one anchor.
    assert_eq!(store.anchors().len(), 3);
    let leaf = store.find_anchor(&p.leaf.cert).unwrap();
    assert_eq!(leaf.source().unwrap().file_name().unwrap(), "a-leaf.DER");
    assert_eq!(leaf.sha256(), &sha256_fingerprint(&p.leaf.cert).unwrap());
    assert_eq!(leaf.sha256_hex().len(), 64);
    assert!(store.is_anchor(&p.ca.cert));
    assert!(official_pin(&p.root.cert).is_none());

    let single = dir.path().join("b-bundle.pem");
    let mut inter = TrustStore::new();
    assert_eq!(inter.load_intermediates(&single).unwrap(), 2);
    assert_eq!(inter.intermediates().len(), 2);
    assert!(
        inter.anchors().is_empty(),
        "intermediates are never anchors"
    );
}

#[test]
fn bad_inputs_are_clean_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = TrustStore::new();
    let err = store.load_anchors(dir.path()).unwrap_err();
    assert!(matches!(err, TrustError::Empty { .. }), "{err:?}");
    let err = store
        .load_anchors(&dir.path().join("missing.pem"))
        .unwrap_err();
    assert!(matches!(err, TrustError::Io { .. }), "{err:?}");
    std::fs::write(dir.path().join("bad.der"), [0x30, 0x82, 0xff, 0xff, 0x00]).unwrap();
    let err = store.load_anchors(dir.path()).unwrap_err();
    assert!(matches!(err, TrustError::NotACertificate { .. }), "{err:?}");
    let p = pki();
    std::fs::write(dir.path().join("root.pem"), p.root.cert.to_pem().unwrap()).unwrap();
    std::fs::remove_file(dir.path().join("bad.der")).unwrap();
    let err = store.load_pinned_anchors(dir.path()).unwrap_err();
    assert!(matches!(err, TrustError::NotPinned { .. }), "{err:?}");
    assert!(store.anchors().is_empty());
}
