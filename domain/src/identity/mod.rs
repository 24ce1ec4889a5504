//! Identity: who works this backend (operators and their tokens), what they may do (permissions,
//! granted by groups); later the people of tenant accounts.

pub mod group;
pub mod operator;
pub mod permission;
