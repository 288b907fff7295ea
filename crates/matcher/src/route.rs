//! Routing rules (`routes.toml`): the first `[[rule]]` whose conditions hold
//! picks the route and base priority; every `[[boost]]` that holds adds to
//! the priority. Each decision is recorded as a reason.

use std::collections::{BTreeMap, HashSet};

use earshot_model::{EntityKind, Intent, Match, Route, SentimentLabel};
use serde::Deserialize;

use crate::customers::Customer;
use crate::error::{from_toml, locate_quoted, ConfigError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutesFile {
    #[serde(default)]
    rule: Vec<RuleDef>,
    #[serde(default)]
    boost: Vec<RuleDef>,
}

/// Conditions shared by rules and boosts; all given ones must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleDef {
    name: String,
    route: Option<String>,
    priority: Option<u8>,
    add: Option<i32>,
    #[serde(default)]
    intents: Vec<String>,
    #[serde(default)]
    labels: Vec<String>,
    sentiment_below: Option<f32>,
    sentiment_above: Option<f32>,
    #[serde(default)]
    tiers: Vec<String>,
    min_reach: Option<u64>,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    brands: Vec<String>,
    #[serde(default)]
    customers: Vec<String>,
    #[serde(default)]
    owners: Vec<String>,
    #[serde(default)]
    attributes: BTreeMap<String, OneOrMany>,
}

/// `region = "emea"` or `region = ["emea", "apac"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A compiled rule or boost.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rule {
    name: String,
    route: Option<Route>,
    priority: i32,
    intents: Vec<Intent>,
    /// `intents` as indices into the configured intents (see
    /// [`Routes::resolve_intents`]): routing compares numbers.
    intent_ids: Vec<u32>,
    labels: Vec<SentimentLabel>,
    sentiment_below: Option<f32>,
    sentiment_above: Option<f32>,
    tiers: Vec<String>,
    min_reach: Option<u64>,
    kinds: Vec<EntityKind>,
    sources: Vec<String>,
    /// Brand or competitor ids, one of which must be matched.
    brands: Vec<String>,
    /// Customer ids, one of which must be matched.
    customers: Vec<String>,
    /// Account owners (lowercase), one of whose accounts must be matched.
    owners: Vec<String>,
    /// Account attributes (lowercase name, lowercase values): a matched
    /// account must have each, with one of the values.
    attributes: Vec<(String, Vec<String>)>,
    /// Where the rule starts in its file, for errors found after parsing.
    at: (String, Option<usize>),
}

/// All routing rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct Routes {
    rules: Vec<Rule>,
    boosts: Vec<Rule>,
}

/// What routing looks at.
pub(crate) struct RouteInput<'a> {
    /// The post's intents, as indices into `intent_names`.
    pub intents: &'a [u32],
    /// The configured intents.
    pub intent_names: &'a [Intent],
    pub compound: f32,
    pub label: SentimentLabel,
    pub tiers: &'a [&'a str],
    pub reach: Option<u64>,
    pub kinds: &'a [EntityKind],
    pub source: &'a str,
    /// Every entity matched (brands, competitors, customers).
    pub matches: &'a [Match],
    /// The watchlist's customers, indexed by `customer_hits`.
    pub customers: &'a [Customer],
    /// The matched customers (indices, possibly repeated).
    pub customer_hits: &'a [u32],
}

pub(crate) fn parse_routes(file: &str, text: &str) -> (Routes, Vec<ConfigError>) {
    let parsed: RoutesFile = match toml::from_str(text) {
        Ok(p) => p,
        Err(e) => return (Routes::default(), vec![from_toml(file, text, &e)]),
    };
    let mut errors = Vec::new();
    let mut routes = Routes::default();
    let mut cursor = 0;
    for (defs, is_rule) in [(parsed.rule, true), (parsed.boost, false)] {
        for def in defs {
            let at = locate_quoted(text, &def.name, cursor).unwrap_or(cursor);
            cursor = at;
            let key = format!("{} {}", if is_rule { "rule" } else { "boost" }, def.name);
            let mut err =
                |m: String| errors.push(ConfigError::new(file, &key, m).at_offset(text, at));
            let mut r = Rule {
                name: def.name.clone(),
                sentiment_below: def.sentiment_below,
                sentiment_above: def.sentiment_above,
                tiers: def.tiers.iter().map(|t| t.to_ascii_lowercase()).collect(),
                min_reach: def.min_reach,
                sources: def.sources.clone(),
                brands: def.brands.clone(),
                customers: def.customers.clone(),
                owners: def.owners.iter().map(|o| o.trim().to_lowercase()).collect(),
                attributes: def
                    .attributes
                    .iter()
                    .map(|(k, v)| {
                        let values = match v {
                            OneOrMany::One(x) => vec![x.trim().to_lowercase()],
                            OneOrMany::Many(xs) => {
                                xs.iter().map(|x| x.trim().to_lowercase()).collect()
                            }
                        };
                        (k.trim().to_lowercase(), values)
                    })
                    .collect(),
                at: (
                    key.clone(),
                    Some(text[..at.min(text.len())].lines().count().max(1)),
                ),
                ..Rule::default()
            };
            if is_rule {
                match def.route.as_deref().map(str::parse::<Route>) {
                    Some(Ok(route)) => r.route = Some(route),
                    Some(Err(e)) => err(format!("route: {e}")),
                    None => err(
                        "expected `route`: the team's name (such as support, sales, or your own), or none"
                            .into(),
                    ),
                }
                match def.priority {
                    Some(p) if p <= 100 => r.priority = p.into(),
                    Some(p) => err(format!("priority {p}: expected 0 to 100")),
                    None => err("expected `priority` (0 to 100)".into()),
                }
                if def.add.is_some() {
                    err("`add` belongs in a [[boost]]; a [[rule]] sets `priority`".into());
                }
            } else {
                match def.add {
                    Some(a) => r.priority = a,
                    None => err("expected `add` (points added to the priority)".into()),
                }
                if def.route.is_some() || def.priority.is_some() {
                    err(
                        "a [[boost]] only adds points: expected `add`, not `route` or `priority`"
                            .into(),
                    );
                }
            }
            for i in &def.intents {
                match i.parse::<Intent>() {
                    Ok(i) => r.intents.push(i),
                    Err(e) => err(format!("intents: {e}")),
                }
            }
            for l in &def.labels {
                match l.parse() {
                    Ok(l) => r.labels.push(l),
                    Err(e) => err(format!("labels: {e}")),
                }
            }
            for k in &def.kinds {
                match k.parse() {
                    Ok(k) => r.kinds.push(k),
                    Err(e) => err(format!("kinds: {e}")),
                }
            }
            if is_rule {
                routes.rules.push(r);
            } else {
                routes.boosts.push(r);
            }
        }
    }
    (routes, errors)
}

impl Rule {
    /// Whether every condition holds; the held conditions are described in `why`.
    fn holds(&self, x: &RouteInput, why: &mut Vec<String>) -> bool {
        why.clear();
        if !self.intents.is_empty() {
            match self.intent_ids.iter().find(|i| x.intents.contains(i)) {
                Some(&i) => why.push(format!("intent={}", x.intent_names[i as usize])),
                None => return false,
            }
        }
        if !self.labels.is_empty() {
            if !self.labels.contains(&x.label) {
                return false;
            }
            why.push(format!("sentiment={}", x.label));
        }
        if let Some(b) = self.sentiment_below {
            if x.compound >= b {
                return false;
            }
            why.push(format!("compound={:.2}<{b}", x.compound));
        }
        if let Some(a) = self.sentiment_above {
            if x.compound <= a {
                return false;
            }
            why.push(format!("compound={:.2}>{a}", x.compound));
        }
        if !self.tiers.is_empty() {
            match self.tiers.iter().find(|t| x.tiers.contains(&t.as_str())) {
                Some(t) => why.push(format!("tier={t}")),
                None => return false,
            }
        }
        if let Some(m) = self.min_reach {
            match x.reach {
                Some(r) if r >= m => why.push(format!("reach={r}>={m}")),
                _ => return false,
            }
        }
        if !self.kinds.is_empty() {
            match self.kinds.iter().find(|k| x.kinds.contains(k)) {
                Some(k) => why.push(format!("matched={k}")),
                None => return false,
            }
        }
        if !self.sources.is_empty() {
            if !self.sources.iter().any(|s| s == x.source) {
                return false;
            }
            why.push(format!("source={}", x.source));
        }
        if !self.brands.is_empty() {
            let brand = x
                .matches
                .iter()
                .find(|m| m.kind != EntityKind::Customer && self.brands.contains(&m.entity_id));
            match brand {
                Some(m) => why.push(format!("brand={}", m.entity_id)),
                None => return false,
            }
        }
        if !self.customers.is_empty() {
            let hit = x
                .customer_hits
                .iter()
                .map(|&c| &x.customers[c as usize])
                .find(|c| self.customers.contains(&c.id));
            match hit {
                Some(c) => why.push(format!("customer={}", c.id)),
                None => return false,
            }
        }
        if !self.owners.is_empty() {
            let hit = x
                .customer_hits
                .iter()
                .map(|&c| &x.customers[c as usize])
                .find(|c| self.owners.contains(&c.owner.to_lowercase()));
            match hit {
                Some(c) => why.push(format!("owner={}", c.owner)),
                None => return false,
            }
        }
        for (name, values) in &self.attributes {
            let hit = x.customer_hits.iter().find_map(|&c| {
                let v = x.customers[c as usize].attributes.get(name)?;
                values.contains(&v.trim().to_lowercase()).then_some(v)
            });
            match hit {
                Some(v) => why.push(format!("{name}={v}")),
                None => return false,
            }
        }
        true
    }
}

impl Routes {
    /// Problems with brand and customer ids the rules name that the
    /// watchlists and CRM exports do not have (a typo would make a rule
    /// silently never hold).
    pub fn check_ids(
        &self,
        file: &str,
        brands: &HashSet<&str>,
        customers: &HashSet<&str>,
    ) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for r in self.rules.iter().chain(&self.boosts) {
            let mut err = |m: String| {
                let mut e = ConfigError::new(file, &r.at.0, m);
                e.line = r.at.1;
                errors.push(e);
            };
            for b in r.brands.iter().filter(|b| !brands.contains(b.as_str())) {
                err(format!(
                    "brands: `{b}` is no brand or competitor id in the watchlists"
                ));
            }
            for c in r
                .customers
                .iter()
                .filter(|c| !customers.contains(c.as_str()))
            {
                err(format!(
                    "customers: `{c}` is no customer id in the CRM exports"
                ));
            }
        }
        errors
    }

    /// Resolves the rules' `intents` conditions against the configured
    /// intents (`intents`, indexed as the matcher indexes them), returning
    /// the names no intent rule produces: such a condition could never hold
    /// (a typo, or an intent renamed in `intents.toml` only).
    pub fn resolve_intents(&mut self, file: &str, intents: &[Intent]) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for r in self.rules.iter_mut().chain(&mut self.boosts) {
            r.intent_ids.clear();
            for i in &r.intents {
                match intents.iter().position(|n| n == i) {
                    Some(p) => r.intent_ids.push(p as u32),
                    None => {
                        let mut e = ConfigError::new(
                            file,
                            &r.at.0,
                            format!(
                                "intents: `{i}` is produced by no rule of the intents file; expected one of: {}",
                                join(intents)
                            ),
                        );
                        e.line = r.at.1;
                        errors.push(e);
                    }
                }
            }
        }
        errors
    }

    /// The routes the rules produce, in first-rule order, then
    /// [`Route::NONE`] (always possible: a post no rule holds for).
    pub fn names(&self) -> Vec<Route> {
        let mut out: Vec<Route> = Vec::new();
        for r in self.rules.iter().filter_map(|r| r.route.as_ref()) {
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        out.retain(|r| *r != Route::NONE);
        out.push(Route::NONE);
        out
    }

    /// Route, priority and the reasons for them.
    pub fn decide(&self, x: &RouteInput) -> (Route, u8, Vec<String>) {
        let mut why = Vec::new();
        let mut reasons = Vec::new();
        let Some(rule) = self.rules.iter().find(|r| r.holds(x, &mut why)) else {
            return (Route::NONE, 0, vec!["no routing rule matched".into()]);
        };
        let route = rule.route.clone().unwrap_or(Route::NONE);
        let mut priority = rule.priority;
        reasons.push(describe("rule", &rule.name, &why, None));
        if route.is_routed() {
            for b in &self.boosts {
                if b.holds(x, &mut why) {
                    priority += b.priority;
                    reasons.push(describe("boost", &b.name, &why, Some(b.priority)));
                }
            }
        }
        (route, priority.clamp(0, 100) as u8, reasons)
    }
}

/// Names as a readable list (`none` for an empty one).
pub(crate) fn join<T: std::fmt::Display>(names: &[T]) -> String {
    if names.is_empty() {
        return "none (no rule defines any)".into();
    }
    names
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(kind: &str, name: &str, why: &[String], add: Option<i32>) -> String {
    let mut s = format!("{kind} {name}");
    if !why.is_empty() {
        s.push_str(": ");
        s.push_str(&why.join(", "));
    }
    if let Some(a) = add {
        s.push_str(&format!(" ({a:+})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str = r#"
[[rule]]
name = "pr-risk"
intents = ["pr_risk"]
route = "pr"
priority = 80

[[rule]]
name = "vip-complaint"
intents = ["complaint", "churn_risk"]
tiers = ["enterprise"]
route = "support"
priority = 60

[[rule]]
name = "complaint"
intents = ["complaint"]
route = "support"
priority = 40

[[boost]]
name = "reach"
min_reach = 10000
add = 15

[[boost]]
name = "angry"
sentiment_below = -0.6
add = 10
"#;

    fn input<'a>(
        intents: &'a [u32],
        tiers: &'a [&'a str],
        reach: Option<u64>,
        compound: f32,
    ) -> RouteInput<'a> {
        RouteInput {
            intents,
            intent_names: Intent::BUNDLED,
            compound,
            label: SentimentLabel::from_compound(compound),
            tiers,
            reach,
            kinds: &[EntityKind::Brand],
            source: "x",
            matches: &[],
            customers: &[],
            customer_hits: &[],
        }
    }

    /// The index of a bundled intent.
    fn id(i: &Intent) -> u32 {
        Intent::BUNDLED.iter().position(|x| x == i).unwrap() as u32
    }

    #[test]
    fn first_rule_wins_and_boosts_add() {
        let (mut r, errs) = parse_routes("routes.toml", ROUTES);
        assert!(errs.is_empty(), "{errs:?}");
        assert!(r.resolve_intents("routes.toml", Intent::BUNDLED).is_empty());
        let (route, p, why) = r.decide(&input(
            &[id(&Intent::COMPLAINT)],
            &["enterprise"],
            Some(50_000),
            -0.8,
        ));
        assert_eq!(route, Route::SUPPORT);
        assert_eq!(p, 85);
        assert_eq!(
            why,
            [
                "rule vip-complaint: intent=complaint, tier=enterprise",
                "boost reach: reach=50000>=10000 (+15)",
                "boost angry: compound=-0.80<-0.6 (+10)"
            ]
        );
        let (route, p, _) = r.decide(&input(&[id(&Intent::COMPLAINT)], &["free"], None, -0.2));
        assert_eq!((route, p), (Route::SUPPORT, 40));
        let (route, p, why) = r.decide(&input(&[id(&Intent::PRAISE)], &[], None, 0.9));
        assert_eq!((route, p), (Route::NONE, 0));
        assert_eq!(why, ["no routing rule matched"]);
    }

    #[test]
    fn bad_rules_are_reported() {
        let text = "[[rule]]\nname = \"x\"\nroute = \"Legal\"\n\n[[boost]]\nname = \"y\"\nroute = \"pr\"\nadd = 1\n";
        let (_, errs) = parse_routes("routes.toml", text);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs[0].message.contains("`Legal` is no valid route name"),
            "{}",
            errs[0]
        );
        assert!(errs[1].message.contains("priority"));
        assert_eq!(errs[2].key, "boost y");
        assert_eq!(errs[2].line, Some(6));
    }

    #[test]
    fn issue_16_routes_are_the_rules_names_and_intents_must_exist() {
        let text = "[[rule]]\nname = \"ideas\"\nintents = [\"feature_request\", \"complaint\"]\nroute = \"product\"\npriority = 30\n\n[[rule]]\nname = \"rest\"\nroute = \"none\"\npriority = 0\n";
        let (mut r, errs) = parse_routes("routes.toml", text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(r.names(), [Route::new("product").unwrap(), Route::NONE]);
        let errs = r.resolve_intents("routes.toml", &[Intent::COMPLAINT]);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(
            (errs[0].key.as_str(), errs[0].line),
            ("rule ideas", Some(2))
        );
        assert!(
            errs[0]
                .message
                .contains("`feature_request` is produced by no rule")
                && errs[0].message.contains("expected one of: complaint"),
            "{}",
            errs[0]
        );
        let names = [Intent::new("feature_request").unwrap(), Intent::COMPLAINT];
        assert!(r.resolve_intents("routes.toml", &names).is_empty());
        let mut x = input(&[0], &[], None, 0.0);
        x.intent_names = &names;
        let (route, p, why) = r.decide(&x);
        assert_eq!((route.as_str(), p), ("product", 30));
        assert_eq!(why, ["rule ideas: intent=feature_request"]);
    }
}
