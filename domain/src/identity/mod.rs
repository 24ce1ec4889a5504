//! Identity: who works this backend (operators and their tokens; later groups and platform
//! users).

pub mod operator;
