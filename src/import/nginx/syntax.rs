//! nginx config syntax: the tokenizer (quotes, escapes, comments) and the parser into a tree
//! of directives, bounded in depth.

use super::*;

#[derive(Debug)]
pub(super) enum Token {
    Word { text: String, line: usize },
    Semi(usize),
    Open(usize),
    Close(usize),
}

/// One directive: `name args... ;` or `name args... { block }`.
#[derive(Debug)]
pub(super) struct Directive {
    pub(super) name: String,
    pub(super) args: Vec<String>,
    pub(super) line: usize,
    pub(super) block: Option<Vec<Directive>>,
}

impl Directive {
    pub(super) fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }

    pub(super) fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// The directive as nginx text (one line; a block is shown as `{ ... }`).
    pub(super) fn render(&self) -> String {
        let mut out = quote_arg(&self.name);
        for arg in &self.args {
            out.push(' ');
            out.push_str(&quote_arg(arg));
        }
        if self.block.is_some() {
            out.push_str(" { ... }");
        }
        out
    }

    /// `location = /x` without the block, for headings.
    pub(super) fn head(&self) -> String {
        let mut out = quote_arg(&self.name);
        for arg in &self.args {
            out.push(' ');
            out.push_str(&quote_arg(arg));
        }
        out
    }
}

pub(super) fn quote_arg(arg: &str) -> String {
    let plain = !arg.is_empty()
        && !arg
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, ';' | '{' | '}' | '#' | '"' | '\''));
    if plain {
        return arg.to_string();
    }
    let mut out = String::from("\"");
    for c in arg.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// nginx's unescaping, applied to quoted and bare words alike: `\" \' \\` lose the
/// backslash, `\t \r \n` become control characters, anything else keeps it (`\.` in regexes).
pub(super) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e @ ('"' | '\'' | '\\')) => out.push(e),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

pub(super) fn tokenize(text: &str, file: &str) -> Result<Vec<Token>, ImportError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => while chars.next_if(|&n| n != '\n').is_some() {},
            ';' => tokens.push(Token::Semi(line)),
            '{' => tokens.push(Token::Open(line)),
            '}' => tokens.push(Token::Close(line)),
            '"' | '\'' => {
                let start = line;
                let mut raw = String::new();
                let mut closed = false;
                while let Some(n) = chars.next() {
                    if n == '\n' {
                        line += 1;
                    }
                    if n == '\\' {
                        raw.push(n);
                        if let Some(e) = chars.next() {
                            if e == '\n' {
                                line += 1;
                            }
                            raw.push(e);
                        }
                        continue;
                    }
                    if n == c {
                        closed = true;
                        break;
                    }
                    raw.push(n);
                }
                if !closed {
                    return Err(ImportError::UnterminatedQuote {
                        file: file.to_string(),
                        line: start,
                    });
                }
                tokens.push(Token::Word {
                    text: unescape(&raw),
                    line: start,
                });
            }
            first => {
                let start = line;
                let mut raw = String::new();
                let mut cur = first;
                // Inside `${name}` a `}` belongs to the word, not to the block structure.
                let mut in_var = false;
                loop {
                    if cur == '\\' {
                        raw.push('\\');
                        match chars.next() {
                            Some(e) => {
                                if e == '\n' {
                                    line += 1;
                                }
                                raw.push(e);
                            }
                            None => break,
                        }
                    } else if cur == '$' && chars.peek() == Some(&'{') {
                        raw.push('$');
                        raw.push('{');
                        chars.next();
                        in_var = true;
                    } else {
                        if cur == '}' {
                            in_var = false;
                        }
                        raw.push(cur);
                    }
                    let ends = |n: char| {
                        n.is_whitespace() || n == ';' || n == '{' || (n == '}' && !in_var)
                    };
                    match chars.next_if(|&n| !ends(n)) {
                        Some(n) => cur = n,
                        None => break,
                    }
                }
                tokens.push(Token::Word {
                    text: unescape(&raw),
                    line: start,
                });
            }
        }
    }
    Ok(tokens)
}

/// Directives that always fit on one line: when one of them is still open and a line
/// starts with a directive name, the `;` was forgotten.
pub(super) const ONE_LINE_DIRECTIVES: &[&str] = &[
    "listen",
    "proxy_pass",
    "auth_basic",
    "auth_basic_user_file",
    "client_max_body_size",
    "ssl_certificate",
    "ssl_certificate_key",
    "return",
    "deny",
    "allow",
    "include",
    "root",
    "proxy_set_header",
    "proxy_http_version",
    "proxy_read_timeout",
    "proxy_connect_timeout",
    "ssl_protocols",
];
pub(super) const DIRECTIVE_STARTS: &[&str] = &[
    "location",
    "server",
    "server_name",
    "http",
    "limit_except",
    "if",
    "upstream",
    "index",
    "try_files",
    "error_page",
    "access_log",
    "error_log",
    "add_header",
    "ssl_ciphers",
];

pub(super) struct Frame {
    name: String,
    args: Vec<String>,
    line: usize,
    children: Vec<Directive>,
}

pub(super) fn parse(tokens: Vec<Token>, file: &str) -> Result<Vec<Directive>, ImportError> {
    let mut top: Vec<Directive> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut pending: Vec<(String, usize)> = Vec::new();
    let mut last_line = 0usize;
    let missing_semicolon = |pending: &[(String, usize)]| match pending.first() {
        Some((name, line)) => ImportError::MissingSemicolon {
            file: file.to_string(),
            line: *line,
            directive: name.clone(),
        },
        None => ImportError::UnexpectedToken {
            file: file.to_string(),
            line: 0,
            token: "}".to_string(),
        },
    };
    for token in tokens {
        match token {
            Token::Word { text, line } => {
                let forgotten = pending.first().is_some_and(|(name, _)| {
                    line > last_line
                        && ONE_LINE_DIRECTIVES.contains(&name.as_str())
                        && (ONE_LINE_DIRECTIVES.contains(&text.as_str())
                            || DIRECTIVE_STARTS.contains(&text.as_str()))
                });
                if forgotten {
                    return Err(missing_semicolon(&pending));
                }
                last_line = line;
                pending.push((text, line));
            }
            Token::Semi(line) => {
                let mut words = std::mem::take(&mut pending).into_iter();
                let Some((name, first_line)) = words.next() else {
                    return Err(ImportError::UnexpectedToken {
                        file: file.to_string(),
                        line,
                        token: ";".to_string(),
                    });
                };
                let directive = Directive {
                    name,
                    args: words.map(|(w, _)| w).collect(),
                    line: first_line,
                    block: None,
                };
                match stack.last_mut() {
                    Some(frame) => frame.children.push(directive),
                    None => top.push(directive),
                }
            }
            Token::Open(line) => {
                let mut words = std::mem::take(&mut pending).into_iter();
                let Some((name, first_line)) = words.next() else {
                    return Err(ImportError::UnexpectedToken {
                        file: file.to_string(),
                        line,
                        token: "{".to_string(),
                    });
                };
                if stack.len() >= MAX_DEPTH {
                    return Err(ImportError::TooDeep {
                        file: file.to_string(),
                        line,
                    });
                }
                stack.push(Frame {
                    name,
                    args: words.map(|(w, _)| w).collect(),
                    line: first_line,
                    children: Vec::new(),
                });
            }
            Token::Close(line) => {
                if !pending.is_empty() {
                    return Err(missing_semicolon(&pending));
                }
                let Some(frame) = stack.pop() else {
                    return Err(ImportError::UnexpectedCloseBrace {
                        file: file.to_string(),
                        line,
                    });
                };
                let directive = Directive {
                    name: frame.name,
                    args: frame.args,
                    line: frame.line,
                    block: Some(frame.children),
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(directive),
                    None => top.push(directive),
                }
            }
        }
    }
    if !pending.is_empty() {
        return Err(missing_semicolon(&pending));
    }
    if let Some(frame) = stack.last() {
        return Err(ImportError::UnclosedBlock {
            file: file.to_string(),
            line: frame.line,
            name: frame.name.clone(),
        });
    }
    Ok(top)
}
