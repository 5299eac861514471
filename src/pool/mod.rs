//! Buffer pool and arenas (placeholder: being written).
