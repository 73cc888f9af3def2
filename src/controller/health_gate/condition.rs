//! The conditions of a Prometheus gate, in the part of Argo Rollouts'
//! expression language (expr-lang) its AnalysisTemplates use on a query's
//! `result`: `result[0] < 0.05`, `len(result) == 0`,
//! `all(result, {# < 5})`, `isNaN(result[0]) || result[0] > 0.9`.
//!
//! Supported: numbers, `true`/`false`, `result`, indexing, `len`, `all`,
//! `any`, `isNaN`, `isInf`, arithmetic (`+ - * /`), comparisons, `&&`/`and`,
//! `||`/`or`, `!`/`not` and parentheses. Anything else is an error the gate
//! reports (it cannot be read), never a guess.

use thiserror::Error;

/// Why a condition could not be evaluated.
#[derive(Debug, Error, PartialEq)]
#[error("condition {condition:?}: {why}")]
pub struct ConditionError {
    pub condition: String,
    pub why: String,
}

/// What a query returned, as Argo Rollouts hands it to a condition: a
/// vector's sample values in order, or one scalar.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryResult {
    Vector(Vec<f64>),
    Scalar(f64),
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Number(f64),
    Bool(bool),
    List(Vec<f64>),
}

/// Evaluates `condition` over `result`.
pub fn evaluate(condition: &str, result: &QueryResult) -> Result<bool, ConditionError> {
    let err = |why: String| ConditionError {
        condition: condition.to_owned(),
        why,
    };
    let tokens = tokenize(condition).map_err(err)?;
    let mut p = Parser {
        tokens,
        at: 0,
        result,
        item: None,
    };
    let value = p.expr(0).map_err(err)?;
    if p.at != p.tokens.len() {
        return Err(err(format!("unexpected {:?}", p.tokens[p.at])));
    }
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(err(format!("is not true or false but {other:?}"))),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Number(f64),
    Ident(String),
    Op(&'static str),
    Hash,
}

const OPERATORS: &[&str] = &[
    "&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "+", "-", "*", "/", "(", ")", "[", "]", "{", "}", ",",
];

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut out = vec![];
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || (c == '.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            if matches!(bytes.get(i), Some(b'e' | b'E')) {
                i += 1;
                if matches!(bytes.get(i), Some(b'+' | b'-')) {
                    i += 1;
                }
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let text = &s[start..i];
            out.push(Token::Number(
                text.parse().map_err(|_| format!("{text:?} is not a number"))?,
            ));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(Token::Ident(s[start..i].to_owned()));
        } else if c == '#' {
            out.push(Token::Hash);
            i += 1;
        } else if let Some(op) = OPERATORS.iter().find(|op| s[i..].starts_with(**op)) {
            out.push(Token::Op(op));
            i += op.len();
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    result: &'a QueryResult,
    /// `#` inside `all`/`any`: the element at hand.
    item: Option<f64>,
}

/// Binding powers, lowest first (expr-lang's order).
fn infix(token: &Token) -> Option<(&'static str, u8)> {
    let op = match token {
        Token::Op(op) => *op,
        Token::Ident(w) if w == "or" => "||",
        Token::Ident(w) if w == "and" => "&&",
        _ => return None,
    };
    let power = match op {
        "||" => 1,
        "&&" => 2,
        "==" | "!=" => 3,
        "<" | "<=" | ">" | ">=" => 4,
        "+" | "-" => 5,
        "*" | "/" => 6,
        _ => return None,
    };
    Some((op, power))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<Token, String> {
        let t = self.tokens.get(self.at).cloned().ok_or("ends too early")?;
        self.at += 1;
        Ok(t)
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        match self.next()? {
            Token::Op(o) if o == op => Ok(()),
            t => Err(format!("expected {op:?}, found {t:?}")),
        }
    }

    fn expr(&mut self, min: u8) -> Result<Value, String> {
        let mut left = self.prefix()?;
        while let Some((op, power)) = self.peek().and_then(infix) {
            if power <= min {
                break;
            }
            self.at += 1;
            let right = self.expr(power)?;
            left = apply(op, left, right)?;
        }
        Ok(left)
    }

    fn prefix(&mut self) -> Result<Value, String> {
        match self.next()? {
            Token::Number(n) => Ok(Value::Number(n)),
            Token::Hash => self
                .item
                .map(Value::Number)
                .ok_or_else(|| "# outside all() or any()".into()),
            Token::Op("(") => {
                let v = self.expr(0)?;
                self.expect(")")?;
                Ok(v)
            }
            Token::Op("!") => Ok(Value::Bool(!truth(self.expr(7)?)?)),
            Token::Ident(w) if w == "not" => Ok(Value::Bool(!truth(self.expr(7)?)?)),
            Token::Op("-") => Ok(Value::Number(-number(self.expr(7)?)?)),
            Token::Ident(w) => self.word(&w),
            t => Err(format!("unexpected {t:?}")),
        }
    }

    fn word(&mut self, w: &str) -> Result<Value, String> {
        match w {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "result" => {
                let v = match self.result {
                    QueryResult::Vector(v) => Value::List(v.clone()),
                    QueryResult::Scalar(s) => Value::Number(*s),
                };
                self.postfix(v)
            }
            "len" => {
                self.expect("(")?;
                let v = self.expr(0)?;
                self.expect(")")?;
                match v {
                    Value::List(l) => Ok(Value::Number(l.len() as f64)),
                    other => Err(format!("len() of {other:?}")),
                }
            }
            "isNaN" | "isInf" => {
                self.expect("(")?;
                let n = number(self.expr(0)?)?;
                self.expect(")")?;
                Ok(Value::Bool(if w == "isNaN" { n.is_nan() } else { n.is_infinite() }))
            }
            "all" | "any" => self.quantifier(w == "all"),
            other => Err(format!("unknown name {other:?} (the result is called result)")),
        }
    }

    /// `all(list, predicate)` / `any(...)`, the predicate in braces or not.
    fn quantifier(&mut self, all: bool) -> Result<Value, String> {
        self.expect("(")?;
        let Value::List(items) = self.expr(0)? else {
            return Err("all() and any() take a vector".into());
        };
        self.expect(",")?;
        let braced = self.peek() == Some(&Token::Op("{"));
        if braced {
            self.at += 1;
        }
        let body = self.at;
        let mut answer = all;
        let mut end = body;
        // The predicate is parsed once per element (and once for an empty
        // vector, to find where it ends and report its errors).
        for item in items.iter().copied().map(Some).chain(items.is_empty().then_some(None)) {
            self.at = body;
            let saved = self.item.replace(item.unwrap_or(f64::NAN));
            let holds = truth(self.expr(0)?)?;
            self.item = saved;
            end = self.at;
            if item.is_some() && holds != all {
                answer = !all;
            }
        }
        self.at = end;
        if braced {
            self.expect("}")?;
        }
        self.expect(")")?;
        Ok(Value::Bool(answer))
    }

    fn postfix(&mut self, mut v: Value) -> Result<Value, String> {
        while self.peek() == Some(&Token::Op("[")) {
            self.at += 1;
            let i = number(self.expr(0)?)?;
            self.expect("]")?;
            let Value::List(l) = &v else {
                return Err("only a vector result can be indexed".into());
            };
            if i < 0.0 || i.fract() != 0.0 {
                return Err(format!("index {i} is not a whole number from 0"));
            }
            v = Value::Number(
                *l.get(i as usize)
                    .ok_or_else(|| format!("index {i} is out of range: the result has {} value(s)", l.len()))?,
            );
        }
        Ok(v)
    }
}

fn truth(v: Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(b),
        other => Err(format!("{other:?} is not true or false")),
    }
}

fn number(v: Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => Ok(n),
        other => Err(format!("{other:?} is not a number")),
    }
}

fn apply(op: &str, l: Value, r: Value) -> Result<Value, String> {
    Ok(match op {
        "&&" => Value::Bool(truth(l)? && truth(r)?),
        "||" => Value::Bool(truth(l)? || truth(r)?),
        "==" | "!=" => {
            let eq = match (&l, &r) {
                (Value::Number(a), Value::Number(b)) => a == b,
                (Value::Bool(a), Value::Bool(b)) => a == b,
                _ => return Err(format!("cannot compare {l:?} with {r:?}")),
            };
            Value::Bool(eq == (op == "=="))
        }
        _ => {
            let (a, b) = (number(l)?, number(r)?);
            match op {
                "<" => Value::Bool(a < b),
                "<=" => Value::Bool(a <= b),
                ">" => Value::Bool(a > b),
                ">=" => Value::Bool(a >= b),
                "+" => Value::Number(a + b),
                "-" => Value::Number(a - b),
                "*" => Value::Number(a * b),
                "/" => Value::Number(a / b),
                _ => return Err(format!("unknown operator {op}")),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(v: &[f64]) -> QueryResult {
        QueryResult::Vector(v.to_vec())
    }

    #[test]
    fn argo_rollouts_conditions_read_as_they_do_there() {
        let cases: &[(&str, QueryResult, bool)] = &[
            ("result[0] >= 0.95", vector(&[0.97]), true),
            ("result[0] >= 0.95", vector(&[0.9]), false),
            ("len(result) == 0", vector(&[]), true),
            ("len(result) == 0", vector(&[1.0]), false),
            ("all(result, {# < 5})", vector(&[1.0, 4.0]), true),
            ("all(result, # < 5)", vector(&[1.0, 6.0]), false),
            ("any(result, {# > 5})", vector(&[1.0, 6.0]), true),
            ("any(result, {# > 5})", vector(&[]), false),
            ("all(result, {# > 5})", vector(&[]), true),
            ("isNaN(result) || result < 0.1", QueryResult::Scalar(f64::NAN), true),
            ("result * 100 > 5 and not (result > 1)", QueryResult::Scalar(0.5), true),
            ("!(result[0] - 1 > 0) && result[1] == 2", vector(&[1.0, 2.0]), true),
            ("result[0] > 1e-3", vector(&[0.01]), true),
        ];
        for (condition, result, want) in cases {
            assert_eq!(evaluate(condition, result), Ok(*want), "{condition} over {result:?}");
        }
    }

    #[test]
    fn what_cannot_be_evaluated_is_an_error_that_says_why() {
        let e = evaluate("result[2] > 0", &vector(&[1.0])).unwrap_err();
        assert!(e.why.contains("out of range"), "{e}");
        let e = evaluate("result[0] + 1", &vector(&[1.0])).unwrap_err();
        assert!(e.why.contains("not true or false"), "{e}");
        let e = evaluate("asInt(result[0]) > 1", &vector(&[1.0])).unwrap_err();
        assert!(e.why.contains("unknown name"), "{e}");
        let e = evaluate("result[0] > ", &vector(&[1.0])).unwrap_err();
        assert!(e.why.contains("ends too early"), "{e}");
        let e = evaluate("result[0] > 1 1", &vector(&[1.0])).unwrap_err();
        assert!(e.why.contains("unexpected"), "{e}");
        assert!(
            evaluate("result > 1", &vector(&[1.0])).is_err(),
            "a vector is not a number"
        );
    }
}
