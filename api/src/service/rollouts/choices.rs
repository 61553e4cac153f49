//! The settings of a wave that take one of a few named values: `approval` and `on_failure`.

/// An enum of a wave's setting, each value with the name requests and stored waves use:
/// adding a value is one more `Variant = "name"`.
macro_rules! named_values {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            const ALL: &'static [($name, &'static str)] = &[$(($name::$variant, $text)),+];

            /// The value `text` names; a refusal lists every name (`"x" is not a, b or c`).
            pub fn parse(text: &str) -> Result<$name, String> {
                let found = Self::ALL.iter().find(|(_, name)| *name == text).map(|(v, _)| *v);
                found.ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|(_, n)| *n).collect();
                    let listed = match names.split_last() {
                        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                        _ => names.join(""),
                    };
                    format!("{text:?} is not {listed}")
                })
            }

            pub fn as_str(self) -> &'static str {
                Self::ALL.iter().find(|(v, _)| *v == self).map_or("", |(_, n)| *n)
            }
        }
    };
}

named_values!(
    /// Who lets a wave's steps go: `manual` (`POST .../advance`) or `auto` (the runner, once the
    /// step gate lets it).
    Approval { Manual = "manual", Auto = "auto" }
);

named_values!(
    /// What passing a wave's `max_failures` does: `halt` (stop, keep what is applied), `abort`
    /// (stop and return every changed cluster to what it ran before) or `rollback` (the same as
    /// `abort`, with the audit naming the failure events that set it off).
    OnFailure { Halt = "halt", Abort = "abort", Rollback = "rollback" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_parses_from_its_name_and_shows_as_it() {
        assert_eq!(OnFailure::parse("abort"), Ok(OnFailure::Abort));
        assert_eq!(OnFailure::Halt.as_str(), "halt");
        assert_eq!(Approval::parse("auto"), Ok(Approval::Auto));
    }

    #[test]
    fn an_unknown_value_is_refused_listing_every_name() {
        assert_eq!(
            OnFailure::parse("ignore"),
            Err("\"ignore\" is not halt, abort or rollback".to_owned())
        );
        assert_eq!(
            Approval::parse("later"),
            Err("\"later\" is not manual or auto".to_owned())
        );
    }
}
