//! Languages: ISO 639-2 codes as containers store them, BCP 47 tags as
//! manifests want them.
