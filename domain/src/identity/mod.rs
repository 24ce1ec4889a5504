//! Identity: who works this backend (operators and their tokens), what they may do (permissions,
//! granted by groups), and the people of each tenant account (platform users).

pub mod account_users;
pub mod group;
pub mod operator;
pub mod permission;
pub mod user_email_claim;
