//! Wires the stages together for one capture (to be implemented).
