//! `src/types.d.ts`, the TypeScript declarations of the values that cross between JS and this
//! package, is generated from the Rust types: `ts_rs::TS` derives behind the `ts` features of
//! tradeloop-core, tradeloop-backtest and this crate, serde attributes honoured. These tests
//! (native only):
//!
//! * `declarations_are_up_to_date`: the declarations generated now equal the committed file;
//!   with `UPDATE_TYPES=1` the file is rewritten instead.
//! * `declarations_type_check`: `tsc --noEmit --strict` accepts the declarations, the
//!   hand-written part of `src/types.rs` (`DeepPartial`, `BacktestResult`) and every type
//!   the classes' methods name (`unchecked_param_type`, `unchecked_return_type`, ...), so a
//!   method naming a type that is not declared fails here. `tsc` is `$TSC`, else
//!   `web/node_modules/.bin/tsc` (`npm ci --prefix web`); without one the test says so and
//!   passes, unless `TSC_REQUIRED=1`.
#![cfg(not(target_arch = "wasm32"))]
#![allow(missing_docs)]

use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use ts_rs::{Config, TS, TypeVisitor};

/// The command that rewrites `src/types.d.ts`.
const REGENERATE: &str = "UPDATE_TYPES=1 cargo test -p tradeloop-wasm --test typescript";

const HEADER: &str = "\
// Generated from the Rust types by crates/wasm/tests/typescript.rs: do not edit. Regenerate with
//   UPDATE_TYPES=1 cargo test -p tradeloop-wasm --test typescript
//
// The serde shapes of the values that cross between JS and tradeloop-wasm: structs as
// objects with snake_case fields, enums externally tagged (`{ Open: {...} }`), unit variants
// as strings, `Option` as null, 64-bit integers as numbers (as bigints where noted: values
// that may exceed 2^53). The classes' methods name these types; crates/wasm/src/types.rs adds
// the few that no Rust type gives (`DeepPartial`, `BacktestResult`), and
// crates/wasm/tests/node.rs checks the field names against real values.
";

/// Every type the package's methods name, directly or as the root of the types they
/// contain; their dependencies are declared too.
fn roots(v: &mut Collect) {
    use tradeloop_core::command::{ForecastRequest, Observation, SuggestRequest};
    use tradeloop_core::lifecycle::policy::LearnMode;
    use tradeloop_core::market::{Candle, Level};
    use tradeloop_core::paper::{PaperConfig, PaperEvent};
    use tradeloop_core::ranking::RankRequest;
    use tradeloop_core::{CloseTrade, Command, EngineConfig, LearnRequest, OpenTrade, Reply};

    v.visit::<EngineConfig>();
    v.visit::<Command>();
    v.visit::<Reply>();
    v.visit::<OpenTrade>();
    v.visit::<CloseTrade>();
    v.visit::<SuggestRequest>();
    v.visit::<ForecastRequest>();
    v.visit::<Observation>();
    v.visit::<LearnRequest>();
    v.visit::<LearnMode>();
    v.visit::<RankRequest>();
    v.visit::<tradeloop_core::checkpoint::v4::EngineV4<'static>>();
    v.visit::<Candle>();
    v.visit::<PaperConfig>();
    v.visit::<PaperEvent>();
    v.visit::<Level>();
    v.visit::<tradeloop_backtest::Costs>();
    v.visit::<tradeloop_backtest::Stopped>();
    tradeloop_wasm::visit_ts_types(v);
}

/// Declarations by TypeScript name, each with its JSDoc, formatted.
struct Collect {
    cfg: Config,
    seen: HashSet<TypeId>,
    decls: BTreeMap<String, String>,
}

impl TypeVisitor for Collect {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Only declared types have an output path (primitives, `Vec`, `Option`... have none).
        if T::output_path().is_none() || !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        let name = T::ident(&self.cfg);
        let text = pretty::declaration(T::docs().as_deref(), &T::decl(&self.cfg));
        if self.decls.insert(name.clone(), text).is_some() {
            panic!(
                "two Rust types are declared as `{name}`: rename one with #[ts(rename = \"...\")]"
            );
        }
        T::visit_dependencies(self);
    }
}

/// The whole file: the header, then every declaration in name order.
fn generate() -> String {
    let mut c = Collect {
        // 64-bit integers cross as numbers (src/convert.rs); fields that may exceed 2^53 say
        // `number | bigint` themselves.
        // Arrays up to 3 long (`[f64; 2]` bounds, `[f32; 3]` class probabilities) are tuples,
        // longer ones (`[f32; 6]` level features) `number[]`.
        cfg: Config::new()
            .with_large_int("number")
            .with_array_tuple_limit(3),
        seen: HashSet::new(),
        decls: BTreeMap::new(),
    };
    roots(&mut c);
    c.decls.insert("ErrorKind".into(), error_kinds());
    let mut out = String::from(HEADER);
    for decl in c.decls.values() {
        out.push('\n');
        out.push_str(decl);
    }
    out
}

/// `ErrorKind`: the names of the core's `ErrorKind::ALL`, which a thrown `TradeloopError`
/// carries as `kind` (src/convert.rs), as a union of string literals.
fn error_kinds() -> String {
    let names: Vec<String> = tradeloop_core::ErrorKind::ALL
        .iter()
        .map(|k| format!("  | \"{}\"", k.name()))
        .collect();
    format!(
        "/**\n * What kind of error the core reported: `ErrorKind::name()` of \
         tradeloop-core's `Error::kind()`.\n */\nexport type ErrorKind =\n{};\n",
        names.join("\n")
    )
}

fn src(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(file)
}

#[test]
fn declarations_are_up_to_date() {
    let path = src("types.d.ts");
    let generated = generate();
    if std::env::var_os("UPDATE_TYPES").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write src/types.d.ts");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "crates/wasm/src/types.d.ts is not what the Rust types generate (first difference \
             at line {}): a type that crosses the JS boundary changed. Regenerate it with\n\n    \
             {REGENERATE}\n\nand commit the result.",
            line + 1
        );
    }
}

/// The string literals given to `unchecked_*_type = "..."` in this crate's sources.
fn method_types() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(src(""))
        .expect("src/")
        .map(|e| e.expect("src/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read a source file");
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("unchecked_") {
            rest = &rest[i..];
            let attr_end = rest.find(['=', ',', ')']).unwrap_or(rest.len());
            let attr = rest[..attr_end].trim();
            rest = &rest[attr_end..];
            if !attr.ends_with("_type") || !rest.starts_with('=') {
                continue;
            }
            let Some(open) = rest.find('"') else { break };
            let close = open + 1 + rest[open + 1..].find('"').expect("closing quote");
            out.push((format!("{name}: {attr}"), rest[open + 1..close].to_string()));
            rest = &rest[close + 1..];
        }
    }
    out
}

/// The TypeScript of `src/types.rs`'s hand-written custom section.
fn hand_written() -> String {
    let text = std::fs::read_to_string(src("types.rs")).expect("read src/types.rs");
    let start = text.find("r#\"").expect("a raw string in src/types.rs") + 3;
    let end = start + text[start..].find("\"#").expect("its end");
    text[start..end].to_string()
}

fn tsc() -> Option<PathBuf> {
    if let Some(t) = std::env::var_os("TSC") {
        return Some(PathBuf::from(t));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let t = root.join("web/node_modules/.bin/tsc");
    t.exists().then_some(t)
}

#[test]
fn declarations_type_check() {
    let Some(tsc) = tsc() else {
        assert!(
            std::env::var_os("TSC_REQUIRED").is_none_or(|v| v != "1"),
            "TSC_REQUIRED=1 but there is no tsc: run `npm ci --prefix web` or set TSC"
        );
        eprintln!("declarations_type_check: no tsc (npm ci --prefix web, or set TSC): skipped");
        return;
    };
    let used = method_types();
    assert!(
        used.len() > 40,
        "found only {} unchecked_*_type attributes",
        used.len()
    );
    let mut ts = generate();
    ts.push_str("\n// src/types.rs, written by hand\n");
    ts.push_str(&hand_written());
    ts.push_str("\n// The types the methods name (src/*.rs, unchecked_*_type)\n");
    for (i, (at, ty)) in used.iter().enumerate() {
        ts.push_str(&format!("/** {at} */\nexport type Method{i} = {ty};\n"));
    }
    let dir = std::env::temp_dir().join(format!("tradeloop-ts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("check.ts");
    std::fs::write(&file, &ts).expect("write check.ts");
    let out = Command::new(&tsc)
        .args([
            "--noEmit",
            "--strict",
            "--noUnusedLocals",
            "--target",
            "es2020",
            "--lib",
            "es2020",
        ])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tsc.display()));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "tsc rejects the declarations ({} method types checked):\n{}{}",
        used.len(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Formats ts-rs's declarations (one line each, a JSDoc block per field) as a person would
/// write them: an object type as an `interface` with a field a line, a long union an
/// alternative a line, one-line docs as `/** ... */`, `Array<T>` as `T[]`, quotes only on
/// keys that need them. Only the layout changes (`tsc` checks the result).
mod pretty {
    const WIDTH: usize = 100;

    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        Doc(Vec<String>),
        Word(String),
        Str(String),
        P(char),
    }

    #[derive(Debug)]
    enum Ty {
        Atom(String),
        Obj(Vec<Member>),
        Union(Vec<Ty>),
        Inter(Vec<Ty>),
        Tuple(Vec<Ty>),
        Generic(String, Vec<Ty>),
        Array(Box<Ty>),
        Paren(Box<Ty>),
    }

    #[derive(Debug)]
    struct Member {
        doc: Vec<String>,
        key: String,
        optional: bool,
        ty: Ty,
    }

    /// The lines of a JSDoc comment's text (`/**` and `*/` and the ` * ` margins removed).
    fn doc_lines(text: &str) -> Vec<String> {
        let mut lines: Vec<String> = text
            .lines()
            .map(|l| {
                let l = l.trim_start();
                let l = l.strip_prefix('*').unwrap_or(l);
                unlink(l.strip_prefix(' ').unwrap_or(l).trim_end())
            })
            .collect();
        while lines.first().is_some_and(String::is_empty) {
            lines.remove(0);
        }
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines
    }

    /// Rustdoc's intra-doc links as plain code: "[`X`]" and "[`X`](path)" become "`X`".
    fn unlink(line: &str) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(i) = rest.find("[`") {
            let Some(j) = rest[i + 2..].find("`]").map(|j| i + 2 + j) else {
                break;
            };
            out.push_str(&rest[..i]);
            out.push_str(&rest[i + 1..j + 1]);
            rest = &rest[j + 2..];
            if rest.starts_with('(')
                && let Some(k) = rest.find(')')
            {
                rest = &rest[k + 1..];
            }
        }
        out.push_str(rest);
        out
    }

    fn tokens(text: &str) -> Vec<Tok> {
        let mut out = Vec::new();
        let mut rest = text;
        loop {
            rest = rest.trim_start();
            let Some(c) = rest.chars().next() else {
                return out;
            };
            if let Some(body) = rest.strip_prefix("/**") {
                let end = body.find("*/").expect("unterminated doc comment");
                out.push(Tok::Doc(doc_lines(&body[..end])));
                rest = &body[end + 2..];
            } else if c == '"' {
                let end = 1 + rest[1..].find('"').expect("unterminated string");
                out.push(Tok::Str(rest[1..end].to_string()));
                rest = &rest[end + 1..];
            } else if c.is_alphanumeric() || c == '_' || c == '$' {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.'))
                    .unwrap_or(rest.len());
                out.push(Tok::Word(rest[..end].to_string()));
                rest = &rest[end..];
            } else {
                out.push(Tok::P(c));
                rest = &rest[c.len_utf8()..];
            }
        }
    }

    struct Parser {
        toks: Vec<Tok>,
        at: usize,
    }

    impl Parser {
        fn peek(&self) -> Option<&Tok> {
            self.toks.get(self.at)
        }
        fn next(&mut self) -> Tok {
            let t = self.toks.get(self.at).cloned().expect("unexpected end");
            self.at += 1;
            t
        }
        fn eat(&mut self, c: char) -> bool {
            let yes = self.peek() == Some(&Tok::P(c));
            if yes {
                self.at += 1;
            }
            yes
        }
        fn expect(&mut self, c: char) {
            let t = self.next();
            assert_eq!(t, Tok::P(c), "expected {c:?} at token {}", self.at - 1);
        }
        fn word(&mut self) -> String {
            match self.next() {
                Tok::Word(w) => w,
                t => panic!("expected a word, got {t:?}"),
            }
        }

        fn ty(&mut self) -> Ty {
            self.eat('|');
            let mut alts = vec![self.inter()];
            while self.eat('|') {
                alts.push(self.inter());
            }
            if alts.len() == 1 {
                alts.pop().unwrap()
            } else {
                Ty::Union(alts)
            }
        }

        fn inter(&mut self) -> Ty {
            let mut parts = vec![self.postfix()];
            while self.eat('&') {
                parts.push(self.postfix());
            }
            if parts.len() == 1 {
                parts.pop().unwrap()
            } else {
                Ty::Inter(parts)
            }
        }

        fn postfix(&mut self) -> Ty {
            let mut t = self.primary();
            while self.peek() == Some(&Tok::P('['))
                && self.toks.get(self.at + 1) == Some(&Tok::P(']'))
            {
                self.at += 2;
                t = Ty::Array(Box::new(t));
            }
            t
        }

        fn list(&mut self, close: char) -> Vec<Ty> {
            let mut items = Vec::new();
            while !self.eat(close) {
                items.push(self.ty());
                if !self.eat(',') {
                    self.expect(close);
                    break;
                }
            }
            items
        }

        fn primary(&mut self) -> Ty {
            match self.next() {
                Tok::P('{') => Ty::Obj(self.members()),
                Tok::P('[') => Ty::Tuple(self.list(']')),
                Tok::P('(') => {
                    let t = self.ty();
                    self.expect(')');
                    Ty::Paren(Box::new(t))
                }
                Tok::Word(w) if self.eat('<') => Ty::Generic(w, self.list('>')),
                Tok::Word(w) => Ty::Atom(w),
                Tok::Str(s) => Ty::Atom(format!("\"{s}\"")),
                t => panic!("unexpected {t:?} at token {}", self.at - 1),
            }
        }

        fn members(&mut self) -> Vec<Member> {
            let mut out = Vec::new();
            loop {
                let doc = match self.peek() {
                    Some(Tok::Doc(d)) => {
                        let d = d.clone();
                        self.at += 1;
                        d
                    }
                    _ => Vec::new(),
                };
                if self.eat('}') {
                    return out;
                }
                let key = match self.next() {
                    Tok::Word(w) => w,
                    Tok::Str(s) if is_ident(&s) => s,
                    Tok::Str(s) => format!("\"{s}\""),
                    Tok::P('[') => {
                        let name = self.word();
                        self.expect(':');
                        let t = self.ty();
                        self.expect(']');
                        format!("[{name}: {}]", inline(&t).expect("plain index type"))
                    }
                    t => panic!("unexpected key {t:?}"),
                };
                let optional = self.eat('?');
                self.expect(':');
                let ty = self.ty();
                out.push(Member {
                    doc,
                    key,
                    optional,
                    ty,
                });
                if !self.eat(',') && !self.eat(';') {
                    self.expect('}');
                    return out;
                }
            }
        }
    }

    fn is_ident(s: &str) -> bool {
        let mut c = s.chars();
        c.next()
            .is_some_and(|f| f.is_alphabetic() || f == '_' || f == '$')
            && c.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    }

    fn compound(t: &Ty) -> bool {
        matches!(t, Ty::Union(_) | Ty::Inter(_))
    }

    /// The one-line form, unless a field inside has a doc comment.
    fn inline(t: &Ty) -> Option<String> {
        let join = |ts: &[Ty], sep: &str| -> Option<String> {
            Some(ts.iter().map(inline).collect::<Option<Vec<_>>>()?.join(sep))
        };
        Some(match t {
            Ty::Atom(s) => s.clone(),
            Ty::Obj(ms) if ms.is_empty() => "{}".to_string(),
            Ty::Obj(ms) => {
                let mut fields = Vec::new();
                for m in ms {
                    if !m.doc.is_empty() {
                        return None;
                    }
                    fields.push(format!("{}: {}", key(m), inline(&m.ty)?));
                }
                format!("{{ {} }}", fields.join("; "))
            }
            Ty::Union(ts) => join(ts, " | ")?,
            Ty::Inter(ts) => join(ts, " & ")?,
            Ty::Tuple(ts) => format!("[{}]", join(ts, ", ")?),
            Ty::Generic(name, args) if name == "Array" && args.len() == 1 => {
                array_of(&args[0], inline(&args[0])?)
            }
            Ty::Generic(name, args) => format!("{name}<{}>", join(args, ", ")?),
            Ty::Array(t) => array_of(t, inline(t)?),
            Ty::Paren(t) => format!("({})", inline(t)?),
        })
    }

    fn array_of(t: &Ty, text: String) -> String {
        if compound(t) {
            format!("Array<{text}>")
        } else {
            format!("{text}[]")
        }
    }

    fn key(m: &Member) -> String {
        format!("{}{}", m.key, if m.optional { "?" } else { "" })
    }

    fn doc(lines: &[String], indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match lines {
            [] => {}
            [one] if indent + one.len() + 7 <= WIDTH => {
                out.push_str(&format!("{pad}/** {one} */\n"));
            }
            _ => {
                out.push_str(&format!("{pad}/**\n"));
                for l in lines {
                    if l.is_empty() {
                        out.push_str(&format!("{pad} *\n"));
                    } else {
                        out.push_str(&format!("{pad} * {l}\n"));
                    }
                }
                out.push_str(&format!("{pad} */\n"));
            }
        }
    }

    /// The fields of an object type, one a line at `indent`.
    fn fields(ms: &[Member], indent: usize, out: &mut String) {
        for m in ms {
            doc(&m.doc, indent, out);
            let k = key(m);
            let ty = layout(&m.ty, indent, indent + k.len() + 2);
            out.push_str(&format!("{}{k}: {ty};\n", " ".repeat(indent)));
        }
    }

    /// `t` starting at column `col` on a line indented by `indent`: on one line if it fits
    /// and has no doc comment, else over several.
    fn layout(t: &Ty, indent: usize, col: usize) -> String {
        if let Some(s) = inline(t)
            && col + s.len() <= WIDTH
        {
            return s;
        }
        match t {
            // An externally tagged variant keeps its tag on the opening line.
            Ty::Obj(ms) if ms.len() == 1 && ms[0].doc.is_empty() => {
                let k = key(&ms[0]);
                let inner = layout(&ms[0].ty, indent, col + k.len() + 4);
                format!("{{ {k}: {inner} }}")
            }
            Ty::Obj(ms) => {
                let mut out = String::from("{\n");
                fields(ms, indent + 2, &mut out);
                out.push_str(&" ".repeat(indent));
                out.push('}');
                out
            }
            Ty::Union(ts) => {
                let mut out = String::new();
                for t in ts {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent + 2));
                    out.push_str("| ");
                    out.push_str(&layout(t, indent + 4, indent + 4));
                }
                out
            }
            Ty::Inter(ts) => ts
                .iter()
                .map(|t| layout(t, indent, col))
                .collect::<Vec<_>>()
                .join(" & "),
            Ty::Tuple(ts) => format!(
                "[{}]",
                ts.iter()
                    .map(|t| layout(t, indent, col))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Ty::Generic(name, args) if name == "Array" && args.len() == 1 => {
                array_of(&args[0], layout(&args[0], indent, col))
            }
            Ty::Generic(name, args) => format!(
                "{name}<{}>",
                args.iter()
                    .map(|t| layout(t, indent, col))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Ty::Array(t) => array_of(t, layout(t, indent, col)),
            Ty::Paren(t) => format!("({})", layout(t, indent, col + 1)),
            Ty::Atom(s) => s.clone(),
        }
    }

    /// `docs` (ts-rs's JSDoc of the type, if any) and `decl` (`type Name = ...;`) as an
    /// exported declaration.
    pub(super) fn declaration(docs: Option<&str>, decl: &str) -> String {
        let mut out = String::new();
        if let Some(d) = docs {
            match tokens(d).as_slice() {
                [Tok::Doc(lines)] => doc(lines, 0, &mut out),
                other => panic!("not a doc comment: {other:?}"),
            }
        }
        let mut p = Parser {
            toks: tokens(decl),
            at: 0,
        };
        assert_eq!(p.word(), "type", "in {decl}");
        let name = p.word();
        assert!(!p.eat('<'), "generic declaration {name}: not supported");
        p.expect('=');
        let ty = p.ty();
        p.eat(';');
        assert!(p.peek().is_none(), "trailing tokens in {decl}");
        match &ty {
            Ty::Obj(ms) => {
                out.push_str(&format!("export interface {name} {{\n"));
                fields(ms, 2, &mut out);
                out.push_str("}\n");
            }
            _ => {
                let head = format!("export type {name} =");
                let body = layout(&ty, 0, head.len() + 1);
                let sep = if body.starts_with('\n') { "" } else { " " };
                out.push_str(&format!("{head}{sep}{body};\n"));
            }
        }
        out
    }
}
