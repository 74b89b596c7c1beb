//! `serve --config FILE`: the settings of `serve` in a TOML file, under the
//! names of their flags (`code-lifetime = 600`, `database-url = "…"`).
//!
//! The file's values are checked by the same parsers as the flags, so a bad
//! value is refused with the same message, naming the file. A file value is
//! used only where neither the command line nor the environment gave one:
//! it is added to the command line and the whole is parsed again.

use std::ffi::OsString;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use super::Cli;

/// Settings of `serve` that are not settings: they cannot be in a file.
const NOT_IN_A_FILE: [&str; 4] = ["config", "print-config", "help", "version"];

/// Parses the command line, reading `--config` when `serve` is given one.
/// A clap error (including `--help`) is returned for the caller to `exit()`
/// with; a config file's error is a message.
pub fn parse(argv: Vec<OsString>) -> Result<Parsed, ParseError> {
    let command = Cli::command();
    let matches = command.clone().try_get_matches_from(&argv)?;
    let mut from_file = Vec::new();
    let matches = match matches.subcommand() {
        Some(("serve", serve)) => match serve.get_one::<std::path::PathBuf>("config") {
            Some(path) => {
                let settings = read(path)?;
                let mut argv = argv;
                for (key, value) in settings {
                    let id = key.replace('-', "_");
                    if matches!(serve.value_source(&id), Some(ValueSource::CommandLine | ValueSource::EnvVariable)) {
                        continue;
                    }
                    match value {
                        FileValue::Flag(true) => argv.push(format!("--{key}").into()),
                        FileValue::Flag(false) => {}
                        FileValue::Value(v) => argv.push(format!("--{key}={v}").into()),
                    }
                    from_file.push(id);
                }
                command.try_get_matches_from(&argv)?
            }
            None => matches,
        },
        _ => matches,
    };
    let cli = Cli::from_arg_matches(&matches)?;
    Ok(Parsed { cli, matches, from_file })
}

/// The parsed command line, and which settings came from the config file.
pub struct Parsed {
    pub cli: Cli,
    pub matches: ArgMatches,
    /// Ids (`code_lifetime`) of the settings taken from the file.
    pub from_file: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error(transparent)]
    Clap(#[from] clap::Error),
    #[error("{0}")]
    File(String),
}

/// A file's value, as the command line would carry it.
#[derive(Debug)]
enum FileValue {
    /// A switch (`--flag`): given or not.
    Flag(bool),
    Value(String),
}

/// Reads and checks `path`: every key a setting of `serve`, every value
/// accepted by that setting's parser. Returns the settings in file order.
fn read(path: &Path) -> Result<Vec<(String, FileValue)>, ParseError> {
    let shown = path.display();
    let fail = |what: String| ParseError::File(format!("{shown}: {what}"));
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| fail(format!("not valid TOML: {}", e.message())))?;
    let mut command = Cli::command();
    command.build();
    let serve = command.find_subcommand("serve").expect("serve is a subcommand");
    let checker = without_environment(Cli::command());
    let mut settings = Vec::new();
    for (key, value) in table {
        let arg = serve
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && !NOT_IN_A_FILE.contains(&key.as_str()))
            .ok_or_else(|| {
                fail(format!(
                    "unknown setting '{key}' (the settings are the flags of `tachi-auth serve --help`, without --)"
                ))
            })?;
        let switch = matches!(arg.get_action(), clap::ArgAction::SetTrue);
        let text = match (&value, switch) {
            (toml::Value::Boolean(b), true) => {
                settings.push((key, FileValue::Flag(*b)));
                continue;
            }
            (_, true) => return Err(fail(format!("{key}: expected true or false"))),
            (toml::Value::String(s), _) => s.clone(),
            (toml::Value::Integer(i), _) => i.to_string(),
            (toml::Value::Float(f), _) => f.to_string(),
            (toml::Value::Boolean(b), _) => b.to_string(),
            _ => return Err(fail(format!("{key}: expected a string, a number or a boolean"))),
        };
        // The flag's own parser decides, on a command line of this value alone.
        let alone = ["tachi-auth".to_owned(), "serve".to_owned(), format!("--{key}={text}")];
        checker.clone().try_get_matches_from(alone).map_err(|e| fail(clap_reason(&e)))?;
        settings.push((key, FileValue::Value(text)));
    }
    Ok(settings)
}

/// `command` with no setting read from the environment: a file's value is
/// checked alone.
fn without_environment(command: clap::Command) -> clap::Command {
    command.mut_subcommand("serve", |mut serve| {
        let ids: Vec<clap::Id> = serve.get_arguments().map(|a| a.get_id().clone()).collect();
        for id in ids {
            serve = serve.mut_arg(id, |a| a.env(None::<&str>));
        }
        serve
    })
}

/// The first line of a clap error, without its `error: ` prefix.
fn clap_reason(e: &clap::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

/// `tachi-auth config check FILE`: the number of settings it holds.
pub fn check(path: &Path) -> Result<usize, String> {
    read(path).map(|s| s.len()).map_err(|e| e.to_string())
}

/// The effective settings of `serve` as TOML a `--config` file could hold,
/// each with where it came from; secrets masked.
pub fn effective(matches: &ArgMatches, from_file: &[String]) -> String {
    let Some(("serve", serve)) = matches.subcommand() else { return String::new() };
    let mut command = Cli::command();
    command.build();
    let serve_command = command.find_subcommand("serve").expect("serve is a subcommand");
    let mut out = String::new();
    for arg in serve_command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if NOT_IN_A_FILE.contains(&long) {
            continue;
        }
        let id = arg.get_id().as_str();
        let source = match serve.value_source(id) {
            Some(ValueSource::CommandLine) if from_file.iter().any(|f| f == id) => "config file",
            Some(ValueSource::CommandLine) => "command line",
            Some(ValueSource::EnvVariable) => "environment",
            Some(ValueSource::DefaultValue) => "default",
            _ => "not set",
        };
        let raw: Vec<String> = serve
            .get_raw(id)
            .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let line = match raw.first() {
            None => format!("# {long} =  # {source}"),
            Some(value) => {
                let value = mask(long, value);
                let shown = if value.parse::<i64>().is_ok() || value == "true" || value == "false" {
                    value
                } else {
                    // JSON's string escapes are TOML's.
                    serde_json::Value::String(value).to_string()
                };
                format!("{long} = {shown}  # {source}")
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A setting's value with any secret in it replaced by `********`: the
/// password of a URL, and the whole of a setting named for a secret.
pub fn mask(name: &str, value: &str) -> String {
    if ["password", "secret", "token"].iter().any(|s| name.contains(s)) {
        return "********".into();
    }
    match url::Url::parse(value) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("********"));
            url.to_string()
        }
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// A valid value of each setting that has no default.
    const SAMPLES: [(&str, &str); 6] = [
        ("public-url", "https://tachi.example"),
        ("metrics-listen", "127.0.0.1:9100"),
        ("client-ip-header", "X-Forwarded-For"),
        ("smtp-url", "smtp://mail.example"),
        ("mail-from", "noreply@tachi.example"),
        ("builtin-clients", "/etc/tachi-auth/clients.json"),
    ];

    /// The settings of `serve`: its flags that a file may hold.
    fn settings() -> Vec<clap::Arg> {
        let mut command = Cli::command();
        command.build();
        let serve = command.find_subcommand("serve").expect("serve is a subcommand");
        serve.get_arguments().filter(|a| a.get_long().is_some_and(|l| !NOT_IN_A_FILE.contains(&l))).cloned().collect()
    }

    fn default_of(arg: &clap::Arg) -> Option<String> {
        arg.get_default_values().first().map(|v| v.to_string_lossy().into_owned())
    }

    /// Every flag of `serve --help` can be set from a file, and `config
    /// check` judges it (a new setting needs a sample here to pass).
    #[test]
    fn a_config_file_takes_every_setting_of_serve() {
        let dir = tempfile::tempdir().unwrap();
        for arg in settings() {
            let key = arg.get_long().unwrap();
            let switch = matches!(arg.get_action(), clap::ArgAction::SetTrue);
            let value = match (switch, default_of(&arg)) {
                (true, _) => "true".to_owned(),
                (false, Some(v)) if v.parse::<i64>().is_ok() => v,
                (false, Some(v)) => serde_json::Value::String(v).to_string(),
                (false, None) => {
                    let sample = SAMPLES.iter().find(|(k, _)| *k == key);
                    let (_, v) = sample.unwrap_or_else(|| panic!("--{key} has no default: add a sample value here"));
                    serde_json::Value::String((*v).to_owned()).to_string()
                }
            };
            let path = dir.path().join(format!("{key}.toml"));
            std::fs::write(&path, format!("{key} = {value}\n")).unwrap();
            assert_eq!(check(&path), Ok(1), "--{key} = {value}");
        }
    }

    /// Every number setting has a range of its own (not its type's), and a
    /// value beyond it is refused naming the setting and the range.
    #[test]
    fn every_number_setting_has_a_range() {
        let mut numbers = 0;
        for arg in settings() {
            let key = arg.get_long().unwrap();
            if default_of(&arg).is_none_or(|v| v.parse::<i64>().is_err()) {
                continue;
            }
            numbers += 1;
            let huge = format!("--{key}={}", i64::MAX);
            let e = Cli::try_parse_from(["tachi-auth", "serve", huge.as_str()]).expect_err(&huge).to_string();
            assert!(e.contains(&format!("--{key}")) && e.contains("..="), "{huge}: {e}");
            for type_max in [u32::MAX.to_string(), u64::MAX.to_string()] {
                assert!(!e.contains(&format!("..={type_max}")), "--{key} is bounded only by its type: {e}");
            }
        }
        assert!(numbers >= 20, "found only {numbers} number settings");
    }

    #[test]
    fn text_settings_are_checked_too() {
        for (flag, bad) in [
            ("--site-name", ""),
            ("--site-name", "!!!"),
            ("--smtp-url", "http://mail.example"),
            ("--smtp-url", "smtp://"),
            ("--mail-from", "not an address"),
        ] {
            let arg = format!("{flag}={bad}");
            let e = Cli::try_parse_from(["tachi-auth", "serve", arg.as_str()]).expect_err(&arg).to_string();
            assert!(e.contains(flag), "{arg}: {e}");
        }
    }
}
