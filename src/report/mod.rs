//! Output: tables for people, JSON lines and CSV for pipelines (to be implemented).
