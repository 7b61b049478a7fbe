//! A built-in synthetic clip (test pattern plus tone), made in-process.
