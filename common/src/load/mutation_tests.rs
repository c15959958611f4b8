//! Damaged and hostile streams: nothing panics, and every error names a line.
//!
//! The fuzz target in `common/fuzz` explores far more inputs; these bounded, deterministic
//! mutations keep the same guarantees checked by every `cargo test`.

use super::*;

/// Well-formed streams to damage: each exercises a different path of the loader.
const CORPUS: &[&str] = &[
    "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\n  \
     namespace: default\nspec:\n  hosts: [reviews]\n  http:\n  - match:\n    - uri: {prefix: /a}\n    \
     route:\n    - destination: {host: reviews, subset: v2}\n      weight: 100\n",
    "# two documents\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: \
     {name: r}\nspec:\n  host: r\n  subsets:\n  - name: v1\n    labels: {version: v1}\n...\n---\n\
     apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny}\nspec:\n  \
     action: DENY\n  rules:\n  - from:\n    - source: {principals: ['*']}\n",
    "apiVersion: v1\nkind: List\nitems:\n- apiVersion: networking.istio.io/v1\n  kind: Gateway\n  \
     metadata: {name: gw}\n  spec:\n    selector: {istio: ingressgateway}\n    servers:\n    \
     - port: {number: 80, name: http, protocol: HTTP}\n      hosts: ['*']\n",
    "[{\"apiVersion\": \"networking.istio.io/v1\", \"kind\": \"ServiceEntry\", \"metadata\": \
     {\"name\": \"ext\"}, \"spec\": {\"hosts\": [\"example.com\"], \"ports\": [{\"number\": 443, \
     \"name\": \"https\", \"protocol\": \"TLS\"}], \"resolution\": \"DNS\"}}]\n",
    "%YAML 1.2\n---\nbase: &b {name: x}\nmetadata: *b\nkind: Sidecar\napiVersion: \
     networking.istio.io/v1\nspec: {egress: [{hosts: [\"./*\"]}]}\n",
];

/// Fragments that YAML and JSON give meaning to, to splice into the corpus.
const TOKENS: &[&str] = &[
    "---\n",
    "...\n",
    "--- ",
    ": ",
    "- ",
    "? ",
    "&a ",
    "*a",
    "!!str ",
    "!tag ",
    "|\n",
    ">-\n",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    "#",
    "\t",
    "\r\n",
    "\r",
    "\u{feff}",
    "%YAML 1.2\n",
    "%TAG ! x\n",
    "<<: *a\n",
    "\\u0000",
    "\u{0}",
    "\u{85}",
    "\u{2028}",
    "null",
    "~",
    ".nan",
    "1e999",
    "0x",
    "items:",
    "kind: List\n",
    "metadata:\n  name: ",
];

/// xorshift64: deterministic and dependency-free, so a failure reproduces exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        let len = rng.below(16).min(bytes.len() - at);
        match rng.below(6) {
            0 if at < bytes.len() => bytes[at] = rng.next() as u8,
            1 => drop(bytes.drain(at..at + len)),
            2 => {
                let copy = bytes[at..at + len].to_vec();
                let to = rng.below(bytes.len() + 1);
                bytes.splice(to..to, copy);
            }
            3 | 4 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
            _ => bytes.truncate(at),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Loads `text` under every format and checks what must hold of any result.
fn check(text: &str) {
    for name in ["m.yaml", "m.json", "<stdin>"] {
        let result = load_str(text, Path::new(name), &LoadOptions::default());
        for error in &result.errors {
            assert!(error.origin.line >= 1, "{error} in {text:?}");
            assert_eq!(error.origin.file, Path::new(name));
            assert!(!error.reason.is_empty(), "{error:?} in {text:?}");
        }
        for loaded in &result.resources {
            assert!(loaded.origin.line >= 1, "{:?} in {text:?}", loaded.origin);
            assert!(!loaded.object.name().is_empty());
            let namespaced = loaded.object.kind().is_namespaced();
            assert_eq!(loaded.object.namespace().is_empty(), !namespaced);
        }
    }
}

#[test]
fn the_corpus_loads_cleanly() {
    for text in CORPUS {
        let result = load_str(text, Path::new("<stdin>"), &LoadOptions::default());
        assert_eq!(result.errors, vec![], "{text}");
        assert!(!result.resources.is_empty(), "{text}");
    }
}

#[test]
fn damaged_streams_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..600 {
        let text = mutate(CORPUS[round % CORPUS.len()], &mut rng);
        check(&text);
    }
}

#[test]
fn hostile_streams_are_refused_cleanly() {
    let deep_flow = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_block: String = (0..2_000)
        .map(|i| format!("{}a:\n", " ".repeat(i)))
        .collect();
    let deep_json = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    // Each alias doubles the size: 2^40 strings if expanded.
    let mut laughs = "a: &a0 [lol, lol]\n".to_string();
    for i in 1..40 {
        laughs.push_str(&format!("a{i}: &a{i} [*a{}, *a{}]\n", i - 1, i - 1));
    }
    let separators = "---\n".repeat(100_000);
    for (text, name) in [
        (deep_flow.as_str(), "deep.yaml"),
        (&deep_block, "deep.yaml"),
        (&deep_json, "deep.json"),
        (&laughs, "laughs.yaml"),
    ] {
        let result = load_str(text, Path::new(name), &LoadOptions::default());
        assert_eq!(result.resources, vec![]);
        assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
    }
    assert_eq!(
        load_str(&separators, Path::new("s.yaml"), &LoadOptions::default()),
        LoadResult::default()
    );
    check("\t- a\n\t\tb: c\n");
    check("\u{feff}\u{feff}---\n\u{feff}kind: x\n");
}
