//! A builder for the TOML pipelines the integration tests run: tables
//! opened by `pipeline`, `source`, `transform` and `sink`, settings added
//! to the last one by `set`, values quoted by their Rust type. Tests then
//! say which stages they wire, not how TOML escapes a temp path.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{toml_path, toml_str, write};

/// A sluice config being written, table by table.
#[derive(Clone, Default)]
pub struct Config {
    /// The TOML so far; `set` appends to its last table.
    text: String,
}

impl Config {
    /// An empty config.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens the `[pipeline]` table.
    pub fn pipeline(self) -> Self {
        self.table("pipeline")
    }

    /// Opens `[sources.NAME]` of type `kind`.
    pub fn source(self, name: &str, kind: &str) -> Self {
        self.table(&format!("sources.{name}")).set("type", kind)
    }

    /// Opens `[transforms.NAME]` of type `kind`, reading `inputs`.
    pub fn transform(self, name: &str, kind: &str, inputs: &[&str]) -> Self {
        self.table(&format!("transforms.{name}"))
            .set("type", kind)
            .set("inputs", inputs)
    }

    /// Opens `[sinks.NAME]` of type `kind`, reading `inputs`.
    pub fn sink(self, name: &str, kind: &str, inputs: &[&str]) -> Self {
        self.table(&format!("sinks.{name}"))
            .set("type", kind)
            .set("inputs", inputs)
    }

    /// Adds `key = value` to the table opened last.
    pub fn set(mut self, key: &str, value: impl Into<Toml>) -> Self {
        self.text.push_str(&format!("{key} = {}\n", value.into().0));
        self
    }

    /// Appends TOML text as it is (for what the builder does not say:
    /// comments, keys written by the caller, whole tables), then a newline
    /// if it lacks one.
    pub fn raw(mut self, text: &str) -> Self {
        self.text.push_str(text);
        if !text.is_empty() && !text.ends_with('\n') {
            self.text.push('\n');
        }
        self
    }

    /// The config as TOML.
    pub fn text(&self) -> String {
        self.text.clone()
    }

    /// Writes the config to `dir/name` and returns the path.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        write(dir, name, &self.text)
    }

    /// Starts `[NAME]`, a blank line after the table before it.
    fn table(mut self, name: &str) -> Self {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(&format!("[{name}]\n"));
        self
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A TOML value as text: strings and paths quoted, numbers and booleans
/// bare, string lists as arrays; [`raw`] for anything else.
pub struct Toml(String);

/// A TOML value written as it is: an inline table, `nan`, `inf`.
pub fn raw(text: &str) -> Toml {
    Toml(text.to_string())
}

impl From<&str> for Toml {
    fn from(s: &str) -> Self {
        Toml(toml_str(s))
    }
}

impl From<String> for Toml {
    fn from(s: String) -> Self {
        Toml(toml_str(&s))
    }
}

impl From<&String> for Toml {
    fn from(s: &String) -> Self {
        Toml(toml_str(s))
    }
}

impl From<&Path> for Toml {
    fn from(p: &Path) -> Self {
        Toml(toml_path(p))
    }
}

impl From<&PathBuf> for Toml {
    fn from(p: &PathBuf) -> Self {
        Toml(toml_path(p))
    }
}

impl From<&[&str]> for Toml {
    fn from(list: &[&str]) -> Self {
        let items: Vec<String> = list.iter().map(|s| toml_str(s)).collect();
        Toml(format!("[{}]", items.join(", ")))
    }
}

impl<const N: usize> From<&[&str; N]> for Toml {
    fn from(list: &[&str; N]) -> Self {
        Toml::from(&list[..])
    }
}

impl<const N: usize> From<[PathBuf; N]> for Toml {
    fn from(list: [PathBuf; N]) -> Self {
        paths(list.iter().map(PathBuf::as_path))
    }
}

impl From<&[PathBuf]> for Toml {
    fn from(list: &[PathBuf]) -> Self {
        paths(list.iter().map(PathBuf::as_path))
    }
}

impl From<&[&Path]> for Toml {
    fn from(list: &[&Path]) -> Self {
        paths(list.iter().copied())
    }
}

/// A TOML array of paths.
fn paths<'a>(list: impl Iterator<Item = &'a Path>) -> Toml {
    let items: Vec<String> = list.map(toml_path).collect();
    Toml(format!("[{}]", items.join(", ")))
}

impl From<bool> for Toml {
    fn from(b: bool) -> Self {
        Toml(b.to_string())
    }
}

impl From<f64> for Toml {
    fn from(x: f64) -> Self {
        Toml(format!("{x:?}"))
    }
}

/// Integers of every width are bare numbers.
macro_rules! toml_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Toml {
            fn from(n: $t) -> Self {
                Toml(n.to_string())
            }
        }
    )*};
}

toml_integer!(i32, i64, u16, u32, u64, usize);
