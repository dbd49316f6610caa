//! `type = "route"`: sends each event to every route whose jq condition is
//! truthy (`STAGE.NAME`), or to `STAGE._unmatched` when none is.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::kit::event::Event;
use crate::kit::jq::Program;
use crate::kit::jq::fast::Cond;
use crate::transforms::filter::test;
use crate::transforms::{BatchCtx, PortBuffers, Problem, SyncTransform, check_program};

/// The port of events no route matched.
pub const UNMATCHED: &str = "_unmatched";

/// Settings of a `route` transform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Route name → jq condition.
    pub routes: BTreeMap<String, Spanned<String>>,
}

impl RouteConfig {
    /// Route names, then `_unmatched`.
    pub fn port_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.routes.keys().cloned().collect();
        names.push(UNMATCHED.to_string());
        names
    }

    /// Checks every condition and the route names.
    pub fn validate(&self, text: &str) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.routes.is_empty() {
            out.push((
                None,
                "`routes` is empty: add e.g. routes.errors = '.level == \"error\"'".into(),
            ));
        }
        for (name, cond) in &self.routes {
            if name == UNMATCHED || name == "errors" || name.contains('.') {
                out.push((
                    Some(cond.span()),
                    format!("route name `{name}` is reserved or contains a dot; choose another"),
                ));
            }
            out.extend(check_program(text, cond));
        }
        out
    }

    /// Compiles every condition.
    pub fn build(&self) -> anyhow::Result<Route> {
        let conditions = self
            .routes
            .iter()
            .map(|(name, c)| {
                Program::compile(c.get_ref())
                    .map(Arc::new)
                    .map_err(|e| anyhow::anyhow!("route `{name}`: {}", e[0]))
            })
            .collect::<anyhow::Result<_>>()?;
        let fast = self
            .routes
            .values()
            .map(|c| Cond::compile(c.get_ref()))
            .collect();
        Ok(Route { conditions, fast })
    }
}

/// A running router.
pub struct Route {
    conditions: Vec<Arc<Program>>,
    /// Fast forms of the conditions, tried first on raw events.
    fast: Vec<Option<Cond>>,
}

impl SyncTransform for Route {
    fn process(&mut self, input: Vec<Event>, ctx: &BatchCtx<'_>, out: &mut PortBuffers) {
        let unmatched = self.conditions.len();
        let errors = unmatched + 1;
        'events: for mut event in input {
            let mut matched = false;
            for (port, cond) in self.conditions.iter().enumerate() {
                match test(cond, self.fast[port].as_ref(), &mut event) {
                    Ok(true) => {
                        out[port].push(event.clone());
                        matched = true;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        out[errors].push(event.into_error(ctx.stage, &e));
                        continue 'events;
                    }
                }
            }
            if !matched {
                out[unmatched].push(event);
            }
        }
    }
}

impl crate::transforms::TransformKind for RouteConfig {
    fn validate(&self, text: &str) -> Vec<crate::kit::limits::Problem> {
        RouteConfig::validate(self, text)
    }

    fn output_ports(&self) -> Vec<String> {
        self.port_names()
    }

    fn build(&self) -> anyhow::Result<crate::transforms::Transform> {
        use crate::transforms::Transform;
        Ok(Transform::Sync(Box::new(RouteConfig::build(self)?)))
    }

    fn describe(&self) -> String {
        format!("route {}", self.port_names().join(", "))
    }
}
