//! Where a large write spends its time: each phase's total across the write, logged once at
//! the end, so a slow fleet-wide write says which part grew.

use std::time::{Duration, Instant};

/// Time spent per named phase, in the order phases first appeared.
pub struct Phases {
    last: Instant,
    spent: Vec<(&'static str, Duration)>,
}

impl Default for Phases {
    fn default() -> Self {
        Phases {
            last: Instant::now(),
            spent: Vec::new(),
        }
    }
}

impl Phases {
    /// Adds the time since the last mark to `phase`.
    pub fn mark(&mut self, phase: &'static str) {
        let now = Instant::now();
        let took = now.saturating_duration_since(self.last);
        self.last = now;
        match self.spent.iter_mut().find(|(name, _)| *name == phase) {
            Some((_, total)) => *total = total.saturating_add(took),
            None => self.spent.push((phase, took)),
        }
    }

    /// `phase=12.3ms, …` in order.
    pub fn summary(&self) -> String {
        self.spent
            .iter()
            .map(|(name, took)| format!("{name}={:.1}ms", took.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::Phases;

    #[test]
    fn phases_are_listed_once_each_in_the_order_they_first_appeared() {
        let mut phases = Phases::default();
        phases.mark("read");
        phases.mark("write");
        phases.mark("read");
        let summary = phases.summary();
        let names: Vec<&str> = summary.split(", ").map(|p| p.split('=').next().unwrap_or("")).collect();
        assert_eq!(names, vec!["read", "write"]);
    }
}
