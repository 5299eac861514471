//! Direct encoder (being written).
