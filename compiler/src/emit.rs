//! Stage 7: compiler types -> artifact schema; atomic write.
