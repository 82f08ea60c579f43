//! Command-line arguments as every xtask command takes them: flags as
//! `--flag value` or `--flag=value`, and bare words.

use anyhow::Context;

pub struct Args<'a> {
    rest: std::slice::Iter<'a, String>,
}

impl<'a> Args<'a> {
    pub fn new(args: &'a [String]) -> Self {
        Args { rest: args.iter() }
    }

    /// The next argument, and the value written into it (`--flag=value`).
    pub fn next_arg(&mut self) -> Option<(&'a str, Option<&'a str>)> {
        let arg = self.rest.next()?;
        Some(match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
            _ => (arg.as_str(), None),
        })
    }

    /// The value of `flag`: the one written into it, else the next argument.
    pub fn value(&mut self, flag: &str, inline: Option<&str>) -> anyhow::Result<String> {
        match inline {
            Some(v) => Ok(v.to_string()),
            None => self
                .rest
                .next()
                .cloned()
                .with_context(|| format!("{flag} needs a value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_take_their_value_inline_or_next_and_words_stay_whole() {
        let raw: Vec<String> = ["--a=1", "--b", "2", "word=x", "--c"]
            .map(String::from)
            .to_vec();
        let mut args = Args::new(&raw);
        let (flag, inline) = args.next_arg().expect("a");
        assert_eq!(args.value(flag, inline).expect("inline"), "1");
        let (flag, inline) = args.next_arg().expect("b");
        assert_eq!(args.value(flag, inline).expect("next"), "2");
        assert_eq!(args.next_arg(), Some(("word=x", None)));
        let (flag, inline) = args.next_arg().expect("c");
        let err = args.value(flag, inline).expect_err("nothing follows");
        assert_eq!(err.to_string(), "--c needs a value");
        assert_eq!(args.next_arg(), None);
    }
}
