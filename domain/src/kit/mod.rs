//! What every context shares: actors and event metadata, error codes, how events are stored,
//! money and credits, time bounds, and the value objects commands are made of.

pub mod actor;
pub mod error;
pub mod event;
pub mod metadata;
pub mod money;
pub mod time;
pub mod values;

/// Declares an enum whose variants are a closed vocabulary kept as text (in events, read models
/// and CHECK constraints): snake_case strings from one place, `as_str`, `FromStr`, `Display`,
/// the list of variants (`VARIANTS`, `iter()`), and serde in the same spelling.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$variant_meta:meta])* $variant:ident,)+ }) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            serde::Serialize,
            serde::Deserialize,
            strum::IntoStaticStr,
            strum::EnumString,
            strum::VariantNames,
            strum::EnumIter,
            strum::Display,
        )]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// The enum's text, as events, read models and CHECK constraints hold it.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
    };
}
pub(crate) use text_enum;
